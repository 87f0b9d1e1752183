package bench

import (
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/redis/go-redis/v9"
)

// The limit every contender gets in the throughput benchmarks: a refill of
// 10^6 events per second (the most a core.Limit allows) and a burst of 10^9.
// No loop on this machine makes 10^9 decisions on one key within a run, so
// every decision is admitted for every contender, hot key included, and each
// does the same work: read the key's state and write it back. A benchmark
// fails if any decision is denied, so none measures its cheaper denial path
// (or a failure) by accident. Libraries without a burst (ulule: a fixed
// window) get the same average: 10^9 per 1000 s.
const (
	benchRate  = 1_000_000     // events per second
	benchBurst = 1_000_000_000 // events at once
)

var (
	// benchWindow is the period over which benchBurst refills: 1000 s.
	benchWindow = benchBurst / benchRate * time.Second
	fgLimit     = core.Limit{Rate: benchRate, Period: time.Second, Burst: benchBurst}
)

// Key sets. Every contender's key, as its store finally holds it, is 27
// bytes, "xxxxxxxxx:{u:100000000}:msg" like floodgate's own, so no one pays
// for a longer key: keyPrefix is chosen per contender to make that so.
const (
	hotKeys   = 1
	manyKeys  = 100_000
	firstUser = 100_000_000
)

// keysName is the keys= part of a benchmark name.
func keysName(n int) string {
	if n == manyKeys {
		return "100k"
	}
	return strconv.Itoa(n)
}

// userIDs returns n Telegram-like user ids.
func userIDs(n int) []int64 {
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = int64(firstUser + i)
	}
	return ids
}

// keys returns n keys prefix + "{u:<id>}:msg", built before any timing.
func keys(prefix string, n int) []string {
	ks := make([]string, n)
	for i, id := range userIDs(n) {
		ks[i] = key(prefix, id)
	}
	return ks
}

// key builds one key in a single allocation, as a caller would per update.
func key(prefix string, id int64) string {
	var buf [48]byte
	b := append(buf[:0], prefix...)
	b = append(b, "{u:"...)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, "}:msg"...)
	return string(b)
}

// decideFunc makes one decision on the contender's i-th key and reports
// whether it was admitted. Every contender is called through the same
// indirect call, so that overhead (a few ns) is the same for all.
type decideFunc func(i int) (allowed bool, err error)

// shape is how a benchmark calls a contender.
type shape struct {
	name string
	// perProc is the b.SetParallelism factor; 0 means a serial loop.
	perProc int
}

// callers is the concurrency of the c64 shape.
const callers = 64

// shapes: serial (one goroutine), parallel (b.RunParallel with GOMAXPROCS
// goroutines) and c64 (64 goroutines: GOMAXPROCS × SetParallelism(64 /
// GOMAXPROCS), rounded up when GOMAXPROCS does not divide 64).
func shapes() []shape {
	procs := runtime.GOMAXPROCS(0)
	return []shape{
		{"serial", 0},
		{"parallel", 1},
		{"c64", (callers + procs - 1) / procs},
	}
}

// callers returns how many goroutines call in the shape.
func (sh shape) callers() int {
	if sh.perProc == 0 {
		return 1
	}
	return sh.perProc * runtime.GOMAXPROCS(0)
}

// run times decide over n keys in the given shape, reports decisions/s and
// allocations, and fails unless every decision was made and admitted.
// Serial loops walk the keys round-robin; each parallel goroutine walks
// them round-robin from its own starting point.
func run(b *testing.B, sh shape, n int, decide decideFunc) {
	b.ReportAllocs()
	var allowed atomic.Int64
	if sh.perProc == 0 {
		ok, i := int64(0), 0
		b.ResetTimer()
		for range b.N {
			a, err := decide(i)
			if err != nil {
				b.Fatal(err)
			}
			if a {
				ok++
			}
			if i++; i == n {
				i = 0
			}
		}
		b.StopTimer()
		allowed.Store(ok)
	} else {
		var seq atomic.Int64
		b.SetParallelism(sh.perProc)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := int(seq.Add(1)*7919) % n // goroutines start apart in the key space
			ok := int64(0)
			for pb.Next() {
				a, err := decide(i)
				if err != nil {
					b.Error(err)
					break
				}
				if a {
					ok++
				}
				if i++; i == n {
					i = 0
				}
			}
			allowed.Add(ok)
		})
		b.StopTimer()
	}
	if got := allowed.Load(); got != int64(b.N) {
		b.Fatalf("%d of %d decisions admitted; every one should be under %d/s burst %d", got, b.N, benchRate, benchBurst)
	}
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "decisions/s")
	}
}

// redisAddr returns the Redis server every Redis contender of one benchmark
// uses: FLOODGATE_BENCH_REDIS (host:port) when set, as `make bench` does,
// otherwise a fresh redis-server started for this benchmark function.
func redisAddr(b *testing.B) string {
	b.Helper()
	if addr := os.Getenv("FLOODGATE_BENCH_REDIS"); addr != "" {
		return addr
	}
	return testutil.StartRedis(b).Addr
}

// newClient returns a go-redis client with the library's default options
// (PoolSize 10 × GOMAXPROCS and so on), the same for every contender, and
// checks that the server answers. db selects a database.
func newClient(b *testing.B, addr string, db int) *redis.Client {
	b.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, DB: db})
	b.Cleanup(func() { _ = c.Close() })
	if err := c.Ping(b.Context()).Err(); err != nil {
		b.Fatalf("redis at %s: %v", addr, err)
	}
	return c
}
