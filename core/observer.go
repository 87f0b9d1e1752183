package core

import "time"

// Observer hears about what a Limiter and the Guards over it do: every
// decision, every circuit breaker transition, and every action an adapter
// takes on a denial. Package metrics implements it for Prometheus.
//
// Set it with WithObserver; with none set, nothing is measured and nothing
// costs. Methods are called synchronously on the decision's goroutine, so
// they must be fast, must not block, and must be safe for concurrent use.
// Events carry rule names and kinds, never user or chat ids: an
// implementation that labels metrics by id would create one series per
// user.
type Observer interface {
	// Decision is called once per Limiter.Take (and so once per Guard
	// check of a limit), after the decision.
	Decision(DecisionEvent)
	// Breaker is called when the circuit breaker opens or closes.
	Breaker(BreakerEvent)
	// Action is called for each Bot API call an adapter makes on a denial
	// (answerCallbackQuery, answerInlineQuery, sendMessage for a notice).
	Action(ActionEvent)
}

// DecisionEvent describes one decision.
type DecisionEvent struct {
	// Prefix and Rule name the limiter ("floodgate", "msg"; "notice" for
	// the notify-once cooldown; "cmd.report" for a command limit).
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
	// Err is the store error or timeout that made the fallback or the
	// policy decide (an error saying "circuit breaker open" when the open
	// breaker kept the call away from the store), joined with the fallback
	// store's error when that failed too; the error of an InProcess store.
	// nil when the store answered.
	Err error
}

// BreakerEvent describes a circuit breaker transition.
type BreakerEvent struct {
	// Prefix names the limiter whose store it guards.
	Prefix string
	// Open is true when the breaker opened (the store is being skipped),
	// false when it closed again.
	Open bool
}

// ActionEvent describes one Bot API call an adapter made on a denial.
type ActionEvent struct {
	// Action is the Bot API method: "answerCallbackQuery",
	// "answerInlineQuery" or "sendMessage" (a notice).
	Action string
	// Kind is the kind of the update acted on.
	Kind Kind
	// Err is the call's error, nil if it succeeded.
	Err error
}
