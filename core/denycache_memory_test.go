package core

import (
	"runtime"
	"runtime/debug"
	"strconv"
	"testing"
	"time"
)

// liveHeap returns the bytes of live heap objects after a full GC.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestDenyCacheMemoryComesBack: 20k denied keys, then 2M distinct denied
// ids (500k under the race detector, 200k under -short), all of which
// expire, then 20k new denied ids:
// the time-based sweep drops the expired entries and rebuilds the emptied
// maps, so the heap is back within 2× of the 20k baseline.
func TestDenyCacheMemoryComesBack(t *testing.T) {
	c := newDenyCache()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	limit := PerSecond(1)
	denied := Result{Limit: limit, RetryAfter: time.Second, ResetAfter: 2 * time.Second}
	note := func(prefix string, n int) {
		for i := range n {
			c.note(prefix+strconv.Itoa(i), denied, 1, now)
		}
	}
	heap0 := liveHeap()
	note("floodgate:{u:1", 20_000)
	baseline := liveHeap()

	flood := 2_000_000
	switch {
	case testing.Short():
		flood = 200_000
	case raceEnabled:
		flood = 500_000
	}
	gc := debug.SetGCPercent(-1) // no collection marking the growing map over and over
	note("floodgate:{u:2", flood)
	debug.SetGCPercent(gc)
	peak := liveHeap()
	if n := c.entries.len(); n < flood {
		t.Fatalf("%d entries after the flood, want at least %d", n, flood)
	}

	now = now.Add(time.Minute) // every denial has ended
	note("floodgate:{u:3", 20_000)
	after := liveHeap()
	if n := c.entries.len(); n > 2*20_000 {
		t.Fatalf("%d entries held after the flood ended, want at most 40000", n)
	}
	mb := func(b uint64) float64 { return float64(b) / (1 << 20) }
	t.Logf("deny cache: heap %.1f MB empty, %.1f MB with 20k denials (baseline), %.1f MB after %d denied ids, "+
		"%.1f MB after all expired and 20k new denials (%.2f× the baseline)",
		mb(heap0), mb(baseline), mb(peak), flood, mb(after), float64(after)/float64(baseline))
	if after > 2*baseline {
		t.Fatalf("heap %.1f MB after the flood ended, more than twice the %.1f MB baseline", mb(after), mb(baseline))
	}
}

// TestDenyCacheSweepsByTime: entries that ended go at the next access
// once sweepEvery has passed, though no shard reached its sweep size.
func TestDenyCacheSweepsByTime(t *testing.T) {
	t.Parallel()
	c := newDenyCache()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	denied := Result{Limit: PerSecond(1), RetryAfter: time.Second, ResetAfter: time.Second}
	for i := range 500 { // well under 16 shards × 1024: no size-triggered sweep
		c.note("k"+strconv.Itoa(i), denied, 1, now)
	}
	c.note("live", Result{Limit: PerSecond(1), RetryAfter: time.Hour, ResetAfter: time.Hour}, 1, now)
	now = now.Add(sweepEvery)
	for i := range c.entries.shards { // one access per shard
		for k := 0; ; k++ {
			key := "probe" + strconv.Itoa(k)
			if c.entries.shard(key) == &c.entries.shards[i] {
				c.check(key, PerSecond(1), 1, now)
				break
			}
		}
	}
	if n := c.entries.len(); n != 1 {
		t.Fatalf("%d entries after sweepEvery, want the 1 live one", n)
	}
	if _, ok := c.check("live", PerSecond(1), 1, now); !ok {
		t.Fatal("the live denial was swept")
	}
}
