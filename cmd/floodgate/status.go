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

// maxShownTimes is how many of a sliding-window key's stored times status
// lists, newest first.
const maxShownTimes = 10

// status prints what the limiter would decide for the user now and what
// Redis holds for the key. It only reads: under GCRA it asks the store
// (Peek, which writes nothing) and reads the TAT with GET; under a sliding
// window it reads the key's times with LRANGE and decides with
// core.DecideWindow on the node's clock, so the decision and the times
// printed are one snapshot. A key of the type the other algorithm keeps
// fails the command with a message saying so.
func (c *cli) status(ctx context.Context, userID int64) error {
	scope := core.User(userID)
	key := c.lim.Key(scope)
	l := c.lim.Limit()
	raw, err := readRaw(ctx, c.client, key, l)
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	w := c.stdout
	line(w, "key", "%s", key)
	line(w, "limit", "%v (rule %s)", l, c.lim.RuleName())
	if raw.kind != "none" && raw.kind != expectedType(l) {
		line(w, "stored", "%s", wrongType(raw.kind, l))
		line(w, "PTTL", "%s", formatPTTL(raw.pttl))
		return fmt.Errorf("%s %s", key, wrongType(raw.kind, l))
	}

	var (
		res   core.Result
		times []int64
	)
	if l.Algorithm == core.SlidingWindow {
		if times, err = parseTimes(raw.times); err != nil {
			return fmt.Errorf("%s: %w (not a floodgate key?)", key, err)
		}
		// DecideWindow reuses its argument's array: keep times for printing.
		res, _ = core.DecideWindow(l, append([]int64(nil), times...), raw.now, 1)
	} else if res, err = c.lim.Peek(ctx, scope); err != nil {
		return err
	}

	if res.Allowed {
		line(w, "allowed", "yes (a message from user %d now would go through)", userID)
		line(w, "remaining", "%d (after that message; burst %d)", res.Remaining, l.Burst)
	} else {
		line(w, "allowed", "no (a message from user %d now would be denied)", userID)
		line(w, "remaining", "%d", res.Remaining)
	}
	line(w, "retry after", "%v", res.RetryAfter)
	line(w, "reset after", "%v", res.ResetAfter)
	if l.Algorithm == core.SlidingWindow {
		printWindow(w, l, raw, times)
	} else {
		switch tat, err := strconv.ParseInt(raw.value, 10, 64); {
		case raw.kind == "none":
			line(w, "stored TAT", "none (no key: the full burst is available)")
		case err != nil:
			line(w, "stored TAT", "%q is not a TAT (not a floodgate key?)", raw.value)
		default:
			line(w, "stored TAT", "%d µs = %s, %s", tat, formatMicros(tat), relative(tat-raw.now))
		}
	}
	line(w, "PTTL", "%s", formatPTTL(raw.pttl))

	// A repeat-offender block (guard.WithPenalty) lives under rule
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

// printWindow prints a sliding-window key's events: how many are in the
// window now, and the newest stored times (times is oldest first, as read).
func printWindow(w io.Writer, l core.Limit, raw rawState, times []int64) {
	p := l.Period.Microseconds()
	live := 0
	for _, t := range times {
		if t+p > raw.now {
			live++
		}
	}
	s := fmt.Sprintf("%d of %d events in the last %v", live, l.Rate, l.Period)
	if live > 0 { // the live events are the newest
		s += fmt.Sprintf("; the oldest leaves in %v", time.Duration(times[len(times)-live]+p-raw.now)*time.Microsecond)
	}
	line(w, "in window", "%s", s)
	if raw.kind == "none" {
		line(w, "stored times", "none (no key: all %d events are available)", l.Rate)
		return
	}
	read := fmt.Sprintf("LRANGE 0 %d", l.Rate-1)
	if raw.length > int64(len(times)) {
		read += fmt.Sprintf(" of a list of %d: written under a larger limit?", raw.length)
	}
	line(w, "stored times", "%d, newest first (%s)", len(times), read)
	for i := len(times) - 1; i >= 0 && i >= len(times)-maxShownTimes; i-- {
		t := times[i]
		where := "in the window"
		if t+p <= raw.now {
			where = "left the window"
		}
		fmt.Fprintf(w, "%-13s %d µs = %s, %s, %s\n", "", t, formatMicros(t), ago(t-raw.now), where)
	}
	if len(times) > maxShownTimes {
		fmt.Fprintf(w, "%-13s … and %d older\n", "", len(times)-maxShownTimes)
	}
}

// formatMicros writes a time in µs since the epoch as UTC with µs.
func formatMicros(t int64) string {
	return time.UnixMicro(t).UTC().Format("2006-01-02T15:04:05.000000Z")
}

// ago describes an event time's distance d (µs) from the server's clock.
func ago(d int64) string {
	if d > 0 {
		return fmt.Sprintf("%v after server time (a Block?)", time.Duration(d)*time.Microsecond)
	}
	return fmt.Sprintf("%v ago", time.Duration(-d)*time.Microsecond)
}

// relative describes a TAT's distance d (µs) from the server's clock.
func relative(d int64) string {
	if d > 0 {
		return fmt.Sprintf("%v after server time", time.Duration(d)*time.Microsecond)
	}
	return fmt.Sprintf("%v before server time (fully replenished)", time.Duration(-d)*time.Microsecond)
}

// reset forgets the user's state for the rule and says which key went. It
// deletes a key of the wrong type too (saying so): whatever the limit, the
// key is the rule's state for the user.
func (c *cli) reset(ctx context.Context, userID int64) error {
	scope := core.User(userID)
	key := c.lim.Key(scope)
	l := c.lim.Limit()
	raw, err := readRaw(ctx, c.client, key, l)
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	// Only GCRA denials enter the bots' deny cache (core.WithDenyCache).
	var before core.Result
	if raw.kind == "string" && l.Algorithm == core.GCRA {
		if before, err = c.lim.Peek(ctx, scope); err != nil {
			return err
		}
	}
	if err := c.lim.Reset(ctx, scope); err != nil {
		return err
	}
	if raw.kind == "none" {
		fmt.Fprintf(c.stdout, "no key %s: user %d already had the full burst under rule %s; nothing deleted\n",
			key, userID, c.lim.RuleName())
		return nil
	}
	fmt.Fprintf(c.stdout, "deleted %s: user %d has the full burst (%d) under rule %s again\n",
		key, userID, l.Burst, c.lim.RuleName())
	if raw.kind != expectedType(l) {
		fmt.Fprintf(c.stdout, "note: %s\n", wrongType(raw.kind, l))
	}
	if l.Algorithm == core.GCRA && raw.kind == "string" && !before.Allowed {
		fmt.Fprintf(c.stdout, "note: bot instances that denied user %d keep denying from their local deny cache "+
			"for up to %v (the wait the user had)\n", userID, before.RetryAfter)
	}
	return nil
}
