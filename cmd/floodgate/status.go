package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/store/redisstore"
)

// line prints one "label: value" line of a report, aligned.
func line(w io.Writer, label, format string, args ...any) {
	fmt.Fprintf(w, "%-13s %s\n", label+":", fmt.Sprintf(format, args...))
}

// maxShownTimes is how many of a sliding-window key's stored times status
// lists, newest first.
const maxShownTimes = 10

// status prints what the limiter would decide for the scope now and what
// Redis holds for the key, from one redisstore Inspect: the decision Peek
// would make, the stored TAT or event times, and the TTL, read together on
// the server's clock. It only reads. A key that holds no valid state for
// the limit is reported as foreign, not decoded. When the user has no key
// but one exists under the other algorithm, it says so: the limit given is
// probably not the bots'.
func (c *cli) status(ctx context.Context, scope core.Scope) error {
	key := c.lim.Key(scope)
	who := shapeOf(c.lim).scopeOf(key)
	l := c.lim.Limit()
	states, err := c.rs.Inspect(ctx, l, key)
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	st, res := states[0], states[0].Result
	w := c.stdout
	line(w, "key", "%s", quote(key))
	line(w, "scope", "%s", who)
	line(w, "limit", "%v", l)
	if res.Allowed {
		line(w, "allowed", "yes (an update counted against %s now would go through)", who)
		line(w, "remaining", "%d (after that message; burst %d)", res.Remaining, l.Burst)
	} else {
		line(w, "allowed", "no (an update counted against %s now would be denied)", who)
		line(w, "remaining", "%d", res.Remaining)
	}
	line(w, "retry after", "%v", res.RetryAfter)
	line(w, "reset after", "%v", res.ResetAfter)
	switch {
	case st.Foreign:
		line(w, "stored", "FOREIGN: %s", foreign(l))
	case l.Algorithm == core.SlidingWindow:
		printWindow(w, l, st)
	case !st.Exists:
		line(w, "stored TAT", "none (no key: the full burst is available)")
	default:
		line(w, "stored TAT", "%s, %s", formatTime(st.TAT), relative(st.TAT.Sub(st.Now)))
	}
	line(w, "TTL", "%s", formatTTL(st))
	// A guard penalty (guard.WithPenalty) or a ban writes its block into
	// this key with core.Limiter.Block.
	if blocked(res) {
		line(w, "block", "blocked for %v more: longer than %v alone makes anyone wait (a guard penalty or a ban)",
			res.RetryAfter, l)
	} else {
		line(w, "block", "none")
	}
	if !st.Exists {
		return c.noteOtherAlgorithm(ctx, scope)
	}
	return nil
}

// noteOtherAlgorithm prints a note when the user's key exists under the
// other algorithm: the bots probably use that limit.
func (c *cli) noteOtherAlgorithm(ctx context.Context, scope core.Scope) error {
	ol, ok := otherAlgorithm(c.lim.Limit())
	if !ok {
		return nil
	}
	other, err := c.limiter(c.rs, ol)
	if err != nil {
		return err
	}
	states, err := c.rs.Inspect(ctx, ol, other.Key(scope))
	if err != nil {
		return fmt.Errorf("read %s: %w", other.Key(scope), err)
	}
	if states[0].Exists {
		fmt.Fprintf(c.stdout, "note: %s exists: do the bots use %q? (FLOODGATE_LIMIT or -limit)\n", quote(states[0].Key), ol.String())
	}
	return nil
}

// printWindow prints a sliding-window key's events: how many are in the
// window now, and the newest stored times (st.Times is oldest first).
func printWindow(w io.Writer, l core.Limit, st redisstore.State) {
	live := 0
	for _, t := range st.Times {
		if t.Add(l.Period).After(st.Now) {
			live++
		}
	}
	s := fmt.Sprintf("%d of %d events in the last %v", live, l.Rate, l.Period)
	if live > 0 { // the live events are the newest
		s += fmt.Sprintf("; the oldest leaves in %v", st.Times[len(st.Times)-live].Add(l.Period).Sub(st.Now))
	}
	line(w, "in window", "%s", s)
	if !st.Exists {
		line(w, "stored times", "none (no key: all %d events are available)", l.Rate)
		return
	}
	times := st.Times
	line(w, "stored times", "%d, newest first", len(times))
	for i := len(times) - 1; i >= 0 && i >= len(times)-maxShownTimes; i-- {
		t := times[i]
		where := "in the window"
		if !t.Add(l.Period).After(st.Now) {
			where = "left the window"
		}
		fmt.Fprintf(w, "%-13s %s, %s, %s\n", "", formatTime(t), ago(t.Sub(st.Now)), where)
	}
	if len(times) > maxShownTimes {
		fmt.Fprintf(w, "%-13s … and %d older\n", "", len(times)-maxShownTimes)
	}
}

// ago describes an event time's distance d from the server's clock.
func ago(d time.Duration) string {
	if d > 0 {
		return fmt.Sprintf("%v after server time (a Block?)", d)
	}
	return fmt.Sprintf("%v ago", -d)
}

// relative describes a TAT's distance d from the server's clock.
func relative(d time.Duration) string {
	if d > 0 {
		return fmt.Sprintf("%v after server time", d)
	}
	return fmt.Sprintf("%v before server time (fully replenished)", -d)
}

// reset forgets the scope's state for the rule through core and says which
// key went. For the main rule it resets as guard.Guard.Reset does: the
// limit's key (which holds any block), and the penalty strikes and offense
// level, so a next offense starts from the first block; the notice
// cooldown is kept. A foreign key is deleted too, saying so.
func (c *cli) reset(ctx context.Context, scope core.Scope) error {
	key := c.lim.Key(scope)
	who := shapeOf(c.lim).scopeOf(key)
	l := c.lim.Limit()
	states, err := c.rs.Inspect(ctx, l, key)
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	before := states[0]
	main, err := c.isMainRule()
	if err != nil {
		return err
	}
	if main {
		g, err := guard.New(c.lim, guard.WithPenalty(guard.DefaultPenalty)) // any Penalty: the keys do not depend on it
		if err != nil {
			return err
		}
		err = g.Reset(ctx, scope)
	} else {
		err = c.lim.Reset(ctx, scope)
	}
	if err != nil {
		return err
	}
	if before.Exists {
		fmt.Fprintf(c.stdout, "deleted %s: %s has the full burst (%d) again\n", quote(key), who, l.Burst)
	} else {
		fmt.Fprintf(c.stdout, "no key %s: %s already had the full burst\n", quote(key), who)
	}
	if main {
		fmt.Fprintf(c.stdout, "penalties: %s: strikes and offense level are cleared too (guard.Reset); "+
			"a next offense starts from the first block\n", who)
	}
	switch {
	case before.Foreign:
		fmt.Fprintf(c.stdout, "note: %s\n", foreign(l))
	case before.Exists && !before.Result.Allowed && l.Algorithm == core.GCRA:
		// Only GCRA denials enter a deny cache (core.Resilient).
		fmt.Fprintf(c.stdout, "note: bot instances that denied %s keep denying from their local deny cache "+
			"for up to %v (the wait it had)\n", who, before.Result.RetryAfter)
	}
	return nil
}

// isMainRule reports whether the CLI works on the bots' main limit (no
// -rule, or -rule naming the rule core.New gives), whose penalties a
// Guard keeps.
func (c *cli) isMainRule() (bool, error) {
	main, err := core.New(c.rs, c.lim.Limit(), core.WithPrefix(c.cfg.Prefix))
	if err != nil {
		return false, err
	}
	return main.Key(core.Global()) == c.lim.Key(core.Global()), nil
}
