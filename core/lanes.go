package core

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNoLanes is returned (wrapped) by TakeAll and Block when the Limiter's
// store, or its fallback under FailLocal, is not a LaneStore.
var ErrNoLanes = errors.New("store does not support lanes")

// TakeAll decides cost n against several SlidingWindow lanes at once, all
// or nothing, through the Limiter's store (a LaneStore): the event is
// recorded on every lane only if each admits it. The Result is the
// binding lane's (see LaneStore.TakeAll). The Limiter's own Limit and rule
// play no part; its prefix does not either: lanes carry full keys, which
// callers build from Prefix.
//
// Errors: a lane with an invalid or non-SlidingWindow Limit wraps
// ErrInvalidLimit; n outside 1..Rate of some lane wraps ErrInvalidCost; no
// lanes, an empty or repeated key, or a store that is no LaneStore wraps
// ErrInvalidOption or ErrNoLanes. A done ctx returns ctx.Err() without
// touching the store.
//
// Like Take, a failing or slow store never surfaces as an error: the
// decision follows the failure policy (FailLocal decides on the in-process
// fallback, which must then be a LaneStore too; the built-in one is), and
// Result.Source says so. A timed-out call may still have been recorded by
// the store. The deny cache is not used for lanes.
func (l *Limiter) TakeAll(ctx context.Context, lanes []Lane, n int) (Result, error) {
	if err := checkLanes(lanes, n); err != nil {
		return Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	ls, ok := l.store.(LaneStore)
	if !ok {
		return Result{}, fmt.Errorf("core: %w: %T", ErrNoLanes, l.store)
	}
	obs := l.cfg.observer
	var start time.Time
	if obs != nil {
		start = time.Now()
	}
	res, err, storeErr := l.guarded(ctx, func(ctx context.Context) (Result, error) {
		return ls.TakeAll(ctx, lanes, n)
	}, func(ctx context.Context, fb LaneStore) (Result, error) {
		return fb.TakeAll(ctx, lanes, n)
	}, lanes[0].Limit)
	if err == nil && obs != nil {
		obs.Decision(DecisionEvent{Prefix: l.prefix, Rule: l.rule, Allowed: res.Allowed,
			Source: res.Source, Err: storeErr, Latency: time.Since(start)})
	}
	return res, err
}

// Block makes the SlidingWindow lane key admit nothing for d, in the
// store, so every instance sharing it waits (LaneStore.Block): e.g. after
// Telegram answered 429 with retry_after. d ≤ 0 does nothing. When the
// store fails, the block is applied to the in-process fallback only (under
// FailLocal) and the store's error is returned, so the caller knows other
// instances were not told.
func (l *Limiter) Block(ctx context.Context, key string, limit Limit, d time.Duration) error {
	if err := checkLanes([]Lane{{key, limit}}, 1); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ls, ok := l.store.(LaneStore)
	if !ok {
		return fmt.Errorf("core: %w: %T", ErrNoLanes, l.store)
	}
	if l.res == nil {
		return ls.Block(ctx, key, limit, d)
	}
	if fb, ok := l.res.fallback.(LaneStore); ok {
		_ = fb.Block(ctx, key, limit, d) // also in-process, for when the store fails next
	}
	_, err, _ := l.guarded(ctx, func(ctx context.Context) (Result, error) {
		return Result{}, ls.Block(ctx, key, limit, d)
	}, nil, limit)
	return err
}

// guarded runs call on the store under the Limiter's timeout and circuit
// breaker. When the store fails, FailLocal runs local on the fallback (or,
// when local is nil or the fallback is no LaneStore, returns the store's
// error) and the other policies decide as policyResult(limit) does. It
// returns the result, the caller's own error (its ctx ended), and the
// store error behind a fallback or policy decision.
func (l *Limiter) guarded(ctx context.Context, call func(context.Context) (Result, error),
	local func(context.Context, LaneStore) (Result, error), limit Limit) (Result, error, error) {
	r := l.res
	if r == nil { // an in-process store: its failure is decided as Take's is
		res, err := call(ctx)
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return Result{}, ctxErr, nil
			}
			if local == nil {
				return Result{}, err, err
			}
			p := FailClosed
			if l.localFailure(ctx, err).Allowed {
				p = FailOpen
			}
			return policyResult(p, limit), nil, err
		}
		return res, nil, nil
	}
	res, callerErr, storeErr := r.call(ctx, call)
	switch {
	case callerErr != nil:
		return Result{}, callerErr, nil
	case storeErr == nil:
		return res, nil, nil
	}
	if local == nil {
		return Result{}, storeErr, storeErr
	}
	if r.policy == FailLocal {
		if fb, ok := r.fallback.(LaneStore); ok {
			res, err := local(ctx, fb)
			if err == nil {
				res.Source = SourceFallback
				return res, nil, storeErr
			}
			storeErr = errors.Join(storeErr, err)
		}
		res := policyResult(FailClosed, limit)
		return res, nil, storeErr
	}
	return policyResult(r.policy, limit), nil, storeErr
}

// checkLanes validates the lanes and cost of TakeAll.
func checkLanes(lanes []Lane, n int) error {
	if len(lanes) == 0 {
		return fmt.Errorf("core: %w: no lanes", ErrInvalidOption)
	}
	for i, ln := range lanes {
		if ln.Key == "" {
			return fmt.Errorf("core: %w: lane %d has an empty key", ErrInvalidOption, i)
		}
		if err := ln.Limit.Validate(); err != nil {
			return fmt.Errorf("lane %q: %w", ln.Key, err)
		}
		if ln.Limit.Algorithm != SlidingWindow {
			return fmt.Errorf("lane %q: %w", ln.Key, limitErr("Algorithm", "of a lane must be SlidingWindow, got %v", ln.Limit.Algorithm))
		}
		if n < 1 || n > ln.Limit.Rate {
			return fmt.Errorf("core: %w: cost %d is outside 1..%d (lane %q, %v)", ErrInvalidCost, n, ln.Limit.Rate, ln.Key, ln.Limit)
		}
		for _, prev := range lanes[:i] {
			if prev.Key == ln.Key {
				return fmt.Errorf("core: %w: lane key %q appears twice", ErrInvalidOption, ln.Key)
			}
		}
	}
	return nil
}
