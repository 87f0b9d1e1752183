package bench

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/store/memorystore"
	svmemory "github.com/sethvargo/go-limiter/memorystore"
	"github.com/ulule/limiter/v3"
	ulmemory "github.com/ulule/limiter/v3/drivers/store/memory"
	"golang.org/x/time/rate"
)

// xrateMap is the common pattern around golang.org/x/time/rate: one
// *rate.Limiter per key in a map behind a mutex, created on first use and
// never evicted. Allow runs outside the map's lock (rate.Limiter has its
// own).
type xrateMap struct {
	mu    sync.Mutex
	m     map[string]*rate.Limiter
	limit rate.Limit
	burst int
}

func newXrateMap(limit rate.Limit, burst int) *xrateMap {
	return &xrateMap{m: map[string]*rate.Limiter{}, limit: limit, burst: burst}
}

func (x *xrateMap) allow(key string) bool {
	x.mu.Lock()
	l, ok := x.m[key]
	if !ok {
		l = rate.NewLimiter(x.limit, x.burst)
		x.m[key] = l
	}
	x.mu.Unlock()
	return l.Allow()
}

// memoryContender builds a fresh in-process limiter and returns its
// decision function over n keys and a function that releases it.
type memoryContender struct {
	name  string
	build func(b *testing.B, n int) (decideFunc, func())
}

func memoryContenders() []memoryContender {
	ctx := context.Background()
	return []memoryContender{
		{"floodgate", func(b *testing.B, n int) (decideFunc, func()) {
			st, ks := memorystore.New(), keys("floodgate:", n)
			return func(i int) (bool, error) {
				res, err := st.Take(ctx, ks[i], fgLimit, 1)
				return res.Allowed, err
			}, func() { _ = st.Close() }
		}},
		{"floodgate-limiter", func(b *testing.B, n int) (decideFunc, func()) {
			// core.Limiter over the bare memory store (not wrapped in
			// core.Resilient: no timeout, breaker or deny cache); it builds
			// the key from the user id on each call.
			st := memorystore.New()
			lim, err := core.New(st, fgLimit)
			if err != nil {
				b.Fatal(err)
			}
			ids := userIDs(n)
			return func(i int) (bool, error) {
				res, err := lim.Take(ctx, core.User(ids[i]), 1)
				return res.Allowed, err
			}, func() { _ = st.Close() }
		}},
		{"sethvargo", func(b *testing.B, n int) (decideFunc, func()) {
			st, err := svmemory.New(&svmemory.Config{Tokens: benchBurst, Interval: benchWindow})
			if err != nil {
				b.Fatal(err)
			}
			ks := keys("sethvargo:", n)
			return func(i int) (bool, error) {
				_, _, _, ok, err := st.Take(ctx, ks[i])
				return ok, err
			}, func() { _ = st.Close(ctx) }
		}},
		{"ulule", func(b *testing.B, n int) (decideFunc, func()) {
			st := ulmemory.NewStoreWithOptions(limiter.StoreOptions{Prefix: "ulule", CleanUpInterval: limiter.DefaultCleanUpInterval})
			lim, ks := limiter.New(st, limiter.Rate{Period: benchWindow, Limit: benchBurst}), keys("lim:", n)
			return func(i int) (bool, error) {
				res, err := lim.Get(ctx, ks[i])
				return err == nil && !res.Reached, err
			}, func() {}
		}},
		{"xrate-map", func(b *testing.B, n int) (decideFunc, func()) {
			m, ks := newXrateMap(benchRate, benchBurst), keys("xtimerate:", n)
			return func(i int) (bool, error) { return m.allow(ks[i]), nil }, func() {}
		}},
	}
}

// BenchmarkMemory runs every in-process contender in every shape, on one
// hot key and on 100k keys. Each run gets a fresh store in which every key
// already exists (one decision each before timing), so it measures the
// steady state, not the first insertion.
func BenchmarkMemory(b *testing.B) {
	for _, sh := range shapes() {
		for _, n := range []int{hotKeys, manyKeys} {
			for _, c := range memoryContenders() {
				decide, release := c.build(b, n)
				for i := range n {
					if ok, err := decide(i); err != nil || !ok {
						b.Fatalf("%s: warm-up decision %d: allowed=%v err=%v", c.name, i, ok, err)
					}
				}
				b.Run(fmt.Sprintf("contender=%s/shape=%s/keys=%s", c.name, sh.name, keysName(n)), func(b *testing.B) {
					run(b, sh, n, decide)
				})
				release()
			}
		}
	}
}

// memPerKeyKeys is how many keys BenchmarkMemoryPerKey inserts.
const memPerKeyKeys = 1_000_000

// BenchmarkMemoryPerKey reports the heap each in-process store holds per
// idle key (B/key) after one decision on each of 1M keys, under a limit
// real bots use (20 per minute). Each key is built by the caller just
// before its decision (27 bytes, as in a bot, which builds it per update)
// and dropped after, so B/key counts the key text wherever the store keeps
// it. Each iteration measures 1M fresh keys in a fresh store; b.N is
// usually 1 or 2.
func BenchmarkMemoryPerKey(b *testing.B) {
	ctx := context.Background()
	type insertFunc func(id int64) bool
	contenders := []struct {
		name  string
		build func(b *testing.B) (insertFunc, any)
	}{
		{"floodgate", func(b *testing.B) (insertFunc, any) {
			st, l := memorystore.New(), core.PerMinute(20)
			b.Cleanup(func() { _ = st.Close() })
			return func(id int64) bool {
				res, err := st.Take(ctx, key("floodgate:", id), l, 1)
				return err == nil && res.Allowed
			}, st
		}},
		{"sethvargo", func(b *testing.B) (insertFunc, any) {
			st, err := svmemory.New(&svmemory.Config{Tokens: 20, Interval: time.Minute})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = st.Close(ctx) })
			return func(id int64) bool {
				_, _, _, ok, err := st.Take(ctx, key("sethvargo:", id))
				return err == nil && ok
			}, st
		}},
		{"ulule", func(b *testing.B) (insertFunc, any) {
			st := ulmemory.NewStoreWithOptions(limiter.StoreOptions{Prefix: "ulule", CleanUpInterval: limiter.DefaultCleanUpInterval})
			lim := limiter.New(st, limiter.Rate{Period: time.Minute, Limit: 20})
			return func(id int64) bool {
				res, err := lim.Get(ctx, key("lim:", id))
				return err == nil && !res.Reached
			}, lim
		}},
		{"xrate-map", func(b *testing.B) (insertFunc, any) {
			m := newXrateMap(rate.Every(3*time.Second), 20)
			return func(id int64) bool { return m.allow(key("xtimerate:", id)) }, m
		}},
	}
	for _, c := range contenders {
		b.Run("contender="+c.name, func(b *testing.B) {
			var total float64
			for range b.N {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				// No collection while inserting (it would take most of the
				// time); the one below frees the garbage before reading.
				gc := debug.SetGCPercent(-1)
				insert, store := c.build(b)
				for i := range memPerKeyKeys {
					if !insert(int64(firstUser + i)) {
						debug.SetGCPercent(gc)
						b.Fatalf("user %d denied on its first decision", firstUser+i)
					}
				}
				debug.SetGCPercent(gc)
				runtime.GC()
				runtime.ReadMemStats(&after)
				runtime.KeepAlive(store)
				total += float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / memPerKeyKeys
			}
			b.ReportMetric(total/float64(b.N), "B/key")
		})
	}
}
