package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/floodgate-go/floodgate/core"
)

// line prints one "label: value" line of a report, aligned.
func line(w io.Writer, label, format string, args ...any) {
	fmt.Fprintf(w, "%-13s %s\n", label+":", fmt.Sprintf(format, args...))
}

// status prints what the limiter would decide for the user now (Peek, which
// writes nothing) and what Redis holds for the key.
func (c *cli) status(ctx context.Context, userID int64) error {
	scope := core.User(userID)
	key := c.lim.Key(scope)
	res, err := c.lim.Peek(ctx, scope)
	if err != nil {
		return err
	}
	raw, err := readRaw(ctx, c.client, key)
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}

	w := c.stdout
	l := c.lim.Limit()
	line(w, "key", "%s", key)
	line(w, "limit", "%v (rule %s)", l, c.lim.RuleName())
	if res.Allowed {
		line(w, "allowed", "yes (a message from user %d now would go through)", userID)
		line(w, "remaining", "%d (after that message; burst %d)", res.Remaining, l.Burst)
	} else {
		line(w, "allowed", "no (a message from user %d now would be denied)", userID)
		line(w, "remaining", "%d", res.Remaining)
	}
	line(w, "retry after", "%v", res.RetryAfter)
	line(w, "reset after", "%v", res.ResetAfter)
	switch tat, err := strconv.ParseInt(raw.value, 10, 64); {
	case !raw.exists:
		line(w, "stored TAT", "none (no key: the full burst is available)")
	case err != nil:
		line(w, "stored TAT", "%q is not a TAT (not a floodgate key?)", raw.value)
	default:
		line(w, "stored TAT", "%d µs = %s, %s", tat,
			time.UnixMicro(tat).UTC().Format("2006-01-02T15:04:05.000000Z"), relative(tat-raw.now))
	}
	line(w, "PTTL", "%s", formatPTTL(raw.pttl))

	// A repeat-offender block (core.WithPenalty) lives under rule
	// "pen.block": its TAT is the end of the block.
	block, err := c.lim.Rule("pen.block", core.Every(time.Hour))
	if err != nil {
		return err
	}
	switch pen, err := block.Peek(ctx, scope); {
	case err != nil:
		return fmt.Errorf("read the penalty: %w", err)
	case pen.Allowed:
		line(w, "penalty", "none")
	default:
		line(w, "penalty", "blocked for %v more (repeated flooding, key %s)", pen.RetryAfter, block.Key(scope))
	}

	return nil
}

// relative describes a TAT's distance d (µs) from the server's clock.
func relative(d int64) string {
	if d > 0 {
		return fmt.Sprintf("%v after server time", time.Duration(d)*time.Microsecond)
	}
	return fmt.Sprintf("%v before server time (fully replenished)", time.Duration(-d)*time.Microsecond)
}

// reset forgets the user's state for the rule and says which key went.
func (c *cli) reset(ctx context.Context, userID int64) error {
	scope := core.User(userID)
	key := c.lim.Key(scope)
	before, err := c.lim.Peek(ctx, scope)
	if err != nil {
		return err
	}
	n, err := c.client.Exists(ctx, key).Result()
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	if err := c.lim.Reset(ctx, scope); err != nil {
		return err
	}
	if n == 0 {
		fmt.Fprintf(c.stdout, "no key %s: user %d already had the full burst under rule %s; nothing deleted\n",
			key, userID, c.lim.RuleName())
		return nil
	}
	fmt.Fprintf(c.stdout, "deleted %s: user %d has the full burst (%d) under rule %s again\n",
		key, userID, c.lim.Limit().Burst, c.lim.RuleName())
	if !before.Allowed {
		fmt.Fprintf(c.stdout, "note: bot instances that denied user %d keep denying from their local deny cache "+
			"for up to %v (the wait the user had)\n", userID, before.RetryAfter)
	}
	return nil
}
