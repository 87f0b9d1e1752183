package core

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidLimit is wrapped by every error that reports a Limit which cannot
// be enforced (rate ≤ 0, period < 1 ms, burst < 1, overflow, unparsable text).
// Branch on it with errors.Is; the message names the field at fault.
var ErrInvalidLimit = errors.New("invalid limit")

// minPeriod is the shortest Period a Limit may have.
const minPeriod = time.Millisecond

// maxWindowRate is the largest Rate a SlidingWindow Limit may have: each
// key keeps one timestamp per admitted event still in its window.
const maxWindowRate = 10_000

// maxTolerance bounds Burst × emission interval (about 35.7 years in
// microseconds). It keeps every GCRA value below 2^53 so that Redis' Lua,
// whose numbers are float64, computes exactly what Go computes.
const maxTolerance = int64(1) << 50

// Limit is "Rate events per Period, at most Burst at once".
//
// A Limit is a plain value: pass it on each call, compare it with ==, and
// print it with String (which ParseLimit reads back). The zero Limit is
// invalid; build one with PerSecond, PerMinute, Every, Window, ParseLimit or
// a literal, and check a literal with Validate.
//
// Stores count in whole microseconds. Period must be a whole number of
// them; the GCRA emission interval, Period/Rate, is rounded up to one when
// Rate does not divide Period exactly, so a limiter never admits more than
// the Limit states (see docs/algorithms.md).
//
// A key's state outlives a change of its Limit (a new FLOODGATE_LIMIT, a
// Limit passed per call): under GCRA the stored theoretical arrival time is
// read under the new Limit as it is. Moving to a larger Burst or a longer
// interval can then admit, at the instant of the change, up to the old
// events still counted plus the new Burst: ten events under "10/10ms" then
// "1/s burst 10" admit 19 at one instant, where each limit alone admits
// 10. From then on the new Limit holds. A sliding window keeps event
// times, which any Limit reads exactly.
type Limit struct {
	// Rate is how many events are admitted per Period, on average. ≥ 1.
	Rate int
	// Period is the window Rate refers to: at least 1 ms, a whole number of
	// microseconds; sub-second periods work.
	Period time.Duration
	// Burst is how many events may arrive at once after a quiet spell. ≥ 1.
	// A Limit built by the helpers has Burst == Rate; a SlidingWindow Limit
	// must have Burst == Rate.
	Burst int
	// Algorithm is how the Limit is enforced: GCRA (the zero value) or
	// SlidingWindow (see Window).
	Algorithm Algorithm
}

// PerSecond returns a Limit of n events per second with a burst of n.
func PerSecond(n int) Limit { return Limit{Rate: n, Period: time.Second, Burst: n} }

// PerMinute returns a Limit of n events per minute with a burst of n.
func PerMinute(n int) Limit { return Limit{Rate: n, Period: time.Minute, Burst: n} }

// Every returns a Limit of one event per d with a burst of 1: "one message
// per d", d free to be sub-second.
func Every(d time.Duration) Limit { return Limit{Rate: 1, Period: d, Burst: 1} }

// Window returns a SlidingWindow Limit: at most n events in any span of
// period. Validate says what is wrong with an n or period it cannot use
// (n from 1 to 10 000, period as for any Limit).
func Window(n int, period time.Duration) Limit {
	return Limit{Rate: n, Period: period, Burst: n, Algorithm: SlidingWindow}
}

// WithBurst returns a copy of l whose Burst is b.
func (l Limit) WithBurst(b int) Limit { l.Burst = b; return l }

// Validate reports why l cannot be enforced, or nil. The error wraps
// ErrInvalidLimit and names the field at fault (Rate, Period, Burst or
// Algorithm). Beyond the rules on each field, Burst × Period/Rate must stay
// under about 35 years, and a SlidingWindow Rate at most 10 000.
func (l Limit) Validate() error {
	switch {
	case l.Rate < 1:
		return limitErr("Rate", "must be at least 1, got %d", l.Rate)
	case l.Period < minPeriod:
		return limitErr("Period", "must be at least %v, got %v", minPeriod, l.Period)
	case l.Period%time.Microsecond != 0:
		return limitErr("Period", "must be a whole number of microseconds, got %v", l.Period)
	case l.Burst < 1:
		return limitErr("Burst", "must be at least 1, got %d", l.Burst)
	case int64(l.Rate) > l.Period.Microseconds():
		return limitErr("Rate", "%d per %v is more than one event per microsecond", l.Rate, l.Period)
	case l.Algorithm > SlidingWindow:
		return limitErr("Algorithm", "unknown algorithm %d", l.Algorithm)
	case l.Algorithm == SlidingWindow && l.Burst != l.Rate:
		return limitErr("Burst", "of a sliding window must equal Rate (%d), got %d", l.Rate, l.Burst)
	case l.Algorithm == SlidingWindow && l.Rate > maxWindowRate:
		return limitErr("Rate", "of a sliding window must be at most %d, got %d (use GCRA for larger rates)",
			maxWindowRate, l.Rate)
	case l.Algorithm == SlidingWindow && l.Period.Microseconds() > maxTolerance:
		return limitErr("Period", "%v exceeds the longest supported window (about 35 years)", l.Period)
	case int64(l.Burst) > maxTolerance/l.intervalMicros():
		return limitErr("Burst", "%d × (%v / %d) exceeds the longest supported window (about 35 years)",
			l.Burst, l.Period, l.Rate)
	}
	return nil
}

func limitErr(field, format string, args ...any) error {
	return fmt.Errorf("core: %w: %s %s", ErrInvalidLimit, field, fmt.Sprintf(format, args...))
}

// Interval returns the GCRA emission interval: the time one event "costs",
// Period/Rate rounded up to a whole microsecond. It is 0 when Rate < 1 or
// Period < 1 µs, and otherwise computed without the other checks of
// Validate, so stores may call it on every decision.
func (l Limit) Interval() time.Duration {
	if l.Rate < 1 || l.Period < time.Microsecond {
		return 0
	}
	return time.Duration(l.intervalMicros()) * time.Microsecond
}

// intervalMicros is Period/Rate in microseconds, rounded up. Rate ≥ 1 and
// Period a whole number of microseconds.
func (l Limit) intervalMicros() int64 {
	p := l.Period.Microseconds()
	r := int64(l.Rate)
	return (p + r - 1) / r
}

// String formats l in the syntax ParseLimit reads: "20/m", "5/10s",
// "10/100ms", " burst N" appended when Burst differs from Rate, and
// " window" appended for a SlidingWindow Limit.
func (l Limit) String() string {
	s := strconv.Itoa(l.Rate) + "/" + formatPeriod(l.Period)
	if l.Burst != l.Rate {
		s += " burst " + strconv.Itoa(l.Burst)
	}
	if l.Algorithm == SlidingWindow {
		s += " window"
	}
	return s
}

func formatPeriod(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}} {
		if d > 0 && d%u.d == 0 {
			if d == u.d {
				return u.name
			}
			return strconv.FormatInt(int64(d/u.d), 10) + u.name
		}
	}
	return d.String()
}

// periodUnits are the unit names ParseLimit accepts after the slash.
var periodUnits = map[string]time.Duration{
	"ms": time.Millisecond, "msec": time.Millisecond, "millisecond": time.Millisecond,
	"s": time.Second, "sec": time.Second, "second": time.Second,
	"m": time.Minute, "min": time.Minute, "minute": time.Minute,
	"h": time.Hour, "hr": time.Hour, "hour": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour,
}

// ParseLimit reads a Limit written as "RATE/PERIOD" with an optional
// " burst N" (GCRA) or " window" (SlidingWindow: at most RATE in any
// PERIOD):
//
//	1/s            one per second, burst 1
//	20/m           twenty per minute, burst 20
//	5/10s          five per ten seconds, burst 5
//	10/100ms       ten per 100 ms (sub-second periods work)
//	100/h burst 10 a hundred per hour, at most ten at once
//	1000/d         a thousand per day
//	20/m window    at most twenty in any minute (SlidingWindow)
//
// PERIOD is a unit (ms, s, m, h, d; or millisecond, second, minute, hour, day,
// also plural), or a number and a unit ("10s", "1.5s", "2d", "1m30s": Go
// duration syntax plus "d"). Without " burst N", Burst equals RATE. Spaces
// around the parts and letter case do not matter. The result is validated: a
// malformed or unenforceable text returns an error wrapping ErrInvalidLimit
// that names the part at fault.
func ParseLimit(s string) (Limit, error) {
	text := strings.ToLower(strings.TrimSpace(s))
	text, window := strings.CutSuffix(text, "window")
	body, burstText, hasBurst := strings.Cut(text, "burst")
	rateText, periodText, ok := strings.Cut(body, "/")
	if !ok {
		return Limit{}, fmt.Errorf("core: %w: %q: want RATE/PERIOD such as 20/m or 5/10s", ErrInvalidLimit, s)
	}
	rate, err := parseCount(rateText)
	if err != nil {
		return Limit{}, fmt.Errorf("core: %w: %q: Rate %v", ErrInvalidLimit, s, err)
	}
	period, err := parsePeriod(strings.TrimSpace(periodText))
	if err != nil {
		return Limit{}, fmt.Errorf("core: %w: %q: Period %v", ErrInvalidLimit, s, err)
	}
	l := Limit{Rate: rate, Period: period, Burst: rate}
	if hasBurst {
		if l.Burst, err = parseCount(burstText); err != nil {
			return Limit{}, fmt.Errorf("core: %w: %q: Burst %v", ErrInvalidLimit, s, err)
		}
	}
	if window {
		l.Algorithm = SlidingWindow
	}
	if err := l.Validate(); err != nil {
		return Limit{}, err
	}
	return l, nil
}

// parseCount reads a positive decimal integer that fits an int.
func parseCount(s string) (int, error) {
	s = strings.TrimSpace(s)
	n, err := strconv.ParseInt(s, 10, 0)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return 0, fmt.Errorf("%q is too large", s)
	case err != nil:
		return 0, fmt.Errorf("%q is not a whole number", s)
	case n < 1:
		return 0, fmt.Errorf("must be at least 1, got %d", n)
	}
	return int(n), nil
}

func parsePeriod(s string) (time.Duration, error) {
	if d, ok := periodUnits[strings.TrimSuffix(s, "s")]; ok && len(s) > 2 { // "seconds", "days"
		return d, nil
	}
	if d, ok := periodUnits[s]; ok {
		return d, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if strings.Trim(days, "0123456789.") != "" {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		n, err := strconv.ParseFloat(days, 64)
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) || n <= 0 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		// Compare the product, not n: n*24h may round up to exactly 2^63,
		// whose conversion to int64 is implementation-defined (on amd64 it
		// yields math.MinInt64, a negative period).
		ns := n * float64(24*time.Hour)
		if ns >= float64(math.MaxInt64) {
			return 0, fmt.Errorf("%q is too long", s)
		}
		return time.Duration(ns), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a period (use ms, s, m, h, d, or e.g. 10s)", s)
	}
	return d, nil
}

// Algorithm selects how a Limit is enforced.
type Algorithm uint8

const (
	// GCRA (the zero value) spaces events Period/Rate apart on average and
	// lets Burst of them through at once after a quiet spell. It keeps one
	// integer per key whatever the Limit, so it suits per-user limits. Over
	// any span of Period it may admit up to Burst + Rate - 1 events: "20/m"
	// is a rate, not a cap on every minute.
	GCRA Algorithm = iota
	// SlidingWindow admits at most Rate events in ANY span of Period, which
	// is what an upstream quota such as "20 messages per minute to one
	// group" means. It remembers the time of each of the last Rate events,
	// so a key costs O(Rate) memory and time: Rate is at most 10 000, and
	// Burst must equal Rate.
	SlidingWindow
)

// String returns "gcra" or "window".
func (a Algorithm) String() string {
	switch a {
	case GCRA:
		return "gcra"
	case SlidingWindow:
		return "window"
	}
	return fmt.Sprintf("Algorithm(%d)", uint8(a))
}
