package guard_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
)

func TestPenaltyOptionsRejected(t *testing.T) {
	t.Parallel()
	lim, err := core.New(testutil.AllowStore{}, core.PerSecond(1))
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]guard.Penalty{
		"no strikes":    {Window: time.Minute, Blocks: []time.Duration{time.Minute}},
		"no window":     {Strikes: 3, Blocks: []time.Duration{time.Minute}},
		"no blocks":     {Strikes: 3, Window: time.Minute},
		"tiny block":    {Strikes: 3, Window: time.Minute, Blocks: []time.Duration{time.Microsecond}},
		"huge block":    {Strikes: 3, Window: time.Minute, Blocks: []time.Duration{time.Minute, core.MaxBlock + time.Second}},
		"tiny forget":   {Strikes: 3, Window: time.Minute, Blocks: []time.Duration{time.Minute}, Forget: time.Microsecond},
		"negative wind": {Strikes: 3, Window: -time.Minute, Blocks: []time.Duration{time.Minute}},
	} {
		if _, err := guard.New(lim, guard.WithPenalty(p)); !errors.Is(err, core.ErrInvalidOption) {
			t.Errorf("%s: err = %v, want ErrInvalidOption", name, err)
		}
	}
	if _, err := guard.New(lim, guard.WithPenalty(guard.DefaultPenalty)); err != nil {
		t.Errorf("DefaultPenalty: %v", err)
	}
	if _, err := guard.New(lim, guard.WithPenalty(guard.Penalty{Strikes: 1, Window: time.Minute, Blocks: []time.Duration{core.MaxBlock}})); err != nil {
		t.Errorf("a block of MaxBlock: %v", err)
	}
}

// Strikes are tolerated, then the offense blocks; the next offense
// escalates, and the last block repeats. Offenses are forgotten one per
// Forget. The block is in the main limit, whose budget refills from one
// event when the block ends (core.Limiter.Block).
func TestPenaltyStrikesAndEscalation(t *testing.T) {
	t.Parallel()
	pen := guard.Penalty{Strikes: 2, Window: time.Minute, Blocks: []time.Duration{5 * time.Minute, time.Hour}, Forget: 2 * time.Hour}
	g, clock := newGuard(t, core.PerMinute(2), guard.WithPenalty(pen), guard.WithNotice(0, nil))
	offend := func(step string, passes int, block time.Duration) {
		t.Helper()
		for range passes {
			check(t, g, msg(1, 1, "x"), true, guard.ReasonAllowed, step+": within the limit")
		}
		for range 2 { // tolerated
			if v := check(t, g, msg(1, 1, "x"), false, guard.ReasonLimited, step+": strike"); v.Result.RetryAfter > 30*time.Second {
				t.Fatalf("%s: strike waits %v, more than the limit's interval", step, v.Result.RetryAfter)
			}
		}
		v := check(t, g, msg(1, 1, "x"), false, guard.ReasonPenalty, step+": the offense")
		if v.Result.RetryAfter != block || v.Result.ResetAfter < block {
			t.Fatalf("%s: %+v, want a block of %v", step, v.Result, block)
		}
		clock.Advance(block / 2)
		if v := check(t, g, msg(1, 1, "x"), false, guard.ReasonPenalty, step+": halfway through the block"); v.Result.RetryAfter != block/2 {
			t.Fatalf("%s: halfway RetryAfter %v, want %v", step, v.Result.RetryAfter, block/2)
		}
		check(t, g, msg(2, 2, "x"), true, guard.ReasonAllowed, step+": another user")
		clock.Advance(block / 2)
	}
	offend("first offense", 2, 5*time.Minute)
	offend("second offense", 1, time.Hour)
	offend("third offense: the last block repeats", 1, time.Hour)
	clock.Advance(3 * 2 * time.Hour) // all three offenses forgotten, the budget full again
	offend("after Forget", 2, 5*time.Minute)
}

// Strikes are counted within Window: denials spread wider are no offense.
func TestPenaltyStrikesExpire(t *testing.T) {
	t.Parallel()
	pen := guard.Penalty{Strikes: 2, Window: time.Minute, Blocks: []time.Duration{time.Hour}}
	g, clock := newGuard(t, core.Every(time.Minute), guard.WithPenalty(pen))
	for range 10 { // two denials a minute: never more than Strikes within Window
		check(t, g, msg(1, 1, "x"), true, guard.ReasonAllowed, "allowed")
		check(t, g, msg(1, 1, "x"), false, guard.ReasonLimited, "denied")
		check(t, g, msg(1, 1, "x"), false, guard.ReasonLimited, "denied again")
		clock.Advance(time.Minute)
	}
	check(t, g, msg(1, 1, "x"), true, guard.ReasonAllowed, "allowed")
	check(t, g, msg(1, 1, "x"), false, guard.ReasonLimited, "strike 1")
	check(t, g, msg(1, 1, "x"), false, guard.ReasonLimited, "strike 2")
	check(t, g, msg(1, 1, "x"), false, guard.ReasonPenalty, "three within a minute: the offense")
}

// Each offense takes Strikes more denials, even when its block adds
// nothing to the limit's own wait (a 1-minute block under one update an
// hour): denials during it are strikes again, not offenses of their own.
func TestPenaltyOffenseRestartsTheStrikes(t *testing.T) {
	t.Parallel()
	pen := guard.Penalty{Strikes: 2, Window: time.Minute, Blocks: []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute}}
	g, _ := newGuard(t, core.Every(time.Hour), guard.WithPenalty(pen))
	check(t, g, msg(1, 1, "x"), true, guard.ReasonAllowed, "the one update of the hour")
	for offense := range 3 {
		check(t, g, msg(1, 1, "x"), false, guard.ReasonLimited, "strike 1")
		check(t, g, msg(1, 1, "x"), false, guard.ReasonLimited, "strike 2")
		if v := check(t, g, msg(1, 1, "x"), false, guard.ReasonPenalty, "the offense"); v.Result.RetryAfter != time.Hour {
			t.Fatalf("offense %d: RetryAfter %v, want the limit's own hour", offense+1, v.Result.RetryAfter)
		}
	}
}

// ReasonPenalty is a denial that waits longer than the limit alone can make
// an update wait: one interval under GCRA, one period under a sliding
// window. A Limiter.Block made by hand (an ops ban) shows as one too, with
// or without WithPenalty.
func TestReasonPenaltyRule(t *testing.T) {
	t.Parallel()
	for _, l := range []core.Limit{core.PerMinute(3), core.Window(3, time.Minute)} {
		t.Run(l.String(), func(t *testing.T) {
			t.Parallel()
			g, clock := newGuard(t, l)
			for range 3 {
				check(t, g, msg(1, 1, "x"), true, guard.ReasonAllowed, "within the limit")
			}
			v := check(t, g, msg(1, 1, "x"), false, guard.ReasonLimited, "over the limit")
			longest := l.Interval()
			if l.Algorithm == core.SlidingWindow {
				longest = l.Period
			}
			if v.Result.RetryAfter <= 0 || v.Result.RetryAfter > longest {
				t.Fatalf("plain denial waits %v, want (0, %v]", v.Result.RetryAfter, longest)
			}
			if err := g.Limiter().Block(t.Context(), core.User(1), 10*time.Minute); err != nil {
				t.Fatal(err)
			}
			if v := check(t, g, msg(1, 1, "x"), false, guard.ReasonPenalty, "banned by hand"); v.Result.RetryAfter != 10*time.Minute {
				t.Fatalf("ban: RetryAfter %v, want 10m", v.Result.RetryAfter)
			}
			check(t, g, msg(2, 2, "x"), true, guard.ReasonAllowed, "another user")
			clock.Advance(10*time.Minute - longest)
			check(t, g, msg(1, 1, "x"), false, guard.ReasonLimited, "the ban's last interval: no longer than the limit's own")
			clock.Advance(longest)
			check(t, g, msg(1, 1, "x"), true, guard.ReasonAllowed, "after the ban")
		})
	}
}

// A passing update costs one store call with penalties on: the block is in
// the main limit, not behind a Peek of its own.
func TestPenaltyOneStoreCallPerPassingUpdate(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	st := &flakyStore{Store: newMemory(t, clock)}
	g := testutil.NewGuard(t, st, core.PerSecond(100), nil, nil, guard.WithPenalty(guard.DefaultPenalty))
	for i := range 50 {
		check(t, g, msg(int64(i%5+1), 1, "x"), true, guard.ReasonAllowed, "within the limit")
	}
	if n := st.calls.Load(); n != 50 {
		t.Fatalf("store saw %d calls for 50 passing updates, want 50", n)
	}
}

// Guard.Reset lifts a block and the limits behind it, and the next offense
// starts again from the first block.
func TestResetLiftsABlock(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	st := newMemory(t, clock)
	pen := guard.Penalty{Strikes: 1, Window: time.Minute, Blocks: []time.Duration{time.Hour, 10 * time.Hour}}
	opts := []guard.Option{guard.WithPenalty(pen), guard.WithCommandLimit("/report", core.Every(time.Hour))}
	a := testutil.NewGuard(t, st, core.PerMinute(1), nil, nil, opts...)
	b := testutil.NewGuard(t, st, core.PerMinute(1), nil, nil, opts...)
	ctx := t.Context()
	offend := func(step string) guard.Verdict {
		t.Helper()
		check(t, a, msg(1, 1, "/report"), true, guard.ReasonAllowed, step+": the one /report of the hour")
		check(t, a, msg(1, 1, "x"), false, guard.ReasonLimited, step+": the tolerated strike")
		return check(t, a, msg(1, 1, "x"), false, guard.ReasonPenalty, step+": the offense")
	}
	if v := offend("first offense"); v.Result.RetryAfter != time.Hour {
		t.Fatalf("first block: %+v", v)
	}
	check(t, b, msg(1, 1, "x"), false, guard.ReasonPenalty, "instance b during the block")

	if err := a.Reset(ctx, core.User(1)); err != nil {
		t.Fatal(err)
	}
	check(t, b, msg(1, 1, "/report"), true, guard.ReasonAllowed, "instance b after a's Reset: the limit and the command limit lifted")
	if err := a.Reset(ctx, core.User(1)); err != nil {
		t.Fatal(err)
	}
	if v := offend("offense after Reset"); v.Result.RetryAfter != time.Hour {
		t.Fatalf("offense after Reset: %+v; want the first block again, not the second", v)
	}

	// A store that fails: every key is still tried, the errors come back.
	failing := testutil.NewGuard(t, testutil.FailingStore{}, core.PerMinute(1), nil, nil, opts...)
	if err := failing.Reset(ctx, core.User(1)); !errors.Is(err, testutil.ErrStoreDown) {
		t.Fatalf("Reset over a failing store: %v", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := a.Reset(canceled, core.User(1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Reset with a canceled ctx: %v", err)
	}
}

// Over a Resilient store, as store.Open builds for Redis, Reset reaches the
// instance it is called on at once; another instance's deny cache keeps
// the denial it saw until that denial's wait ends, as documented.
func TestResetAcrossDenyCaches(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	shared := newMemory(t, clock) // stands for Redis
	pen := guard.Penalty{Strikes: 1, Window: time.Minute, Blocks: []time.Duration{time.Hour}}
	a := testutil.NewGuard(t, resilient(t, shared, clock, core.Resilience{}), core.PerMinute(1), nil, nil, guard.WithPenalty(pen))
	b := testutil.NewGuard(t, resilient(t, shared, clock, core.Resilience{}), core.PerMinute(1), nil, nil, guard.WithPenalty(pen))
	check(t, a, msg(1, 1, "x"), true, guard.ReasonAllowed, "first")
	check(t, a, msg(1, 1, "x"), false, guard.ReasonLimited, "strike")
	check(t, a, msg(1, 1, "x"), false, guard.ReasonPenalty, "offense")
	if v := check(t, b, msg(1, 1, "x"), false, guard.ReasonPenalty, "b sees the block"); v.Result.Source != core.SourceStore {
		t.Fatalf("b's first look at the block: %+v, want it from the store", v.Result)
	}
	if v := check(t, b, msg(1, 1, "x"), false, guard.ReasonPenalty, "b again"); v.Result.Source != core.SourceCache {
		t.Fatalf("b's second look: %+v, want its deny cache", v.Result)
	}
	if err := a.Reset(t.Context(), core.User(1)); err != nil {
		t.Fatal(err)
	}
	check(t, a, msg(1, 1, "x"), true, guard.ReasonAllowed, "a after its Reset")
	check(t, b, msg(1, 1, "x"), false, guard.ReasonPenalty, "b keeps the denial it cached")
	clock.Advance(time.Hour)
	check(t, b, msg(1, 1, "x"), true, guard.ReasonAllowed, "b once the cached wait ended")
}

func TestShadowNeverPenalizes(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	st := newMemory(t, clock)
	pen := guard.Penalty{Strikes: 1, Window: time.Minute, Blocks: []time.Duration{time.Hour}}
	g := testutil.NewGuard(t, st, core.PerMinute(1), nil, []core.Option{core.WithShadow(true)}, guard.WithPenalty(pen))
	for i := range 20 {
		v := check(t, g, msg(1, 1, "x"), true, guard.ReasonAllowed, "shadow mode")
		if i > 0 && (!v.Result.Shadow || v.Notice != "") {
			t.Fatalf("update %d: %+v, want a shadow denial without a notice", i, v)
		}
	}
	// Nothing was written for the penalty: the same limit, not shadowed,
	// sees a plain denial, no block.
	live := testutil.NewGuard(t, st, core.PerMinute(1), nil, nil, guard.WithPenalty(pen))
	if v := check(t, live, msg(1, 1, "x"), false, guard.ReasonLimited, "the same key, not shadowed"); v.Result.RetryAfter > time.Minute {
		t.Fatalf("after shadow mode: %+v, want no block", v.Result)
	}
}

// Denials made by the failure policy are the store's outage, not the
// user's flooding: under FailClosed they are never strikes, so nobody is
// blocked when the store comes back.
func TestPolicyDenialIsNoStrike(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	st := &flakyStore{Store: newMemory(t, clock)}
	st.down.Store(true)
	rs := resilient(t, st, clock, core.Resilience{Policy: core.FailClosed, ProbeInterval: time.Second})
	pen := guard.Penalty{Strikes: 1, Window: time.Minute, Blocks: []time.Duration{time.Hour}}
	g := testutil.NewGuard(t, rs, core.PerMinute(1), nil, nil, guard.WithPenalty(pen))
	for i := range 20 { // before and after the breaker opens
		v := check(t, g, msg(1, 1, "x"), false, guard.ReasonLimited, "during the outage")
		if v.Result.Source != core.SourcePolicy || v.Result.RetryAfter > time.Minute {
			t.Fatalf("update %d during the outage: %+v; want a plain policy denial", i, v)
		}
	}
	st.down.Store(false)
	clock.Advance(time.Second) // a probe is due
	check(t, g, msg(1, 1, "x"), true, guard.ReasonAllowed, "first update after the store is back")
}

// A Guard with penalties over a store that is down calls the store only
// until the breaker opens: strikes go through the same breaker.
func TestPenaltyRespectsTheBreaker(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	st := &flakyStore{Store: newMemory(t, clock)}
	st.down.Store(true)
	const threshold = 5
	rs := resilient(t, st, clock, core.Resilience{BreakerThreshold: threshold}) // FailLocal
	g := testutil.NewGuard(t, rs, core.PerMinute(1), nil, nil,
		guard.WithPenalty(guard.Penalty{Strikes: 2, Window: time.Minute, Blocks: []time.Duration{time.Hour}}))
	for i := range 20 {
		g.Check(t.Context(), msg(int64(i%3), 1, "x"))
	}
	if n := st.calls.Load(); n != threshold {
		t.Fatalf("store saw %d calls over 20 updates, want %d: the breaker opens after that many failures", n, threshold)
	}
	// Meanwhile the fallback penalizes on this instance (FailLocal).
	v := check(t, g, msg(1, 1, "x"), false, guard.ReasonPenalty, "a flooder during the outage")
	if v.Result.Source != core.SourceFallback {
		t.Fatalf("block during the outage: %+v, want it from the fallback", v.Result)
	}
}
