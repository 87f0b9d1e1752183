package memorystore

import (
	"context"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
)

// The item's go-cache expiration follows the TAT: TAT + grace, on the wall
// clock.
func TestExpirationFollowsTAT(t *testing.T) {
	s := New(WithGrace(2 * time.Second))
	defer s.Close()
	l := core.PerHour(3) // interval 20 min
	before := time.Now()
	for i := 0; i < 2; i++ {
		if _, err := s.Take(context.Background(), "k", l, 1); err != nil {
			t.Fatal(err)
		}
	}
	after := time.Now()
	_, exp, ok := s.items.GetWithExpiration("k")
	if !ok {
		t.Fatal("key not indexed")
	}
	lo, hi := before.Add(40*time.Minute+2*time.Second), after.Add(40*time.Minute+2*time.Second)
	if exp.Before(lo) || exp.After(hi) {
		t.Fatalf("expiration %v outside [%v, %v] (TAT + grace)", exp, lo, hi)
	}
}

// A lock-free swap that cannot prove its entry was still indexed is settled
// under the key lock: it stands if the entry is still the key's entry, and
// counts for nothing otherwise (the decision is made again).
func TestStalledSwap(t *testing.T) {
	ctx := context.Background()
	clock := testutil.NewClock()
	l := core.PerMinute(10) // interval 6s
	for _, tc := range []struct {
		name      string
		reset     bool
		remaining int // after the settled decision
	}{
		{"entry still indexed: counted once", false, 8},
		{"entry reset meanwhile: decided again on a new entry", true, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(WithClock(clock.Now))
			defer s.Close()
			if _, err := s.Take(ctx, "k", l, 1); err != nil {
				t.Fatal(err)
			}
			v, _ := s.items.Get("k")
			e := v.(*entry)
			if tc.reset {
				if err := s.Reset(ctx, "k"); err != nil {
					t.Fatal(err)
				}
			}
			now := clock.Now().UnixMicro()
			old := e.tat.Load()
			res, next := core.Decide(l, old, now, 1)
			if !e.tat.CompareAndSwap(old, next) {
				t.Fatal("swap failed")
			}
			got, err := s.takeLocked("k", l, 1, now, e, res)
			if err != nil || !got.Allowed || got.Remaining != tc.remaining {
				t.Fatalf("settled decision %+v %v, want allowed with %d left", got, err, tc.remaining)
			}
			p, _ := s.Peek(ctx, "k", l)
			if p.Remaining != tc.remaining-1 {
				t.Fatalf("after settling, Peek says %d left, want %d (no double count, nothing lost)", p.Remaining, tc.remaining-1)
			}
		})
	}
}
