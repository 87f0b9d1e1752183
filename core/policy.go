package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// FailurePolicy is what a Limiter does when its store fails or does not
// answer within the decision timeout. It is chosen explicitly (WithPolicy);
// the default is FailLocal. It applies to every store, InProcess ones
// included (a memorystore at its WithMaxKeys cap fails for new keys).
type FailurePolicy uint8

const (
	// FailLocal decides with a local in-process store while the main store
	// is out. Each instance then enforces the whole limit on its own: with
	// N instances a user may get up to N times the limit until Redis is
	// back. The default: the bot stays protected and responsive. When the
	// failing store is itself in-process (an InProcess main store, or the
	// fallback store), there is nothing to fall back to, and FailLocal
	// denies, as FailClosed does.
	FailLocal FailurePolicy = iota
	// FailOpen admits every update while the store is out: no protection,
	// but nobody is wrongly throttled.
	FailOpen
	// FailClosed denies every update while the store is out: nothing gets
	// through, so the bot goes silent until Redis is back.
	FailClosed
)

var policyNames = [...]string{"local", "open", "closed"}

// String returns "local", "open" or "closed".
func (p FailurePolicy) String() string {
	if int(p) < len(policyNames) {
		return policyNames[p]
	}
	return fmt.Sprintf("FailurePolicy(%d)", p)
}

// ParseFailurePolicy reads "local", "open" or "closed" (any case). Other
// text returns an error wrapping ErrInvalidOption.
func ParseFailurePolicy(s string) (FailurePolicy, error) {
	for i, name := range policyNames {
		if strings.EqualFold(strings.TrimSpace(s), name) {
			return FailurePolicy(i), nil
		}
	}
	return 0, fmt.Errorf("core: %w: failure policy %q: want local, open or closed", ErrInvalidOption, s)
}

// Source says where a decision came from.
type Source uint8

const (
	// SourceStore: the store decided (Redis, or the memory store).
	SourceStore Source = iota
	// SourceCache: the local deny cache repeated a denial the store made
	// earlier, without calling the store.
	SourceCache
	// SourceFallback: the store was out and the local fallback store
	// decided (FailLocal).
	SourceFallback
	// SourcePolicy: the store was out and the policy decided (FailOpen
	// admits, FailClosed denies).
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

// Defaults of the resilience options.
const (
	// DefaultTimeout bounds each store call of a decision.
	DefaultTimeout = 50 * time.Millisecond
	// DefaultBreakerThreshold is how many consecutive store failures open
	// the circuit breaker.
	DefaultBreakerThreshold = 5
	// DefaultProbeInterval is how often an open breaker lets one decision
	// through to the store to see whether it is back.
	DefaultProbeInterval = 500 * time.Millisecond
)

// InProcess is implemented by stores that keep their state in the calling
// process and never block (store/memorystore). For them the Limiter skips
// the decision timeout, the circuit breaker and the deny cache, which could
// only add cost. Such a store may still fail (memorystore.ErrTooManyKeys for
// a new key when it is full): the failure policy then decides, FailLocal
// denying as FailClosed does, and no error reaches the caller.
type InProcess interface {
	// InProcess marks the store; it is never called.
	InProcess()
}

// errBreakerOpen is the error observers see for decisions the open breaker
// kept away from the store.
var errBreakerOpen = errors.New("core: circuit breaker open: store not called")

// Circuit breaker states.
const (
	breakerClosed int32 = iota // calls go to the store
	breakerOpen                // calls go to the policy; a probe is due at probeAt
)

// breaker stops calling a failing store after threshold consecutive
// failures, lets one probe through every interval, and closes again on the
// first success. Each transition is logged once.
type breaker struct {
	state     atomic.Int32
	failures  atomic.Int32
	probing   atomic.Bool
	mu        sync.Mutex // guards probeAt and transitions
	probeAt   time.Time
	threshold int32
	interval  time.Duration
	logger    *slog.Logger
	now       func() time.Time
	name      string
	observer  Observer // nil: none
}

// admit reports whether this call may go to the store, and whether it is a
// probe of an open breaker.
func (b *breaker) admit() (call, probe bool) {
	if b.state.Load() == breakerClosed {
		return true, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.now().Before(b.probeAt) || !b.probing.CompareAndSwap(false, true) {
		return false, false
	}
	return true, true
}

// success records a store answer.
func (b *breaker) success(probe bool) {
	if probe {
		b.mu.Lock()
		b.failures.Store(0)
		b.state.Store(breakerClosed)
		b.probing.Store(false)
		b.mu.Unlock()
		b.logger.Info("floodgate: store is back, circuit breaker closed", "limiter", b.name)
		if b.observer != nil {
			b.observer.Breaker(BreakerEvent{Prefix: b.name, Open: false})
		}
		return
	}
	if b.failures.Load() != 0 {
		b.failures.Store(0)
	}
}

// failure records a store error or timeout.
func (b *breaker) failure(probe bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if probe {
		b.probing.Store(false)
		b.probeAt = b.now().Add(b.interval)
		return
	}
	if b.failures.Add(1) < b.threshold || b.state.Load() == breakerOpen {
		return
	}
	b.state.Store(breakerOpen)
	b.probeAt = b.now().Add(b.interval)
	b.logger.Warn("floodgate: store failing, circuit breaker open; deciding by policy until it answers again",
		"limiter", b.name, "failures", b.threshold, "probe_every", b.interval, "error", err.Error())
	if b.observer != nil {
		b.observer.Breaker(BreakerEvent{Prefix: b.name, Open: true})
	}
}

// policyResult is the decision FailOpen or FailClosed makes without a store.
func policyResult(p FailurePolicy, l Limit) Result {
	if p == FailOpen {
		return Result{Allowed: true, Limit: l, Source: SourcePolicy}
	}
	return Result{RetryAfter: l.Interval(), Limit: l, Source: SourcePolicy}
}

// call runs f on the store when the breaker lets it, under the decision
// timeout, and tells the breaker how it went. It returns f's result, the
// caller's own error when its ctx ended (storeErr is then nil), and the
// store's error otherwise: errBreakerOpen when the open breaker kept f from
// running.
func (r *resilience) call(ctx context.Context, f func(context.Context) (Result, error)) (res Result, callerErr, storeErr error) {
	ok, probe := r.breaker.admit()
	if !ok {
		return Result{}, nil, errBreakerOpen
	}
	res, err, callerDone := storeCall(ctx, r.timeout, f)
	switch {
	case err == nil:
		r.breaker.success(probe)
		return res, nil, nil
	case callerDone:
		if probe {
			r.breaker.failure(true, err)
		}
		return Result{}, ctx.Err(), nil
	}
	r.breaker.failure(probe, err)
	return Result{}, nil, err
}

// storeCall runs f under the decision timeout. It reports whether the
// caller's own ctx ended (then the error is the caller's, not the store's).
func storeCall[T any](ctx context.Context, timeout time.Duration, f func(context.Context) (T, error)) (T, error, bool) {
	if timeout <= 0 {
		v, err := f(ctx)
		return v, err, ctx.Err() != nil
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	v, err := f(tctx)
	cancel()
	return v, err, ctx.Err() != nil
}
