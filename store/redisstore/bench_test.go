package redisstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/redisstore"
	"github.com/redis/go-redis/v9"
)

// benchLimit admits every call the benchmarks can make (10^6 per second,
// the most a Limit allows, burst 10^6): they measure the admitted path, the
// one that writes. BenchmarkRedis' hotkey-denied measures the denial path.
var benchLimit = core.PerSecond(1_000_000)

// benchServer starts a redis-server for one benchmark function (stopped
// when it ends) and returns a client with a pool large enough for
// RunParallel.
func benchServer(b *testing.B) *redis.Client {
	b.Helper()
	srv := testutil.StartRedis(b)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	b.Cleanup(func() { _ = client.Close() })
	return client
}

// loop runs one decision per iteration, serially or from GOMAXPROCS
// goroutines, on keys[i%len(keys)].
func loop(b *testing.B, parallel bool, keys []string, decide func(key string) error) {
	b.ReportAllocs()
	if !parallel {
		for i := 0; b.Loop(); i++ {
			if err := decide(keys[i%len(keys)]); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	var seq atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		i := int(seq.Add(7919)) // goroutines start apart in the key space
		for pb.Next() {
			i++
			if err := decide(keys[i%len(keys)]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRedis measures Store.Take, one EVALSHA of the GCRA script per
// decision, with prebuilt keys: one hot key and 100k keys, admitted; and one
// hot key on which every decision is denied (the script writes nothing).
// Compare with BenchmarkRawEvalsha, the round trip of a script that does
// nothing.
func BenchmarkRedis(b *testing.B) {
	client := benchServer(b)
	store := redisstore.New(client)
	ctx := context.Background()
	deny := core.Every(24 * time.Hour)
	denyKey := testutil.BenchKeys(1)[0] + "-denied"
	if _, err := store.Take(ctx, denyKey, deny, 1); err != nil { // loads the script too
		b.Fatal(err)
	}
	cases := []struct {
		name  string
		keys  []string
		limit core.Limit
	}{
		{"hotkey", testutil.BenchKeys(1), benchLimit},
		{"100k-keys", testutil.BenchKeys(100_000), benchLimit},
		{"hotkey-denied", []string{denyKey}, deny},
	}
	for _, mode := range []string{"serial", "parallel"} {
		for _, c := range cases {
			b.Run(mode+"/"+c.name, func(b *testing.B) {
				loop(b, mode == "parallel", c.keys, func(key string) error {
					res, err := store.Take(ctx, key, c.limit, 1)
					if err == nil && res.Allowed != (c.limit == benchLimit) {
						err = fmt.Errorf("%s: Allowed=%v under %v", key, res.Allowed, c.limit)
					}
					return err
				})
			})
		}
	}
}

// BenchmarkRawEvalsha is the floor BenchmarkRedis is measured against: one
// EVALSHA of `return 1` through go-redis' Script.Run, no keys, no arguments.
func BenchmarkRawEvalsha(b *testing.B) {
	client := benchServer(b)
	ctx := context.Background()
	script := redis.NewScript("return 1")
	if err := script.Load(ctx, client).Err(); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"serial", "parallel"} {
		b.Run(mode, func(b *testing.B) {
			loop(b, mode == "parallel", []string{""}, func(string) error {
				return script.Run(ctx, client, nil).Err()
			})
		})
	}
}

// BenchmarkLimiterAllow is a decision as a bot makes it: core.Limiter.Allow
// builds the key from a user id (one allocation), then Store.Take.
func BenchmarkLimiterAllow(b *testing.B) {
	client := benchServer(b)
	lim, err := core.New(redisstore.New(client), benchLimit)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		res, err := lim.Allow(ctx, int64(100000000+i%100_000))
		if err != nil {
			b.Fatal(err)
		}
		if !res.Allowed {
			b.Fatalf("denied under %v: %+v", benchLimit, res)
		}
	}
}

// BenchmarkPaired alternates, in one loop, a raw EVALSHA of `return 1` and
// a GCRA decision on the same connection pool, timing each, so both see the
// same machine load at the same moment; on a shared machine that is far
// steadier than comparing two separate benchmarks. It reports raw-ns/op,
// decision-ns/op and their ratio (the foundation's target: ≤ 1.2).
func BenchmarkPaired(b *testing.B) {
	client := benchServer(b)
	store := redisstore.New(client)
	ctx := context.Background()
	raw := redis.NewScript("return 1")
	if err := raw.Load(ctx, client).Err(); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		keys []string
	}{{"hotkey", testutil.BenchKeys(1)}, {"100k-keys", testutil.BenchKeys(100_000)}} {
		if _, err := store.Take(ctx, c.keys[0], benchLimit, 1); err != nil { // loads the script
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			var rawNs, decNs time.Duration
			for i := 0; b.Loop(); i++ {
				t0 := time.Now()
				if err := raw.Run(ctx, client, nil).Err(); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if _, err := store.Take(ctx, c.keys[i%len(c.keys)], benchLimit, 1); err != nil {
					b.Fatal(err)
				}
				decNs += time.Since(t1)
				rawNs += t1.Sub(t0)
			}
			b.ReportMetric(float64(rawNs)/float64(b.N), "raw-ns/op")
			b.ReportMetric(float64(decNs)/float64(b.N), "decision-ns/op")
			b.ReportMetric(float64(decNs)/float64(rawNs), "ratio")
		})
	}
}
