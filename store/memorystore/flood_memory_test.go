package memorystore

import (
	"context"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
)

// liveHeap returns the bytes of live heap objects after a full GC.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC() // the second cycle frees what the first one's finalizers released
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// floodSize is how many distinct keys a flood brings: 2M as in the issue;
// 500k under the race detector (2M take a minute of both CPUs there,
// which starves the timing tests of other packages); 200k under -short.
// Each is far above the size a shard map is rebuilt at.
func floodSize() int {
	switch {
	case testing.Short():
		return 200_000
	case raceEnabled:
		return 500_000
	}
	return 2_000_000
}

// TestMemoryComesBackAfterFlood: 20k live keys, then a flood of distinct
// ids (half of them decisions, half penalty blocks, which live in the
// store as well), all of which expire, then 20k new ids: the heap is back
// within 2× of what the 20k live keys cost before the flood.
func TestMemoryComesBackAfterFlood(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro())
	clock := func() time.Time { return time.UnixMicro(now.Load()) }
	s := New(WithClock(clock), WithCleanupInterval(0), WithMaxKeys(0))
	defer s.Close()
	ctx := context.Background()
	limit := core.PerSecond(1)
	take := func(prefix string, n int) {
		for i := range n {
			if _, err := s.Take(ctx, prefix+strconv.Itoa(i), limit, 1); err != nil {
				t.Error(err)
				return
			}
		}
	}
	heap0 := liveHeap()
	take("floodgate:{u:1", 20_000)
	baseline := liveHeap()

	flood := floodSize()
	// No collection while the flood allocates: it would only mark the
	// growing index over and over (minutes under -race).
	gc := debug.SetGCPercent(-1)
	var wg sync.WaitGroup
	wg.Go(func() { take("floodgate:{u:2", flood/2) })
	wg.Go(func() {
		for i := range flood / 2 {
			if err := s.Block(ctx, "floodgate:{u:3"+strconv.Itoa(i), limit, time.Minute); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	debug.SetGCPercent(gc)
	peak := liveHeap()
	if s.Len() != 20_000+flood {
		t.Fatalf("Len = %d after the flood, want %d", s.Len(), 20_000+flood)
	}

	now.Add((time.Minute + DefaultGrace + time.Second).Microseconds()) // every key has expired
	s.sweep()
	take("floodgate:{u:4", 20_000)
	after := liveHeap()
	if s.Len() != 20_000 {
		t.Fatalf("Len = %d, want the 20000 new keys", s.Len())
	}
	mb := func(b uint64) float64 { return float64(b) / (1 << 20) }
	t.Logf("memorystore: heap %.1f MB empty, %.1f MB with 20k keys (baseline), %.1f MB after %d keys (%d decisions, "+
		"%d penalty blocks), %.1f MB after all expired and 20k new keys (%.2f× the baseline)",
		mb(heap0), mb(baseline), mb(peak), flood, flood/2, flood/2, mb(after), float64(after)/float64(baseline))
	if after > 2*baseline {
		t.Fatalf("heap %.1f MB after the flood expired, more than twice the %.1f MB baseline", mb(after), mb(baseline))
	}
}

// TestDefaultCapStopsAFlood: with the default cap, a flood of fresh ids
// stops at DefaultMaxKeys keys; ids beyond are denied, not stored.
func TestDefaultCapStopsAFlood(t *testing.T) {
	frozen := func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }
	s := New(WithClock(frozen), WithCleanupInterval(0))
	defer s.Close()
	if s.Cap() != DefaultMaxKeys {
		t.Fatalf("Cap = %d, want DefaultMaxKeys", s.Cap())
	}
	if u := New(WithMaxKeys(0), WithCleanupInterval(0)); u.Cap() != 0 {
		t.Fatalf("WithMaxKeys(0): Cap = %d, want 0 (no cap)", u.Cap())
	}
	if testing.Short() || raceEnabled {
		return // filling a million keys takes seconds there; the cap itself is TestMaxKeys'
	}
	ctx := context.Background()
	denied := 0
	for i := range DefaultMaxKeys + 1000 {
		res, err := s.Take(ctx, "k"+strconv.Itoa(i), core.PerSecond(1), 1)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Allowed {
			denied++
		}
	}
	if s.Len() != DefaultMaxKeys || denied != 1000 {
		t.Fatalf("Len %d, %d denied; want %d and 1000", s.Len(), denied, DefaultMaxKeys)
	}
}

// TestCompactionLosesNoDecision: decisions on a live key race with a sweep
// that rebuilds every shard's map (each emptied of a thousand expired
// keys): the key's burst is spent exactly once, and it stays indexed.
func TestCompactionLosesNoDecision(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro())
	s := New(WithClock(func() time.Time { return time.UnixMicro(now.Load()) }), WithCleanupInterval(0), WithMaxKeys(0))
	defer s.Close()
	ctx := context.Background()
	for i := range numShards * 1000 {
		if _, err := s.Take(ctx, "old"+strconv.Itoa(i), core.PerSecond(1), 1); err != nil {
			t.Fatal(err)
		}
	}
	now.Add((2 * time.Minute).Microseconds()) // every old key has expired
	limit := core.Limit{Rate: 100, Period: time.Hour, Burst: 100}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				res, err := s.Take(ctx, "live", limit, 1)
				if err != nil {
					t.Error(err)
					return
				}
				if res.Allowed {
					allowed.Add(1)
				}
			}
		})
	}
	s.sweep()
	wg.Wait()
	if allowed.Load() != 100 {
		t.Fatalf("%d of 400 decisions allowed under a burst of 100, racing with the compaction", allowed.Load())
	}
	if s.Len() != 1 {
		t.Fatalf("Len = %d after the sweep, want the live key only", s.Len())
	}
	if _, ok := s.shard("live").items.Get("live"); !ok {
		t.Fatal("the live key is no longer indexed after the compaction")
	}
	if p := s.shard("live").items.peak; p > 4 {
		t.Fatalf("the live key's shard was not rebuilt: peak %d", p)
	}
}
