package testutil

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
)

// NewStoreFunc builds a store for a test; the store must take its time
// from now.
type NewStoreFunc func(t *testing.T, now func() time.Time) core.Store

// RunPenaltySuite checks guard.WithPenalty over a store: strikes, an
// escalating block shared by every Guard on the store, the bypass list, and
// recovery. The store must take its time from the given clock.
func RunPenaltySuite(t *testing.T, newStore NewStoreFunc) {
	clock := NewClock()
	st := newStore(t, clock.Now)
	ctx := context.Background()
	// Blocks longer than the limit's own wait (1m), so a block shows as
	// ReasonPenalty.
	pen := guard.Penalty{Strikes: 3, Window: time.Minute, Blocks: []time.Duration{2 * time.Minute, 10 * time.Minute}}
	newGuard := func() *guard.Guard { // one per bot instance
		t.Helper()
		lim, err := core.New(st, core.PerMinute(1), core.WithPrefix("pen-"+t.Name()))
		if err != nil {
			t.Fatal(err)
		}
		g, err := guard.New(lim, guard.WithPenalty(pen), guard.WithBypass(99), guard.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	a, b := newGuard(), newGuard()
	msg := func(user int64) guard.Update {
		return guard.Update{Kind: guard.KindMessage, UserID: user, ChatID: user, ChatType: "private"}
	}
	check := func(g *guard.Guard, user int64, pass bool, reason guard.Reason, step string) guard.Verdict {
		t.Helper()
		v := g.Check(ctx, msg(user))
		if v.Pass != pass || v.Reason != reason {
			t.Fatalf("%s: %+v, want pass=%v reason=%v", step, v, pass, reason)
		}
		return v
	}

	check(a, 1, true, guard.ReasonAllowed, "first message")
	for i := 0; i < 3; i++ { // three strikes are tolerated
		check(a, 1, false, guard.ReasonLimited, "strike")
	}
	v := check(a, 1, false, guard.ReasonPenalty, "the offense")
	if v.Result.RetryAfter != 2*time.Minute {
		t.Fatalf("offense: RetryAfter %v, want the first block, 2m", v.Result.RetryAfter)
	}
	v = check(b, 1, false, guard.ReasonPenalty, "another instance during the block")
	if v.Result.RetryAfter != 2*time.Minute {
		t.Fatalf("block seen by another instance: RetryAfter %v, want 2m", v.Result.RetryAfter)
	}
	for i := 0; i < 10; i++ { // the bypassed admin floods freely
		check(a, 99, true, guard.ReasonBypass, "bypassed sender")
	}
	check(b, 2, true, guard.ReasonAllowed, "an innocent user")

	clock.Advance(2 * time.Minute)
	check(b, 1, true, guard.ReasonAllowed, "after the block")
	for i := 0; i < 3; i++ {
		check(b, 1, false, guard.ReasonLimited, "strike after the block")
	}
	v = check(b, 1, false, guard.ReasonPenalty, "the second offense")
	if v.Result.RetryAfter != 10*time.Minute {
		t.Fatalf("second offense: RetryAfter %v, want the second block, 10m", v.Result.RetryAfter)
	}
	// Eight minutes in, two remain: longer than the rule's interval (1m),
	// so the verdict still reads as the penalty. In the block's last
	// minute it reads as an ordinary limit (RetryAfter = one interval).
	clock.Advance(8 * time.Minute)
	check(a, 1, false, guard.ReasonPenalty, "eight minutes into the second block")
	clock.Advance(2 * time.Minute)
	check(a, 1, true, guard.ReasonAllowed, "after the second block")
}
