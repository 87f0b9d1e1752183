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
)

// Every store a test opens is closed by t.Cleanup, so no janitor survives.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConformance(t *testing.T) {
	testutil.RunStoreSuite(t, func(t *testing.T, now func() time.Time) core.Store {
		s := memorystore.New(memorystore.WithClock(now))
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
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

func TestMaxKeys(t *testing.T) {
	t.Parallel()
	s := newStore(t, memorystore.WithMaxKeys(2))
	ctx := context.Background()
	l := core.PerMinute(5)
	for _, k := range []string{"a", "b"} {
		if _, err := s.Take(ctx, k, l, 1); err != nil {
			t.Fatalf("Take(%s): %v", k, err)
		}
	}
	if _, err := s.Take(ctx, "c", l, 1); !errors.Is(err, memorystore.ErrTooManyKeys) {
		t.Fatalf("third key: err = %v, want ErrTooManyKeys", err)
	}
	if r, err := s.Take(ctx, "a", l, 1); err != nil || !r.Allowed || r.Remaining != 3 {
		t.Fatalf("existing key when full: %+v %v (want allowed, 3 left)", r, err)
	}
	if err := s.Reset(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Take(ctx, "c", l, 1); err != nil {
		t.Fatalf("new key after a Reset freed room: %v", err)
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
	testutil.RunPenaltySuite(t, func(t *testing.T, now func() time.Time) core.Store {
		s := memorystore.New(memorystore.WithClock(now))
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
