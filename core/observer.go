package core

import "time"

// Observer hears about what Limiters and Resilient stores do: every
// decision, every store fault and every circuit breaker transition.
// Package metrics implements it for Prometheus.
//
// Give it to New (WithObserver) and to Resilient (Resilience.Observer);
// with none, nothing is measured and nothing costs. Methods are called
// synchronously on the caller's goroutine, so they must be fast, must not
// block, and must be safe for concurrent use. Events carry names and
// kinds, never user or chat ids: an implementation that labels metrics by
// id would create one series per user.
type Observer interface {
	// Decision is called once per Limiter.Take, after the decision.
	Decision(DecisionEvent)
	// Fault is called for each store error a Resilient store handles: the
	// failure policy or the fallback decided instead, or a Reset or Block
	// did not reach the store.
	Fault(FaultEvent)
	// Breaker is called when a Resilient store's circuit breaker opens or
	// closes.
	Breaker(BreakerEvent)
}

// DecisionEvent describes one decision.
type DecisionEvent struct {
	// Prefix and Rule name the limiter ("floodgate", "msg").
	Prefix, Rule string
	// Allowed is the decision as returned (true in shadow mode).
	Allowed bool
	// Shadow reports a denial that shadow mode let through.
	Shadow bool
	// Source says who decided: the store, the deny cache, the fallback or
	// the policy.
	Source Source
	// Latency is how long the decision took, store call included.
	Latency time.Duration
}

// FaultEvent describes one store error.
type FaultEvent struct {
	// Name is the Resilient store's Resilience.Name.
	Name string
	// Err is the error. errors.Is tells its kind: ErrKeyFault (one key's
	// problem), ErrMisconfigured (the deployment's), or anything else: the
	// store failed, or did not answer in time (context.DeadlineExceeded, or
	// a net.Error whose Timeout method reports true, as a client's own read
	// timeout gives).
	Err error
}

// BreakerEvent describes a circuit breaker transition.
type BreakerEvent struct {
	// Name is the Resilient store's Resilience.Name.
	Name string
	// Open is true when the breaker opened (the store is being skipped),
	// false when it closed again.
	Open bool
}
