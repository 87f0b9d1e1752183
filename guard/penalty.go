package guard

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/floodgate-go/floodgate/core"
)

// Penalty blocks repeat offenders: a key denied more than Strikes times
// within Window commits an offense and is blocked for Blocks[0], the next
// offense for Blocks[1], and so on (the last duration repeats). Offenses
// are forgotten one per Forget. Bypassed senders are never penalized.
//
// A block is written into the Guard's own limit with core.Limiter.Block,
// so every instance sees it in the decision it makes anyway: a penalty
// costs no store call on an update that passes, one on a denial (counting
// the strike), and three more on an offense (the offense level, the
// block, and forgetting the strikes, so the next offense takes Strikes
// more denials). Strikes and offense levels live in the store under their
// own rules ("pen.strikes", "pen.level"), each key with a TTL. During an outage, FailLocal counts
// strikes and blocks in the fallback, on this instance only; a denial made
// by the failure policy is the store's outage, not the user's flooding,
// and is no strike. A shadowed Guard denies nothing, so it penalizes no
// one.
type Penalty struct {
	// Strikes is how many denials within Window are tolerated. ≥ 1.
	Strikes int
	// Window is the span Strikes are counted over. ≥ 1 ms.
	Window time.Duration
	// Blocks are the block durations of the first, second, … offense;
	// the last one repeats. At least one, each from 1 ms to core.MaxBlock.
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
func WithPenalty(p Penalty) Option { return func(c *config) { c.penalty = &p } }

// penalties is the Guard's machinery for one Penalty.
type penalties struct {
	p       Penalty
	lim     *core.Limiter // the Guard's limit, which a block stops
	strikes *core.Limiter // Strikes per Window: a denied Take is an offense
	level   *core.Limiter // one token per offense, refilled one per Forget
}

func newPenalties(lim *core.Limiter, p Penalty) (*penalties, error) {
	if p.Forget == 0 {
		p.Forget = 24 * time.Hour
	}
	if p.Strikes < 1 || p.Window < time.Millisecond || len(p.Blocks) == 0 || p.Forget < time.Millisecond {
		return nil, fmt.Errorf("guard: %w: penalty needs Strikes ≥ 1, Window ≥ 1ms, at least one block, Forget ≥ 1ms",
			core.ErrInvalidOption)
	}
	for _, b := range p.Blocks {
		if b < time.Millisecond || b > core.MaxBlock {
			return nil, fmt.Errorf("guard: %w: penalty block %v is outside 1ms..%v", core.ErrInvalidOption, b, core.MaxBlock)
		}
	}
	pen := &penalties{p: p, lim: lim}
	var err error
	if pen.strikes, err = lim.Rule("pen.strikes", core.Limit{Rate: p.Strikes, Period: p.Window, Burst: p.Strikes}); err != nil {
		return nil, fmt.Errorf("guard: penalty: %w", err)
	}
	if pen.level, err = lim.Rule("pen.level", core.Limit{Rate: 1, Period: p.Forget, Burst: maxOffenses}); err != nil {
		return nil, fmt.Errorf("guard: penalty: %w", err)
	}
	return pen, nil
}

// strike counts a denial of s and, on an offense, blocks s for the
// offense's duration, which it returns (0: no block). A step decided by the
// failure policy stops it: a policy denial is no evidence of flooding.
func (pen *penalties) strike(ctx context.Context, s core.Scope) time.Duration {
	res, err := pen.strikes.Take(ctx, s, 1)
	if err != nil || res.Allowed || res.Source == core.SourcePolicy {
		return 0
	}
	lvl, err := pen.level.Take(ctx, s, 1)
	if err != nil || lvl.Source == core.SourcePolicy {
		return 0
	}
	n := maxOffenses - lvl.Remaining - 1 // offenses before this one
	if !lvl.Allowed {
		n = maxOffenses - 1
	}
	d := pen.p.Blocks[min(n, len(pen.p.Blocks)-1)]
	if err := pen.lim.Block(ctx, s, d); err != nil {
		return 0
	}
	// Count the next offense afresh: a block no longer than the limit's
	// own wait leaves later denials looking like strikes, and each would
	// otherwise be an offense of its own, escalating at every update.
	_ = pen.strikes.Reset(ctx, s)
	return d
}

// reset forgets s's strikes and offenses (the block lives in the Guard's
// limit, which Guard.Reset resets).
func (pen *penalties) reset(ctx context.Context, s core.Scope) error {
	return errors.Join(pen.strikes.Reset(ctx, s), pen.level.Reset(ctx, s))
}
