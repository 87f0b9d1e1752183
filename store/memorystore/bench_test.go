package memorystore_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/store/memorystore"
)

// benchLimit admits most calls (1M/s) so both the allow and deny paths are
// rare-free: the benchmark measures the store's work per decision.
var benchLimit = core.PerSecond(1_000_000)

func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "floodgate:{u:" + strconv.Itoa(100000000+i) + "}:msg"
	}
	return keys
}

// BenchmarkAllow measures Store.Take with prebuilt keys: serial and
// parallel, one hot key and 100k keys. Keys exist before timing starts, so
// allocs/op is the cost for an existing key.
func BenchmarkAllow(b *testing.B) {
	ctx := context.Background()
	for _, keys := range []struct {
		name string
		keys []string
	}{{"hotkey", benchKeys(1)}, {"100k-keys", benchKeys(100_000)}} {
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
				if _, err := s.Take(ctx, keys.keys[i%mask], benchLimit, 1); err != nil {
					b.Fatal(err)
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
					if _, err := s.Take(ctx, keys.keys[i%mask], benchLimit, 1); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkLimiterAllow is the same through core.Limiter.Allow, which also
// builds the key (one allocation).
func BenchmarkLimiterAllow(b *testing.B) {
	s := memorystore.New()
	b.Cleanup(func() { _ = s.Close() })
	lim, err := core.New(s, benchLimit)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := lim.Allow(ctx, int64(i%100_000)); err != nil {
			b.Fatal(err)
		}
	}
}
