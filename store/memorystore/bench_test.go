package memorystore_test

import (
	"context"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
)

// benchLimit admits every call a benchmark makes: 10^6/s with a burst of
// 10^9 (a tolerance of 1000 s), so even a hot key at tens of millions of
// calls a second stays on the admitted path, the one that writes.
var benchLimit = core.Limit{Rate: 1_000_000, Period: time.Second, Burst: 1_000_000_000}

// BenchmarkAllow measures Store.Take with prebuilt keys: serial and
// parallel, one hot key and 100k keys. Keys exist before timing starts, so
// allocs/op is the cost for an existing key.
func BenchmarkAllow(b *testing.B) {
	ctx := context.Background()
	for _, keys := range []struct {
		name string
		keys []string
	}{{"hotkey", testutil.BenchKeys(1)}, {"100k-keys", testutil.BenchKeys(100_000)}} {
		s := memorystore.New()
		b.Cleanup(func() { _ = s.Close() })
		for _, k := range keys.keys {
			if _, err := s.Take(ctx, k, benchLimit, 1); err != nil {
				b.Fatal(err)
			}
		}
		mask := len(keys.keys)
		b.Run("serial/"+keys.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if r, err := s.Take(ctx, keys.keys[i%mask], benchLimit, 1); err != nil || !r.Allowed {
					b.Fatal(r, err)
				}
			}
		})
		b.Run("parallel/"+keys.name, func(b *testing.B) {
			b.ReportAllocs()
			var seq atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				i := int(seq.Add(7919))
				for pb.Next() {
					i++
					if r, err := s.Take(ctx, keys.keys[i%mask], benchLimit, 1); err != nil || !r.Allowed {
						b.Error(r, err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkLimiterTake is the same through core.Limiter.Take, which also
// builds the key (one allocation).
func BenchmarkLimiterTake(b *testing.B) {
	s := memorystore.New()
	b.Cleanup(func() { _ = s.Close() })
	lim, err := core.New(s, benchLimit)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := lim.Take(ctx, core.User(int64(i%100_000)), 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIdleKeys reports the heap one idle key holds (B/key): 1M keys,
// each built as the Limiter builds it (so the store keeps the string), then
// a GC. Run it with -benchtime=1x; it takes a few seconds.
func BenchmarkIdleKeys(b *testing.B) {
	const n = 1_000_000
	ctx := context.Background()
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s := memorystore.New()
		for i := range n {
			if _, err := s.Take(ctx, "floodgate:{u:"+strconv.Itoa(100000000+i)+"}:msg", benchLimit, 1); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/key")
		runtime.KeepAlive(s)
		_ = s.Close()
	}
}
