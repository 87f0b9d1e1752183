package core

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Penalty blocks repeat offenders: a key denied more than Strikes times
// within Window commits an offense and is blocked for Blocks[0], the next
// offense for Blocks[1], and so on (the last duration repeats). Offenses
// are forgotten one per Forget. The state lives in the store under its own
// rules ("pen.strikes", "pen.level", "pen.block"), so every instance sees
// the same block, and every key has a TTL. Bypassed senders are never
// penalized.
//
// With a penalty set, each update costs one more store call (a Peek of the
// block), and each denial one more (counting the strike); a block, once
// seen, is remembered on the instance until it ends (Guard.Reset lifts it
// on this instance). These calls go through the Limiter's timeout and
// circuit breaker like every decision: while the breaker is open they cost
// no store call. During an outage, FailLocal counts strikes and blocks in
// the fallback store, on this instance only; a denial made by FailClosed
// (or a failing in-process store) is the store's outage, not the user's
// flooding, and neither counts as a strike nor blocks anyone.
type Penalty struct {
	// Strikes is how many denials within Window are tolerated. ≥ 1.
	Strikes int
	// Window is the span Strikes are counted over. ≥ 1 ms.
	Window time.Duration
	// Blocks are the block durations of the first, second, … offense;
	// the last one repeats. At least one, each ≥ 1 ms.
	Blocks []time.Duration
	// Forget is how long it takes to forget one offense. Default (0): 24 h.
	Forget time.Duration
}

// DefaultPenalty blocks a key denied more than 10 times in a minute for
// 1 minute, then 10 minutes, then an hour.
var DefaultPenalty = Penalty{Strikes: 10, Window: time.Minute, Blocks: []time.Duration{time.Minute, 10 * time.Minute, time.Hour}}

// maxOffenses is how many offenses the level counter remembers.
const maxOffenses = 64

// WithPenalty turns on penalties for repeat offenders (see Penalty).
func WithPenalty(p Penalty) GuardOption { return func(g *Guard) { g.penaltyCfg = &p } }

// penalties is the Guard's machinery for one Penalty.
type penalties struct {
	p       Penalty
	strikes *Limiter           // Strikes per Window: a denied Take is an offense
	level   *Limiter           // one token per offense, refilled one per Forget
	block   *Limiter           // its TAT is the end of the current block
	blocked shardMap[blockEnd] // pen.block key → end of a block this instance has seen; ended ones are swept
	now     func() time.Time
}

// blockEnd is when a block ends, on the Limiter's clock.
type blockEnd time.Time

func (b blockEnd) expiry() time.Time { return time.Time(b) }

func newPenalties(lim *Limiter, p Penalty) (*penalties, error) {
	if p.Forget == 0 {
		p.Forget = 24 * time.Hour
	}
	if p.Strikes < 1 || p.Window < MinPeriod || len(p.Blocks) == 0 || p.Forget < MinPeriod {
		return nil, fmt.Errorf("core: %w: penalty needs Strikes ≥ 1, Window ≥ 1ms, at least one block, Forget ≥ 1ms", ErrInvalidOption)
	}
	longest := time.Duration(0)
	for _, b := range p.Blocks {
		if b < MinPeriod {
			return nil, fmt.Errorf("core: %w: penalty block %v is shorter than 1ms", ErrInvalidOption, b)
		}
		longest = max(longest, b)
	}
	pen := &penalties{p: p, now: lim.cfg.now}
	pen.blocked.init()
	var err error
	if pen.strikes, err = lim.Rule("pen.strikes", Limit{Rate: p.Strikes, Period: p.Window, Burst: p.Strikes}); err != nil {
		return nil, fmt.Errorf("core: penalty: %w", err)
	}
	if pen.level, err = lim.Rule("pen.level", Limit{Rate: 1, Period: p.Forget, Burst: maxOffenses}); err != nil {
		return nil, fmt.Errorf("core: penalty: %w", err)
	}
	if pen.block, err = lim.Rule("pen.block", Every(longest)); err != nil {
		return nil, fmt.Errorf("core: penalty: %w", err)
	}
	// Penalty bookkeeping is never shadowed: shadow mode applies to the
	// decision, and a shadowed Guard does not block anyway.
	pen.strikes, pen.level, pen.block = pen.strikes.Shadowed(false), pen.level.Shadowed(false), pen.block.Shadowed(false)
	return pen, nil
}

// blockedFor reports how long s is still blocked (0: not blocked).
func (pen *penalties) blockedFor(ctx context.Context, s Scope) time.Duration {
	key := pen.block.Key(s)
	now := pen.now()
	if until, ok := pen.blocked.load(key); ok {
		if d := time.Time(until).Sub(now); d > 0 {
			return d
		}
		// Ended; unless another goroutine recorded a new block meanwhile.
		pen.blocked.deleteIf(key, func(b blockEnd) bool { return !now.Before(time.Time(b)) })
	}
	res, err := pen.block.Peek(ctx, s)
	if err != nil || res.Allowed || res.Source == SourcePolicy {
		return 0 // a store outage never blocks anyone: the policy's answer is no block
	}
	pen.blocked.store(key, blockEnd(now.Add(res.RetryAfter)), now)
	return res.RetryAfter
}

// strike counts a denial of s and, on an offense, blocks s for the
// offense's duration, which it returns (0: no block). A step decided by the
// failure policy (the store out, no fallback) stops it: a policy denial is
// no evidence of flooding, and FailClosed would otherwise turn the first
// strike into the longest block.
func (pen *penalties) strike(ctx context.Context, s Scope) time.Duration {
	res, err := pen.strikes.Take(ctx, s, 1)
	if err != nil || res.Allowed || res.Source == SourcePolicy {
		return 0
	}
	lvl, err := pen.level.Take(ctx, s, 1)
	if err != nil || lvl.Source == SourcePolicy {
		return 0
	}
	n := maxOffenses - lvl.Remaining - 1 // offenses before this one
	if !lvl.Allowed {
		n = maxOffenses - 1
	}
	d := pen.p.Blocks[min(n, len(pen.p.Blocks)-1)]
	b, err := pen.block.Rule("pen.block", Every(d))
	if err != nil {
		return 0
	}
	if r, err := b.Shadowed(false).Take(ctx, s, 1); err != nil || r.Source == SourcePolicy {
		return 0
	}
	now := pen.now()
	pen.blocked.store(pen.block.Key(s), blockEnd(now.Add(d)), now)
	return d
}

// reset forgets s's strikes, offenses and block, in the store and on this
// instance.
func (pen *penalties) reset(ctx context.Context, s Scope) error {
	pen.blocked.delete(pen.block.Key(s))
	return errors.Join(pen.strikes.Reset(ctx, s), pen.level.Reset(ctx, s), pen.block.Reset(ctx, s))
}
