package core

import "time"

// Result is the outcome of one decision. Every store returns the same Result
// for the same history of calls, limits and clock.
type Result struct {
	// Allowed reports whether the event was admitted (and its cost recorded).
	Allowed bool
	// Remaining is how many more events of cost 1 would be admitted right
	// now, after this decision: 0 when the burst is used up. A request of
	// cost n > 1 may be denied while up to n−1 events of cost 1 would still
	// pass (Remaining says how many); a denied cost-1 request always has
	// Remaining 0.
	Remaining int
	// RetryAfter is how long to wait before the same request would be
	// admitted; 0 when Allowed.
	RetryAfter time.Duration
	// ResetAfter is how long until the key is fully replenished (back to
	// Burst) if no further event arrives.
	ResetAfter time.Duration
	// Limit is the limit the decision was made under.
	Limit Limit
	// Source says who decided: the store (the zero value), or, over a
	// Resilient store, its deny cache, its fallback or its failure policy.
	Source Source
	// Shadow reports that the limit denied this event but the Limiter is in
	// shadow mode (WithShadow), so Allowed is true: nothing is blocked.
	// RetryAfter then says how long the event would have waited.
	Shadow bool
}

// Source says who made a decision.
type Source uint8

const (
	// SourceStore: the store decided.
	SourceStore Source = iota
	// SourceCache: a Resilient store's deny cache repeated a denial the
	// store made earlier, without a store call.
	SourceCache
	// SourceFallback: the store was out and a Resilient store's in-process
	// fallback decided (FailLocal).
	SourceFallback
	// SourcePolicy: the store was out and the failure policy decided
	// (FailOpen admits; FailClosed denies, and so does FailLocal when its
	// fallback fails too).
	SourcePolicy
)

var sourceNames = [...]string{"store", "cache", "fallback", "policy"}

// String returns "store", "cache", "fallback" or "policy".
func (s Source) String() string {
	if int(s) < len(sourceNames) {
		return sourceNames[s]
	}
	return "unknown"
}
