package testutil

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
)

// RunPenaltySuite checks core.WithPenalty over a store: strikes, an
// escalating block shared by every Guard on the store, the bypass list, and
// recovery. The store must take its time from the given clock.
func RunPenaltySuite(t *testing.T, newStore NewStoreFunc) {
	clock := NewClock()
	st := newStore(t, clock.Now)
	ctx := context.Background()
	pen := core.Penalty{Strikes: 3, Window: time.Minute, Blocks: []time.Duration{time.Minute, 10 * time.Minute}}
	guard := func() *core.Guard { // one per bot instance
		t.Helper()
		lim, err := core.New(st, core.PerMinute(1), core.WithClock(clock.Now), core.WithPrefix("pen-"+t.Name()),
			core.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		g, err := core.NewGuard(lim, core.WithPenalty(pen), core.WithBypass(99))
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	a, b := guard(), guard()
	msg := func(user int64) core.Update {
		return core.Update{Kind: core.KindMessage, UserID: user, ChatID: user, ChatType: "private"}
	}
	check := func(g *core.Guard, user int64, pass bool, reason core.Reason, step string) core.Verdict {
		t.Helper()
		v := g.Check(ctx, msg(user))
		if v.Pass != pass || v.Reason != reason {
			t.Fatalf("%s: %+v, want pass=%v reason=%v", step, v, pass, reason)
		}
		return v
	}

	check(a, 1, true, core.ReasonAllowed, "first message")
	for i := 0; i < 3; i++ { // three strikes are tolerated
		check(a, 1, false, core.ReasonLimited, "strike")
	}
	v := check(a, 1, false, core.ReasonLimited, "the offense")
	if v.Result.RetryAfter != time.Minute {
		t.Fatalf("offense: RetryAfter %v, want the first block, 1m", v.Result.RetryAfter)
	}
	v = check(b, 1, false, core.ReasonPenalty, "another instance during the block")
	if v.Result.RetryAfter != time.Minute {
		t.Fatalf("block seen by another instance: RetryAfter %v, want 1m", v.Result.RetryAfter)
	}
	for i := 0; i < 10; i++ { // the bypassed admin floods freely
		check(a, 99, true, core.ReasonBypass, "bypassed sender")
	}
	check(b, 2, true, core.ReasonAllowed, "an innocent user")

	clock.Advance(time.Minute)
	check(b, 1, true, core.ReasonAllowed, "after the block")
	for i := 0; i < 3; i++ {
		check(b, 1, false, core.ReasonLimited, "strike after the block")
	}
	v = check(b, 1, false, core.ReasonLimited, "the second offense")
	if v.Result.RetryAfter != 10*time.Minute {
		t.Fatalf("second offense: RetryAfter %v, want the second block, 10m", v.Result.RetryAfter)
	}
	clock.Advance(9 * time.Minute)
	check(a, 1, false, core.ReasonPenalty, "nine minutes into the second block")
	clock.Advance(time.Minute)
	check(a, 1, true, core.ReasonAllowed, "after the second block")
}
