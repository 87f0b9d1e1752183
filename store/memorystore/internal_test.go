package memorystore

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
)

// An entry lives until the store clock passes its TAT by the grace, and not
// a microsecond less: before that, forgetting it could change a decision.
func TestEvictionFollowsTAT(t *testing.T) {
	ctx := context.Background()
	clock := testutil.NewClock()
	s := New(WithClock(clock.Now), WithGrace(2*time.Second), WithCleanupInterval(0))
	defer s.Close()
	l := core.Limit{Rate: 3, Period: time.Hour, Burst: 3} // interval 20 min
	for range 2 {
		if _, err := s.Take(ctx, "k", l, 1); err != nil {
			t.Fatal(err)
		}
	}
	// TAT = now + 40 min; the entry may go at TAT + 2s.
	clock.Advance(40*time.Minute + 2*time.Second - time.Microsecond)
	s.sweep()
	if s.Len() != 1 {
		t.Fatal("evicted before TAT + grace")
	}
	clock.Advance(time.Microsecond)
	s.sweep()
	if s.Len() != 0 {
		t.Fatal("not evicted at TAT + grace")
	}
	if _, ok := s.shard("k").items.Get("k"); ok {
		t.Fatal("Len says 0 but the key is still indexed")
	}
}

// A decision that meets an entry the janitor has retired, but not yet
// deleted, starts over under the shard lock on a fresh entry: the key
// counts once in Len, and the dead entry is left alone by the janitor.
func TestDecisionOnRetiredEntry(t *testing.T) {
	ctx := context.Background()
	clock := testutil.NewClock()
	s := New(WithClock(clock.Now), WithCleanupInterval(0))
	defer s.Close()
	l := core.PerMinute(10)
	if _, err := s.Take(ctx, "k", l, 3); err != nil {
		t.Fatal(err)
	}
	v, _ := s.shard("k").items.Get("k")
	old := v.(*gcraEntry)
	if !old.retire(math.MaxInt64) {
		t.Fatal("retire of a live entry failed")
	}
	r, err := s.Take(ctx, "k", l, 1)
	if err != nil || !r.Allowed || r.Remaining != 9 {
		t.Fatalf("Take on a retired entry: %+v %v, want a fresh bucket (9 left)", r, err)
	}
	if v, _ := s.shard("k").items.Get("k"); v == old {
		t.Fatal("dead entry still indexed")
	}
	if s.Len() != 1 {
		t.Fatalf("Len = %d, want 1", s.Len())
	}
	s.sweep() // the new entry is not idle: nothing to do
	if p, _ := s.Peek(ctx, "k", l); p.Remaining != 8 || s.Len() != 1 {
		t.Fatalf("after a sweep: Peek %+v, Len %d", p, s.Len())
	}
}

// Decisions racing with the janitor on an idle key are all recorded: on a
// frozen clock exactly Burst pass, however the retire, the delete and the
// swaps interleave. A swap landing on a retired entry would let a fresh
// entry admit a second burst.
func TestSweepRace(t *testing.T) {
	ctx := context.Background()
	clock := testutil.NewClock()
	s := New(WithClock(clock.Now), WithGrace(time.Second), WithCleanupInterval(0))
	defer s.Close()
	l := core.PerSecond(3)
	for round := range 2000 {
		if _, err := s.Take(ctx, "k", l, 1); err != nil {
			t.Fatal(err)
		}
		clock.Advance(2 * time.Second) // idle for longer than the grace
		var admitted atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Go(func() { <-start; s.sweep() })
		for range 8 {
			wg.Go(func() {
				<-start
				for range 2 {
					if r, err := s.Take(ctx, "k", l, 1); err == nil && r.Allowed {
						admitted.Add(1)
					}
				}
			})
		}
		close(start)
		wg.Wait()
		if got := admitted.Load(); got != 3 {
			t.Fatalf("round %d: %d admitted, want exactly the burst (3)", round, got)
		}
		if s.Len() != 1 {
			t.Fatalf("round %d: Len = %d, want 1", round, s.Len())
		}
		clock.Advance(2 * time.Second)
	}
}

// Reset racing with decisions: a decision either lands before the Reset
// (and is forgotten with it) or starts over on the key's next entry, and Len
// stays the number of indexed keys.
func TestResetRace(t *testing.T) {
	ctx := context.Background()
	clock := testutil.NewClock()
	s := New(WithClock(clock.Now), WithCleanupInterval(0))
	defer s.Close()
	l := core.PerMinute(5)
	for round := range 300 {
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() { _, _ = s.Take(ctx, "k", l, 1) })
		}
		wg.Go(func() { _ = s.Reset(ctx, "k") })
		wg.Wait()
		// What survived the Reset is on the indexed entry, and Len counts
		// that entry alone.
		v, ok := s.shard("k").items.Get("k")
		used := 0
		if ok {
			used = int((v.(*gcraEntry).tat.Load() - clock.Now().UnixMicro()) / 12e6) // interval 12s
		}
		if p, _ := s.Peek(ctx, "k", l); used > 4 || p.Remaining != max(4-used, 0) {
			t.Fatalf("round %d: %d decisions on the indexed entry, Peek says %d left", round, used, p.Remaining)
		}
		if want := map[bool]int{true: 1, false: 0}[ok]; s.Len() != want {
			t.Fatalf("round %d: Len = %d with the key indexed = %v", round, s.Len(), ok)
		}
		_ = s.Reset(ctx, "k")
	}
}

// WithMaxKeys is exact under concurrency: never one key more than the cap,
// and every key refused is a denial.
func TestMaxKeysExact(t *testing.T) {
	ctx := context.Background()
	s := New(WithMaxKeys(100), WithCleanupInterval(0))
	defer s.Close()
	keys := testutil.BenchKeys(1000)
	var added atomic.Int64
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := g; i < len(keys); i += 16 {
				r, err := s.Take(ctx, keys[i], core.PerSecond(1), 1)
				if err != nil {
					t.Error(err)
					return
				}
				if r.Allowed {
					added.Add(1)
				}
			}
		})
	}
	wg.Wait()
	n := 0
	for i := range s.shards {
		n += s.shards[i].items.ItemCount()
	}
	if added.Load() != 100 || s.Len() != 100 || n != 100 {
		t.Fatalf("added %d, Len %d, indexed %d; want 100 each", added.Load(), s.Len(), n)
	}
}

// A window key lives until its newest event has left the window by the
// grace; a lane decision on an entry retired meanwhile starts over on a
// fresh one; and a key that changes algorithm starts from scratch.
func TestWindowEntries(t *testing.T) {
	ctx := context.Background()
	clock := testutil.NewClock()
	s := New(WithClock(clock.Now), WithGrace(time.Second), WithCleanupInterval(0))
	defer s.Close()
	l := core.Window(2, time.Minute)
	lanes := []core.Lane{{Key: "g", Limit: l}, {Key: "c", Limit: l}}
	if res, err := s.TakeAll(ctx, lanes, 2); err != nil || !res.Allowed {
		t.Fatalf("TakeAll = %+v, %v", res, err)
	}
	clock.Advance(time.Minute + time.Second - time.Microsecond)
	s.sweep()
	if s.Len() != 2 {
		t.Fatalf("Len %d after an early sweep, want 2", s.Len())
	}
	if res, _ := s.Take(ctx, "g", l, 1); res.Allowed {
		// The events left the window a second ago, so this is admitted;
		// denying it would mean the entry's times were lost or wrong.
	} else {
		t.Fatalf("window still full a minute later: %+v", res)
	}
	v, _ := s.shard("c").items.Get("c")
	if !v.(entry).retire(math.MaxInt64) {
		t.Fatal("retire of a live window failed")
	}
	if res, err := s.TakeAll(ctx, lanes, 1); err != nil || !res.Allowed || res.Remaining != 0 {
		t.Fatalf("TakeAll after a retire = %+v, %v; want admitted with g's one slot left used", res, err)
	}
	if v2, _ := s.shard("c").items.Get("c"); v2 == v {
		t.Fatal("the retired entry was decided on")
	}
	if res, _ := s.Take(ctx, "g", core.PerMinute(1), 1); !res.Allowed {
		t.Fatalf("GCRA on a key that held a window: %+v, want a fresh key", res)
	}
	clock.Advance(2 * time.Minute)
	s.sweep()
	if s.Len() != 0 {
		t.Fatalf("Len %d after every key went idle, want 0", s.Len())
	}
}

// A Block that meets an entry the janitor (or a Reset) has retired, but
// not yet deleted, blocks a fresh entry under the shard lock and leaves the
// dead one dead: a block written onto a dead entry would be deleted with
// it, or orphaned, and lost. This is the interleaving TestBlockRace can
// only hope to hit.
func TestBlockOnRetiredEntry(t *testing.T) {
	ctx := context.Background()
	clock := testutil.NewClock()
	s := New(WithClock(clock.Now), WithGrace(time.Second), WithCleanupInterval(0))
	defer s.Close()
	l := core.PerSecond(4) // interval 250ms
	if _, err := s.Take(ctx, "k", l, 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Second)
	v, _ := s.shard("k").items.Get("k")
	old := v.(*gcraEntry)
	if !old.retire(clock.Now().UnixMicro() - time.Second.Microseconds()) {
		t.Fatal("the janitor's retire of an idle entry failed")
	}
	if err := s.Block(ctx, "k", l, time.Hour); err != nil {
		t.Fatal(err)
	}
	if old.tat.Load() != dead {
		t.Fatal("Block revived a retired entry")
	}
	s.sweep() // deletes the retired entry if it is still indexed: it must not be
	if p, _ := s.Peek(ctx, "k", l); p.RetryAfter != time.Hour || s.Len() != 1 {
		t.Fatalf("after Block on a retired entry and a sweep: Peek %+v, Len %d; want blocked for 1h, 1 key", p, s.Len())
	}
}

// Block racing with decisions and the janitor on an idle key lands whole:
// on a frozen clock the key ends blocked for exactly d, whatever the order
// of the swaps, the retire and the delete. A block written to an entry the
// janitor had retired, or overwritten by a decision that read the key
// before it, would be lost. With a Reset in the race the key ends either
// blocked or holding only decisions made after the Reset, and Len always
// counts the indexed entries.
func TestBlockRace(t *testing.T) {
	ctx := context.Background()
	clock := testutil.NewClock()
	s := New(WithClock(clock.Now), WithGrace(time.Second), WithCleanupInterval(0))
	defer s.Close()
	l := core.PerSecond(4) // interval 250ms
	const d = time.Hour
	blockedTAT := func() int64 { return clock.Now().UnixMicro() + d.Microseconds() + 3*250_000 }
	n := 2000
	if testing.Short() {
		n = 200
	}
	for round := range n {
		withReset := round%2 == 1
		if _, err := s.Take(ctx, "k", l, 1); err != nil {
			t.Fatal(err)
		}
		clock.Advance(2 * time.Second) // idle for longer than the grace: the sweep may retire it
		var admitted atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Go(func() { <-start; s.sweep() })
		wg.Go(func() {
			<-start
			if err := s.Block(ctx, "k", l, d); err != nil {
				t.Error(err)
			}
		})
		if withReset {
			wg.Go(func() { <-start; _ = s.Reset(ctx, "k") })
		}
		for range 4 {
			wg.Go(func() {
				<-start
				for range 2 {
					if r, err := s.Take(ctx, "k", l, 1); err == nil && r.Allowed {
						admitted.Add(1)
					}
				}
			})
		}
		close(start)
		wg.Wait()

		v, indexed := s.shard("k").items.Get("k")
		if want := map[bool]int{true: 1, false: 0}[indexed]; s.Len() != want {
			t.Fatalf("round %d: Len = %d with the key indexed = %v", round, s.Len(), indexed)
		}
		var tat int64
		if indexed {
			tat = v.(*gcraEntry).tat.Load()
		}
		now := clock.Now().UnixMicro()
		switch {
		case tat == blockedTAT():
		case !withReset:
			t.Fatalf("round %d: TAT %d, want the block's %d (%d admitted)", round, tat, blockedTAT(), admitted.Load())
		case tat == dead || tat != 0 && (tat < now || tat > now+4*250_000 || (tat-now)%250_000 != 0):
			t.Fatalf("round %d: TAT now%+dµs is neither the block nor up to 4 decisions after a Reset", round, tat-now)
		}
		if got := admitted.Load(); got > 4+map[bool]int64{true: 4, false: 0}[withReset] {
			t.Fatalf("round %d: %d admitted", round, got)
		}
		_ = s.Reset(ctx, "k")
		clock.Advance(2 * time.Second)
	}
}

// A TakeAll denied by one lane leaves no entry for a lane it had to index:
// a denial records nothing, and an empty entry would count against
// WithMaxKeys until the next sweep.
func TestTakeAllDenialLeavesNoEntry(t *testing.T) {
	ctx := context.Background()
	clock := testutil.NewClock()
	s := New(WithClock(clock.Now), WithCleanupInterval(0))
	defer s.Close()
	l := core.Window(1, time.Minute)
	if r, err := s.Take(ctx, "busy", l, 1); err != nil || !r.Allowed {
		t.Fatalf("Take: %+v %v", r, err)
	}
	for range 3 {
		r, err := s.TakeAll(ctx, []core.Lane{{Key: "new", Limit: l}, {Key: "busy", Limit: l}}, 1)
		if err != nil || r.Allowed {
			t.Fatalf("TakeAll over a full lane: %+v %v, want denied", r, err)
		}
		if _, ok := s.shard("new").items.Get("new"); ok || s.Len() != 1 {
			t.Fatalf("after a denied TakeAll: %q indexed = %v, Len %d; want only \"busy\"", "new", ok, s.Len())
		}
	}
}
