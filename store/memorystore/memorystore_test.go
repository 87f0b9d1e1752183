package memorystore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
	"github.com/floodgate-go/floodgate/store/storetest"
)

// Every store a test opens is closed by t.Cleanup, so no janitor survives.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newSuiteStore is the store every storetest case and the penalty suite
// get: a fresh one on the case's clock.
func newSuiteStore(t *testing.T, now func() time.Time) core.Store {
	s := memorystore.New(memorystore.WithClock(now))
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.RunWith(t, newSuiteStore, storetest.Options{TTL: memorystore.TTL})
}

func newStore(t *testing.T, opts ...memorystore.Option) *memorystore.Store {
	t.Helper()
	s := memorystore.New(opts...)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestJanitorEvictsIdleKeys(t *testing.T) {
	t.Parallel()
	s := newStore(t, memorystore.WithGrace(time.Second), memorystore.WithCleanupInterval(20*time.Millisecond))
	ctx := context.Background()
	l := core.Every(10 * time.Millisecond)
	for _, k := range []string{"a", "b", "c"} {
		if r, err := s.Take(ctx, k, l, 1); err != nil || !r.Allowed {
			t.Fatalf("Take(%s): %+v %v", k, r, err)
		}
	}
	if n := s.Len(); n != 3 {
		t.Fatalf("Len right after three keys = %d, want 3 (entries live TAT + 1s grace)", n)
	}
	// The entries expire 10ms + 1s from now; wait for the janitor to drop them.
	deadline := time.Now().Add(10 * time.Second)
	for s.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("janitor left %d idle keys after 10s", s.Len())
		}
		time.Sleep(20 * time.Millisecond) // polling the janitor's effect
	}
	// An evicted key starts over with a full bucket.
	if r, err := s.Take(ctx, "a", l, 1); err != nil || !r.Allowed || r.Remaining != 0 {
		t.Fatalf("Take after eviction: %+v %v", r, err)
	}
}

// At the cap a decision on a new key is a denial, not an error, and
// records nothing; Block on a new key is ErrTooManyKeys; Peek and the keys
// already held work as usual; a Reset makes room.
func TestMaxKeys(t *testing.T) {
	t.Parallel()
	frozen := func() time.Time { return testutil.Epoch }
	s := newStore(t, memorystore.WithMaxKeys(2), memorystore.WithCleanupInterval(0), memorystore.WithClock(frozen))
	ctx := context.Background()
	l := core.PerMinute(5)              // interval 12s
	w := core.Window(2, 30*time.Second) // interval 15s
	for _, k := range []string{"a", "b"} {
		if r, err := s.Take(ctx, k, l, 1); err != nil || !r.Allowed {
			t.Fatalf("Take(%s): %+v %v", k, r, err)
		}
	}
	full := func(l core.Limit) core.Result {
		return core.Result{Limit: l, RetryAfter: l.Interval(), ResetAfter: l.Interval()}
	}
	for range 2 { // a denial recorded nothing: the second is the same
		if r, err := s.Take(ctx, "c", l, 1); err != nil || r != full(l) {
			t.Fatalf("Take on a new key at the cap: %+v %v, want %+v", r, err, full(l))
		}
		if r, err := s.Take(ctx, "c", w, 1); err != nil || r != full(w) {
			t.Fatalf("Take under a window on a new key at the cap: %+v %v, want %+v", r, err, full(w))
		}
	}
	if err := s.Block(ctx, "c", l, time.Minute); !errors.Is(err, memorystore.ErrTooManyKeys) {
		t.Fatalf("Block on a new key at the cap: %v, want ErrTooManyKeys", err)
	}
	if err := s.Block(ctx, "c", w, time.Minute); !errors.Is(err, memorystore.ErrTooManyKeys) {
		t.Fatalf("Block under a window on a new key at the cap: %v, want ErrTooManyKeys", err)
	}
	if r, err := s.Peek(ctx, "c", l); err != nil || !r.Allowed || r.Remaining != 4 {
		t.Fatalf("Peek on a new key at the cap: %+v %v, want a fresh key's answer", r, err)
	}
	if r, err := s.Take(ctx, "a", l, 1); err != nil || !r.Allowed || r.Remaining != 3 {
		t.Fatalf("existing key at the cap: %+v %v (want allowed, 3 left)", r, err)
	}
	if err := s.Block(ctx, "b", l, time.Minute); err != nil {
		t.Fatalf("Block on an existing key at the cap: %v", err)
	}
	if s.Len() != 2 {
		t.Fatalf("Len = %d at the cap of 2", s.Len())
	}

	// Lanes: room for one more key, and a TakeAll over two new ones.
	if err := s.Reset(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	lanes := []core.Lane{{Key: "g", Limit: w}, {Key: "chat", Limit: core.Window(1, time.Minute)}}
	r, err := s.TakeAll(ctx, lanes, 1)
	if err != nil || (r != full(lanes[0].Limit) && r != full(lanes[1].Limit)) {
		t.Fatalf("TakeAll over two new keys with room for one: %+v %v, want the full lane's denial", r, err)
	}
	if s.Len() != 1 {
		t.Fatalf("Len = %d after a denied TakeAll, want 1: it must not keep the lane it could index", s.Len())
	}
	if r, err := s.TakeAll(ctx, lanes[:1], 2); err != nil || !r.Allowed {
		t.Fatalf("TakeAll over one new key with room: %+v %v", r, err)
	}
	if r, err := s.TakeAll(ctx, lanes, 1); err != nil || r != full(lanes[1].Limit) {
		t.Fatalf("TakeAll over a held and a new key at the cap: %+v %v, want %+v", r, err, full(lanes[1].Limit))
	}
	if r, err := s.Take(ctx, "g", w, 1); err != nil || r.Allowed || r.RetryAfter != 30*time.Second {
		t.Fatalf("the held lane after the denied TakeAll: %+v %v, want its two events still counted", r, err)
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	t.Parallel()
	s := memorystore.New(memorystore.WithCleanupInterval(time.Millisecond))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The store still decides after Close; only eviction stops.
	if r, err := s.Take(context.Background(), "k", core.PerSecond(1), 1); err != nil || !r.Allowed {
		t.Fatalf("Take after Close: %+v %v", r, err)
	}
}

func TestPenalties(t *testing.T) {
	testutil.RunPenaltySuite(t, newSuiteStore)
}
