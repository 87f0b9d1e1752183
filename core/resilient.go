package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// FailurePolicy is what a Resilient store does when the store it wraps
// fails or does not answer within the timeout. The default is FailLocal.
type FailurePolicy uint8

const (
	// FailLocal decides with the in-process Resilience.Fallback store while
	// the store is out. Each instance then enforces the whole limit on its
	// own: with N instances a user may get up to N times the limit until
	// the store is back. The default: the bot stays protected and
	// responsive.
	FailLocal FailurePolicy = iota
	// FailOpen admits every event while the store is out: no protection,
	// but nobody is wrongly throttled.
	FailOpen
	// FailClosed denies every event while the store is out: nothing gets
	// through, so the bot goes silent until the store is back.
	FailClosed
)

var policyNames = [...]string{"local", "open", "closed"}

// String returns "local", "open" or "closed", the names
// FLOODGATE_FAILURE_POLICY takes.
func (p FailurePolicy) String() string {
	if int(p) < len(policyNames) {
		return policyNames[p]
	}
	return fmt.Sprintf("FailurePolicy(%d)", p)
}

// Resilience configures Resilient. A zero field takes the default its
// comment gives; Fallback has none and is required under FailLocal.
type Resilience struct {
	// Policy decides while the store is out (default FailLocal).
	Policy FailurePolicy
	// Fallback is the in-process store FailLocal decides with, e.g.
	// memorystore.New(). It keeps the state of this instance only.
	Fallback Store
	// Timeout bounds each store call (default 50 ms). A call that takes
	// longer counts as a failure, although the store may still apply it.
	Timeout time.Duration
	// BreakerThreshold is how many consecutive store failures open the
	// circuit breaker (default 5).
	BreakerThreshold int
	// ProbeInterval is how often an open breaker lets one call through to
	// see whether the store is back (default 500 ms).
	ProbeInterval time.Duration
	// NoDenyCache turns the deny cache off (default on).
	NoDenyCache bool
	// Name labels log lines and Observer events, e.g. the key prefix
	// (default "floodgate").
	Name string
	// Observer hears of every fault and breaker transition (default none).
	Observer Observer
	// Logger receives breaker transitions (warn, info) and the first fault
	// of each kind (warn; error for ErrMisconfigured). Default
	// slog.Default().
	Logger *slog.Logger
	// Clock is the time of the deny cache and the breaker (default
	// time.Now), for tests. Decisions take their time from the store.
	Clock func() time.Time
}

// Defaults of Resilience.
const (
	defaultTimeout   = 50 * time.Millisecond
	defaultThreshold = 5
	defaultProbe     = 500 * time.Millisecond
)

// Resilient wraps store, typically Redis, so that its failures never reach
// the bot: every call (Take, Peek, TakeAll, Reset, Block) runs under one
// timeout and one circuit breaker, and a decision the store cannot make is
// made by the failure policy instead, with Result.Source saying so:
//
//   - FailLocal decides with the Fallback store (SourceFallback), and denies
//     (SourcePolicy) if the fallback fails too;
//   - FailOpen admits, FailClosed denies with a RetryAfter of one interval
//     (SourcePolicy).
//
// Store errors come in three kinds (see Store). An outage (a refused or
// timed-out connection, a server that is loading, read-only or out of
// memory) counts toward the breaker: after BreakerThreshold in a row the
// store is skipped, so an outage costs no timeout per call, and one call
// every ProbeInterval checks whether it is back. A fault of one key
// (ErrKeyFault) or of the deployment (ErrMisconfigured) proves the store
// answered: it never opens the breaker and never moves another key off the
// store; only that call is decided by the policy.
//
// The deny cache remembers, per key, until when the store's last GCRA
// denial holds, and denies again locally until then (SourceCache): a
// flooding user costs about one store call per RetryAfter. It is exact
// because a denial writes nothing and other instances can only move a key
// later; a Reset made on another instance is seen once the wait ends.
// Its memory is bounded by time: an access sweeps its shard of ended
// denials at most every 10 s of the Clock, and a shard left with under a
// quarter of its peak is rebuilt, so a flood of denied ids gives its
// memory back once their waits end.
//
// Reset and Block apply to the Fallback too (so a block holds through an
// outage) and return the store's error, if any. Take, Peek and TakeAll
// return only the caller's ctx.Err(). Errors wrap ErrInvalidOption for a
// nil store, an unknown policy, a negative duration or threshold, or
// FailLocal without a Fallback.
func Resilient(store Store, r Resilience) (Store, error) {
	switch {
	case store == nil:
		return nil, fmt.Errorf("core: %w: Resilient needs a store", ErrInvalidOption)
	case r.Policy > FailClosed:
		return nil, fmt.Errorf("core: %w: unknown failure policy %d", ErrInvalidOption, r.Policy)
	case r.Policy == FailLocal && r.Fallback == nil:
		return nil, fmt.Errorf("core: %w: Resilience.Fallback is nil: FailLocal needs an in-process store such as memorystore.New()",
			ErrInvalidOption)
	case r.Timeout < 0 || r.ProbeInterval < 0 || r.BreakerThreshold < 0:
		return nil, fmt.Errorf("core: %w: Resilience: Timeout (%v), ProbeInterval (%v) and BreakerThreshold (%d) must not be negative",
			ErrInvalidOption, r.Timeout, r.ProbeInterval, r.BreakerThreshold)
	}
	if r.Timeout == 0 {
		r.Timeout = defaultTimeout
	}
	if r.BreakerThreshold == 0 {
		r.BreakerThreshold = defaultThreshold
	}
	if r.ProbeInterval == 0 {
		r.ProbeInterval = defaultProbe
	}
	if r.Name == "" {
		r.Name = DefaultPrefix
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	if r.Clock == nil {
		r.Clock = time.Now
	}
	if r.Policy != FailLocal {
		r.Fallback = nil
	}
	s := &resilient{store: store, cfg: r, breaker: breaker{threshold: int32(r.BreakerThreshold)}}
	if !r.NoDenyCache {
		s.cache = newDenyCache()
	}
	return s, nil
}

// resilient is the Store Resilient returns.
type resilient struct {
	store   Store
	cfg     Resilience
	breaker breaker
	cache   *denyCache // nil: off

	keyFaultLogged, configLogged atomic.Bool
}

var _ Store = (*resilient)(nil)

// errBreakerOpen is the error of a call the open breaker kept from the
// store.
var errBreakerOpen = errors.New("core: circuit breaker open: store not called")

func (s *resilient) Take(ctx context.Context, key string, l Limit, n int) (Result, error) {
	var now time.Time
	if s.cache != nil {
		now = s.cfg.Clock()
		if res, ok := s.cache.check(key, l, n, now); ok {
			return res, nil
		}
	}
	var res Result
	callerErr, fault := s.call(ctx, func(ctx context.Context) (err error) {
		res, err = s.store.Take(ctx, key, l, n)
		return err
	})
	switch {
	case callerErr != nil:
		return Result{}, callerErr
	case fault == nil:
		if s.cache != nil {
			s.cache.note(key, res, n, now)
		}
		return res, nil
	}
	return s.decide(ctx, l, func(fb Store) (Result, error) { return fb.Take(ctx, key, l, n) })
}

func (s *resilient) Peek(ctx context.Context, key string, l Limit) (Result, error) {
	var res Result
	callerErr, fault := s.call(ctx, func(ctx context.Context) (err error) {
		res, err = s.store.Peek(ctx, key, l)
		return err
	})
	switch {
	case callerErr != nil:
		return Result{}, callerErr
	case fault == nil:
		return res, nil
	}
	return s.decide(ctx, l, func(fb Store) (Result, error) { return fb.Peek(ctx, key, l) })
}

func (s *resilient) TakeAll(ctx context.Context, lanes []Lane, n int) (Result, error) {
	var res Result
	callerErr, fault := s.call(ctx, func(ctx context.Context) (err error) {
		res, err = s.store.TakeAll(ctx, lanes, n)
		return err
	})
	switch {
	case callerErr != nil:
		return Result{}, callerErr
	case fault == nil:
		return res, nil
	}
	return s.decide(ctx, lanes[0].Limit, func(fb Store) (Result, error) { return fb.TakeAll(ctx, lanes, n) })
}

func (s *resilient) Reset(ctx context.Context, key string) error {
	if s.cache != nil {
		s.cache.forget(key)
	}
	if fb := s.cfg.Fallback; fb != nil {
		_ = fb.Reset(ctx, key)
	}
	return s.write(ctx, func(ctx context.Context) error { return s.store.Reset(ctx, key) })
}

func (s *resilient) Block(ctx context.Context, key string, l Limit, d time.Duration) error {
	if s.cache != nil {
		s.cache.forget(key)
	}
	if fb := s.cfg.Fallback; fb != nil {
		_ = fb.Block(ctx, key, l, d) // so that the block holds when the store fails next
	}
	return s.write(ctx, func(ctx context.Context) error { return s.store.Block(ctx, key, l, d) })
}

// write runs a Reset or Block on the store and returns the caller's or the
// store's error.
func (s *resilient) write(ctx context.Context, op func(context.Context) error) error {
	callerErr, fault := s.call(ctx, op)
	if callerErr != nil {
		return callerErr
	}
	return fault
}

// decide is the failure policy's decision under l for a call the store
// could not answer; local makes it on the fallback under FailLocal.
func (s *resilient) decide(ctx context.Context, l Limit, local func(Store) (Result, error)) (Result, error) {
	switch s.cfg.Policy {
	case FailOpen:
		return Result{Allowed: true, Limit: l, Source: SourcePolicy}, nil
	case FailLocal:
		res, err := local(s.cfg.Fallback)
		if err == nil {
			res.Source = SourceFallback
			return res, nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return Result{}, ctxErr
		}
		s.report(fmt.Errorf("core: fallback store: %w", err))
	}
	return Result{RetryAfter: l.Interval(), Limit: l, Source: SourcePolicy}, nil
}

// call runs op on the store when the breaker lets it, under the timeout,
// and tells the breaker how it went. It returns the caller's ctx.Err() when
// that ended (fault is then nil), and otherwise the store's error, nil when
// the store answered: errBreakerOpen when the open breaker kept op from
// running.
func (s *resilient) call(ctx context.Context, op func(context.Context) error) (callerErr, fault error) {
	probe, ok := s.breaker.admit(s.cfg.Clock)
	if !ok {
		return nil, errBreakerOpen
	}
	tctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	err := op(tctx)
	cancel()
	switch {
	case err == nil:
		s.answered(probe)
		return nil, nil
	case ctx.Err() != nil:
		if probe { // no verdict on the store: probe again later
			s.breaker.failed(true, s.cfg.Clock, s.cfg.ProbeInterval)
		}
		return ctx.Err(), nil
	}
	s.report(err)
	if errors.Is(err, ErrKeyFault) || errors.Is(err, ErrMisconfigured) {
		s.answered(probe) // the store is up: the fault is not an outage
		return nil, err
	}
	if s.breaker.failed(probe, s.cfg.Clock, s.cfg.ProbeInterval) {
		s.cfg.Logger.Warn("floodgate: store failing, circuit breaker open; deciding by policy until it answers again",
			"store", s.cfg.Name, "policy", s.cfg.Policy.String(), "failures", s.cfg.BreakerThreshold,
			"probe_every", s.cfg.ProbeInterval, "error", err.Error())
		if o := s.cfg.Observer; o != nil {
			o.Breaker(BreakerEvent{Name: s.cfg.Name, Open: true})
		}
	}
	return nil, err
}

// answered tells the breaker that the store answered.
func (s *resilient) answered(probe bool) {
	if !s.breaker.succeeded(probe) {
		return
	}
	s.cfg.Logger.Info("floodgate: store is back, circuit breaker closed", "store", s.cfg.Name)
	if o := s.cfg.Observer; o != nil {
		o.Breaker(BreakerEvent{Name: s.cfg.Name, Open: false})
	}
}

// report tells the observer of a store error and logs the first fault of
// one key and the first of the deployment. Outages are logged when they
// open the breaker.
func (s *resilient) report(err error) {
	if o := s.cfg.Observer; o != nil {
		o.Fault(FaultEvent{Name: s.cfg.Name, Err: err})
	}
	switch {
	case errors.Is(err, ErrMisconfigured):
		if s.configLogged.CompareAndSwap(false, true) {
			s.cfg.Logger.Error("floodgate: store misconfigured; deciding by policy until fixed (logged once)",
				"store", s.cfg.Name, "policy", s.cfg.Policy.String(), "error", err.Error())
		}
	case errors.Is(err, ErrKeyFault):
		if s.keyFaultLogged.CompareAndSwap(false, true) {
			s.cfg.Logger.Warn("floodgate: a key the store cannot use; that key is decided by policy, the others by the store (logged once)",
				"store", s.cfg.Name, "policy", s.cfg.Policy.String(), "error", err.Error())
		}
	}
}

// breaker stops calling a failing store after threshold consecutive
// failures, lets one probe through every interval, and closes again on the
// first answer.
type breaker struct {
	open      atomic.Bool
	failures  atomic.Int32
	threshold int32
	mu        sync.Mutex // guards probing, probeAt and transitions
	probing   bool
	probeAt   time.Time
}

// admit reports whether a call may go to the store, and whether it is the
// probe of an open breaker.
func (b *breaker) admit(now func() time.Time) (probe, ok bool) {
	if !b.open.Load() {
		return false, true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.probing || now().Before(b.probeAt) {
		return false, false
	}
	b.probing = true
	return true, true
}

// succeeded records an answer of the store and reports whether it closed
// the breaker.
func (b *breaker) succeeded(probe bool) bool {
	if !probe {
		if b.failures.Load() != 0 {
			b.failures.Store(0)
		}
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
	b.failures.Store(0)
	return b.open.CompareAndSwap(true, false)
}

// failed records a failure (or, for a probe, a call without a verdict) and
// reports whether it opened the breaker.
func (b *breaker) failed(probe bool, now func() time.Time, interval time.Duration) bool {
	if !probe && b.failures.Add(1) < b.threshold {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probeAt = now().Add(interval)
	if probe {
		b.probing = false
		return false
	}
	return b.open.CompareAndSwap(false, true)
}

// denyCache remembers, per key, until when the store's last GCRA denial
// holds (see Resilient).
type denyCache struct {
	entries shardMap[denial]
}

// denial is what the store said, on the local clock.
type denial struct {
	limit   Limit
	allowAt time.Time // when a cost-1 request would first pass
	resetAt time.Time // when the key would be fully replenished
}

// expiry implements expiring: past allowAt the store decides again.
func (d denial) expiry() time.Time { return d.allowAt }

func newDenyCache() *denyCache {
	c := &denyCache{}
	c.entries.init()
	return c
}

// note records the store's decision of cost n made at now: a GCRA denial
// is remembered; an admission drops what was remembered, since a denial for
// a larger cost no longer holds as it was.
func (c *denyCache) note(key string, res Result, n int, now time.Time) {
	if res.Allowed {
		c.forget(key)
		return
	}
	if res.RetryAfter <= 0 || res.Limit.Algorithm != GCRA {
		return
	}
	c.entries.store(key, denial{
		limit:   res.Limit,
		allowAt: now.Add(res.RetryAfter - time.Duration(n-1)*res.Limit.Interval()),
		resetAt: now.Add(res.ResetAfter),
	}, now)
}

// check returns the cached denial for a request of cost n under l at now,
// or false when the store must decide.
func (c *denyCache) check(key string, l Limit, n int, now time.Time) (Result, bool) {
	d, ok := c.entries.load(key, now)
	if !ok || d.limit != l {
		return Result{}, false
	}
	t := l.Interval()
	allowAt := d.allowAt.Add(time.Duration(n-1) * t)
	if !now.Before(allowAt) {
		return Result{}, false
	}
	reset := max(d.resetAt.Sub(now), 0)
	tolerance := time.Duration(l.Burst) * t
	return Result{
		Remaining:  int(max(tolerance-reset, 0) / t),
		RetryAfter: allowAt.Sub(now),
		ResetAfter: reset,
		Limit:      l,
		Source:     SourceCache,
	}, true
}

// forget drops key.
func (c *denyCache) forget(key string) { c.entries.delete(key) }
