package core_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
)

// fullMemoryStore returns a memorystore capped at one key, with that key
// (user 1 under the default prefix and rule) already taken, so every new key
// gets memorystore.ErrTooManyKeys.
func fullMemoryStore(t *testing.T, clock *testutil.Clock) *memorystore.Store {
	t.Helper()
	st := memorystore.New(memorystore.WithClock(clock.Now), memorystore.WithMaxKeys(1))
	t.Cleanup(func() { _ = st.Close() })
	if _, err := st.Take(t.Context(), "floodgate:{u:1}:msg", core.PerMinute(1), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Take(t.Context(), "floodgate:{u:2}:msg", core.PerMinute(1), 1); !errors.Is(err, memorystore.ErrTooManyKeys) {
		t.Fatalf("the capped store is not full: %v", err)
	}
	return st
}

// An in-process store that fails (a memorystore at its key cap) is a store
// failure like any other: the failure policy decides, the observer hears of
// the error, and no error reaches the caller. Before, the error was returned,
// and the Guard let such updates through under every policy.
func TestInProcessStoreErrorFollowsPolicy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		policy  core.FailurePolicy
		allowed bool
	}{
		{core.FailOpen, true},
		{core.FailClosed, false},
		{core.FailLocal, false}, // the in-process store is the local store: nothing to fall back to
	} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			t.Parallel()
			clock := testutil.NewClock()
			rec := &recorder{}
			lim, err := core.New(fullMemoryStore(t, clock), core.PerMinute(1), core.WithPolicy(tc.policy),
				core.WithObserver(rec), core.WithLogger(discard), core.WithClock(clock.Now))
			if err != nil {
				t.Fatal(err)
			}
			res, err := lim.Allow(t.Context(), 2)
			if err != nil || res.Allowed != tc.allowed || res.Source != core.SourcePolicy {
				t.Fatalf("new user with the store full: %+v, %v; want allowed=%v from the policy, no error", res, err, tc.allowed)
			}
			if !tc.allowed && res.RetryAfter <= 0 {
				t.Errorf("policy denial without a RetryAfter: %+v", res)
			}
			if res, err := lim.Allow(t.Context(), 1); err != nil || res.Source != core.SourceStore || res.Allowed {
				t.Fatalf("known user, already at the limit: %+v, %v; want the store's denial", res, err)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.decisions) != 2 || !errors.Is(rec.decisions[0].Err, memorystore.ErrTooManyKeys) || rec.decisions[1].Err != nil {
				t.Fatalf("observer saw %+v; want the store's error on the first decision only", rec.decisions)
			}

			// What the failure does not hide: the caller's own ctx, and a bad cost.
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			if _, err := lim.Allow(ctx, 2); !errors.Is(err, context.Canceled) {
				t.Errorf("canceled ctx: err = %v", err)
			}
			if _, err := lim.AllowN(t.Context(), 2, 2); !errors.Is(err, core.ErrInvalidCost) {
				t.Errorf("cost above the burst: err = %v", err)
			}
		})
	}
}

// The Guard over a full memorystore: a new user is denied under
// FailClosed, not waved through as a ReasonError with the default
// WithErrorAction(Pass).
func TestGuardFullMemoryStoreFailClosed(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	var log testutil.SyncBuffer
	g := testutil.NewGuard(t, fullMemoryStore(t, clock), core.PerMinute(1), slog.New(slog.NewTextHandler(&log, nil)),
		[]core.Option{core.WithPolicy(core.FailClosed), core.WithClock(clock.Now)})
	for i := range 3 {
		v := g.Check(t.Context(), msg(2, 2, "x"))
		if v.Pass || v.Reason != core.ReasonLimited || v.Err != nil || v.Result.Source != core.SourcePolicy {
			t.Fatalf("update %d of a new user with the store full: %+v; want denied by the policy", i, v)
		}
	}
	if n := strings.Count(log.String(), "in-process store failing"); n != 1 {
		t.Fatalf("the failure was logged %d times, want once:\n%s", n, log.String())
	}
}

// A fallback store that fails (capped, full) while the main store is out:
// the decision is a denial by the policy, not an error.
func TestFailingFallbackDenies(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	rec := &recorder{}
	fb := memorystore.New(memorystore.WithClock(clock.Now), memorystore.WithMaxKeys(1))
	t.Cleanup(func() { _ = fb.Close() })
	lim, err := core.New(testutil.FailingStore{}, core.PerMinute(1), core.WithFallback(fb), core.WithObserver(rec),
		core.WithLogger(discard), core.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if res, err := lim.Allow(ctx, 1); err != nil || !res.Allowed || res.Source != core.SourceFallback {
		t.Fatalf("first user, fallback has room: %+v, %v", res, err)
	}
	res, err := lim.Allow(ctx, 2)
	if err != nil || res.Allowed || res.Source != core.SourcePolicy {
		t.Fatalf("second user, fallback full: %+v, %v; want denied by the policy, no error", res, err)
	}
	g, err := core.NewGuard(lim)
	if err != nil {
		t.Fatal(err)
	}
	if v := g.Check(ctx, msg(3, 3, "x")); v.Pass || v.Reason != core.ReasonLimited || v.Err != nil {
		t.Fatalf("Guard, new user, fallback full: %+v; want dropped as limited", v)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	last := rec.decisions[1].Err
	if !errors.Is(last, testutil.ErrStoreDown) || !errors.Is(last, memorystore.ErrTooManyKeys) {
		t.Fatalf("observer saw %v; want both the store's and the fallback's error", last)
	}
}

// Peek goes through the circuit breaker: its failures open it, and while it
// is open Peek answers without calling the store. Before, every Peek went
// to the store and waited out the decision timeout during an outage.
func TestPeekUsesTheBreaker(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		policy  core.FailurePolicy
		allowed bool
		source  core.Source
	}{
		{core.FailLocal, true, core.SourceFallback},
		{core.FailOpen, true, core.SourcePolicy},
		{core.FailClosed, false, core.SourcePolicy},
	} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			t.Parallel()
			st := &flakyStore{mapStore: newMapStore()}
			st.mode.Store(modeFail)
			lim := mustNew(t, st, core.PerSecond(1), core.WithPolicy(tc.policy), core.WithBreaker(2, time.Second),
				core.WithLogger(discard))
			ctx := t.Context()
			for i := range 2 { // the store is asked, and its error returned
				if _, err := lim.Peek(ctx, core.User(1)); !errors.Is(err, errFlaky) {
					t.Fatalf("Peek %d with the breaker closed: err = %v, want the store's", i, err)
				}
			}
			for i := range 10 { // two failures opened the breaker
				res, err := lim.Peek(ctx, core.User(1))
				if err != nil || res.Allowed != tc.allowed || res.Source != tc.source {
					t.Fatalf("Peek %d with the breaker open: %+v, %v; want allowed=%v from %v", i, res, err, tc.allowed, tc.source)
				}
			}
			if n := st.peeks.Load(); n != 2 {
				t.Fatalf("store saw %d Peeks, want 2: none while the breaker is open", n)
			}
			if _, err := lim.Allow(ctx, 1); err != nil || st.takes.Load() != 0 {
				t.Fatalf("Take after Peeks opened the breaker: err %v, store saw %d Takes, want 0", err, st.takes.Load())
			}
			// A Peek may be the probe: the store is back, the breaker closes.
			st.mode.Store(modeOK)
			st.advance(time.Second)
			if res, err := lim.Peek(ctx, core.User(1)); err != nil || res.Source != core.SourceStore {
				t.Fatalf("Peek after recovery: %+v, %v", res, err)
			}
			if res, err := lim.Allow(ctx, 2); err != nil || res.Source != core.SourceStore {
				t.Fatalf("Take after a Peek probe succeeded: %+v, %v; want the store", res, err)
			}
		})
	}
}

// A Guard with penalties over a store that is down calls the store only
// until the breaker opens: the penalty check no longer bypasses it.
func TestGuardPenaltyCheckRespectsTheBreaker(t *testing.T) {
	t.Parallel()
	st := &flakyStore{mapStore: newMapStore()}
	st.mode.Store(modeFail)
	lim := mustNew(t, st, core.PerMinute(1), core.WithLogger(discard))
	g, err := core.NewGuard(lim, core.WithPenalty(core.Penalty{Strikes: 2, Window: time.Minute, Blocks: []time.Duration{time.Hour}}))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		g.Check(t.Context(), msg(int64(i%3), 1, "x"))
	}
	if n := st.calls(); n != core.DefaultBreakerThreshold {
		t.Fatalf("store saw %d calls over 20 updates, want %d: the breaker opens after that many failures",
			n, core.DefaultBreakerThreshold)
	}
}

// Denials made by the failure policy are not the user's doing: under
// FailClosed during an outage they must not count as strikes, and the
// policy's answer to the penalty check must not read as a block. Before,
// the first policy denial escalated to the longest block, which this
// instance then enforced for its whole length after the store came back.
func TestPolicyDenialsNeverPenalize(t *testing.T) {
	t.Parallel()
	st := &flakyStore{mapStore: newMapStore()}
	st.mode.Store(modeFail)
	lim := mustNew(t, st, core.PerMinute(1), core.WithPolicy(core.FailClosed), core.WithLogger(discard))
	g, err := core.NewGuard(lim, core.WithPenalty(core.Penalty{Strikes: 1, Window: time.Minute, Blocks: []time.Duration{time.Hour}}))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 { // before and after the breaker opens
		v := g.Check(t.Context(), msg(1, 1, "x"))
		if v.Pass || v.Reason != core.ReasonLimited || v.Result.Source != core.SourcePolicy || v.Result.RetryAfter >= time.Hour {
			t.Fatalf("update %d during the outage: %+v; want a plain policy denial", i, v)
		}
	}
	st.mode.Store(modeOK)
	st.advance(time.Second) // a probe is due
	if v := g.Check(t.Context(), msg(1, 1, "x")); !v.Pass || v.Reason != core.ReasonAllowed {
		t.Fatalf("first update after the store is back: %+v; want allowed", v)
	}
}
