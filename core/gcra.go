package core

import "time"

// Result is the outcome of one decision. Every store returns the same Result
// for the same history of calls, limit and clock.
type Result struct {
	// Allowed reports whether the event was admitted (and its cost recorded).
	Allowed bool
	// Remaining is how many more events of cost 1 would be admitted right
	// now, after this decision: 0 when the burst is used up. A denial does
	// not make it 0: a request of cost n > 1 may be denied while up to n−1
	// events of cost 1 would still pass (Remaining says how many); a
	// denied cost-1 request always has Remaining 0.
	Remaining int
	// RetryAfter is how long to wait before the same request would be
	// admitted; 0 when Allowed.
	RetryAfter time.Duration
	// ResetAfter is how long until the key is fully replenished (back to
	// Burst) if no further event arrives: after an admitted event, the time
	// that event and those before it take to drain; after a denial, what was
	// already recorded.
	ResetAfter time.Duration
	// Limit is the limit the decision was made under.
	Limit Limit
	// Source says where the decision came from: the store (the zero
	// value), the local deny cache, or, while the store was out, the local
	// fallback or the failure policy.
	Source Source
	// Shadow reports that the limit denied this event but the limiter is in
	// shadow mode (WithShadow), so Allowed is true: nothing is blocked.
	// RetryAfter then says how long the event would have waited.
	Shadow bool
}

// Decide is the GCRA decision every store implements, written once in Go.
// The memory store calls it; the Redis store runs the same arithmetic in
// Lua, and the conformance suite checks that both agree.
//
// tat is the key's stored theoretical arrival time and now the store's
// clock, both in microseconds on the same clock; a tat ≤ now (or 0, for a
// key never seen) means the key is fully replenished. n is the cost (1 ≤ n ≤
// l.Burst, checked by the caller) and l must be valid.
//
// When the result is Allowed, newTAT is the value to store, with a time to
// live of at least newTAT-now; when denied, newTAT == tat and nothing must be
// written, so a denied caller cannot extend its own wait.
func Decide(l Limit, tat, now int64, n int) (res Result, newTAT int64) {
	t := l.intervalMicros()
	tolerance := int64(l.Burst) * t
	base := max(tat, now)
	next := base + int64(n)*t
	allowAt := next - tolerance
	res.Limit = l
	if allowAt > now {
		res.RetryAfter = micros(allowAt - now)
		res.ResetAfter = micros(base - now)
		res.Remaining = int(max(0, tolerance-(base-now)) / t)
		return res, tat
	}
	res.Allowed = true
	res.Remaining = int((now - allowAt) / t)
	res.ResetAfter = micros(next - now)
	return res, next
}

func micros(us int64) time.Duration { return time.Duration(us) * time.Microsecond }
