package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
)

// DefaultPrefix is the key prefix a Limiter uses unless WithPrefix says
// otherwise.
const DefaultPrefix = "floodgate"

// DefaultRule is the rule name a Limiter uses unless WithRule says otherwise.
const DefaultRule = "msg"

// ErrInvalidCost is returned (wrapped) for a cost n < 1 or n > Burst: such a
// request could never be admitted, and saying so beats a silent denial.
var ErrInvalidCost = errors.New("invalid cost")

// ErrInvalidOption is returned (wrapped) by New and Rule for an option they
// cannot use; the message names the option.
var ErrInvalidOption = errors.New("invalid option")

// Limiter decides whether events may go through, per scope, under one Limit
// and one rule name, over a Store shared by every instance of the bot.
//
// Build it with New; derive limiters for other rules with Rule. The zero
// Limiter is not usable: its methods panic. A Limiter is safe for
// concurrent use, and its budgets live in the store: two Limiters with the
// same store, prefix and rule share them, which is how several bot
// instances share one limit. What it keeps in process (the deny cache, the
// circuit breaker, the default fallback store) only saves store calls or
// stands in while the store is out.
type Limiter struct {
	store  Store
	limit  Limit
	prefix string
	rule   string
	res    *resilience // shared by every Rule of one New; nil for InProcess stores
	cfg    *limiterConfig
	shadow bool
}

// resilience is what keeps decisions going when the store misbehaves: the
// timeout, circuit breaker, failure policy and deny cache.
type resilience struct {
	policy   FailurePolicy
	timeout  time.Duration
	fallback Store
	breaker  *breaker
	cache    *denyCache // nil when disabled
	now      func() time.Time
}

// limiterConfig is what the options set; New checks it.
type limiterConfig struct {
	policy    FailurePolicy
	timeout   time.Duration
	fallback  Store
	threshold int
	probe     time.Duration
	denyCache bool
	now       func() time.Time
	logger    *slog.Logger
	observer  Observer
	shadow    bool

	localFailLogged atomic.Bool // localFailure logged its warning
}

// Option configures a Limiter in New.
type Option func(*Limiter)

// WithPolicy sets what happens when the store fails or times out (default
// FailLocal), whatever the store: Redis, an InProcess store such as a full
// memorystore, or the FailLocal fallback. See FailurePolicy and
// Limiter.Take.
func WithPolicy(p FailurePolicy) Option { return func(l *Limiter) { l.cfg.policy = p } }

// WithTimeout bounds each store call of a decision (default
// DefaultTimeout, 50 ms); past it the decision follows the failure policy.
// 0 leaves only the caller's context to bound it; negative is an error.
func WithTimeout(d time.Duration) Option { return func(l *Limiter) { l.cfg.timeout = d } }

// WithFallback sets the store FailLocal decides with while the main store
// is out (default: a minimal in-process store). Pass a memorystore.Store to
// cap and evict its keys like the main memory store. When the fallback
// fails too (a memorystore at its WithMaxKeys cap refusing a new key), the
// decision is a denial by the policy (SourcePolicy), never an error.
func WithFallback(s Store) Option { return func(l *Limiter) { l.cfg.fallback = s } }

// WithBreaker tunes the circuit breaker: it opens after threshold
// consecutive store failures (default 5) and then lets one decision through
// to the store every probe (default 500 ms) until one succeeds. threshold < 1
// or probe ≤ 0 is an error.
func WithBreaker(threshold int, probe time.Duration) Option {
	return func(l *Limiter) { l.cfg.threshold, l.cfg.probe = threshold, probe }
}

// WithDenyCache turns the local deny cache on or off (default on). While a
// key is denied with a RetryAfter, later requests for it on this instance
// are denied locally until then, with no store call: a flooding user costs
// about one store call per RetryAfter. Exact, because a denial writes
// nothing; a Reset made on another instance is seen once the wait ends.
func WithDenyCache(on bool) Option { return func(l *Limiter) { l.cfg.denyCache = on } }

// WithClock sets the clock of the deny cache, the breaker and the default
// fallback store (default time.Now), for tests.
func WithClock(now func() time.Time) Option { return func(l *Limiter) { l.cfg.now = now } }

// WithLogger sets where the Limiter and Guards over it log (default
// slog.Default(), so a bot that configured slog sees floodgate's lines with
// its own; pass slog.New(slog.DiscardHandler) to silence them): one
// "limiter ready" summary at New (info), circuit breaker transitions (once
// each, never per call: warn and info), shadow-mode denials (debug), and
// what adapters could not do on a denial (warn). Nothing logged carries a
// password, a token or a credentialed URL.
func WithLogger(lg *slog.Logger) Option { return func(l *Limiter) { l.cfg.logger = lg } }

// WithPrefix sets the first part of every key (default "floodgate"), e.g.
// "booking_bot:client1" to keep tenants apart in one Redis. It must be 1 to
// 128 printable ASCII characters without spaces or braces.
func WithPrefix(prefix string) Option { return func(l *Limiter) { l.prefix = prefix } }

// WithRule sets the rule name, the last part of every key (default "msg"). It
// must be 1 to 64 characters from [A-Za-z0-9_.-].
func WithRule(name string) Option { return func(l *Limiter) { l.rule = name } }

// WithObserver reports every decision, breaker transition and adapter
// action to o (e.g. metrics.New's collector). Default: none, at no cost.
func WithObserver(o Observer) Option { return func(l *Limiter) { l.cfg.observer = o } }

// WithShadow turns shadow mode on: decisions are made, recorded, counted
// and logged (at debug level) as usual, but a denial is returned as
// allowed, with Result.Shadow set, so nothing is blocked. Use it to try a
// limit on live traffic first. Rules derived with Rule inherit it; see
// Limiter.Shadowed for one rule alone.
func WithShadow(on bool) Option { return func(l *Limiter) { l.cfg.shadow = on } }

// New returns a Limiter that applies limit through store. It does no I/O. It
// returns an error wrapping ErrInvalidLimit for an invalid limit, and one
// wrapping ErrInvalidOption for a nil store or a bad prefix or rule name.
func New(store Store, limit Limit, opts ...Option) (*Limiter, error) {
	if store == nil {
		return nil, fmt.Errorf("core: %w: store is nil", ErrInvalidOption)
	}
	l := &Limiter{store: store, limit: limit, prefix: DefaultPrefix, rule: DefaultRule, cfg: &limiterConfig{
		timeout: DefaultTimeout, threshold: DefaultBreakerThreshold, probe: DefaultProbeInterval,
		denyCache: true, now: time.Now, logger: slog.Default(),
	}}
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("core: %w: nil Option", ErrInvalidOption)
		}
		opt(l)
	}
	if err := l.check(); err != nil {
		return nil, err
	}
	c := l.cfg
	switch {
	case c.policy > FailClosed:
		return nil, fmt.Errorf("core: %w: unknown failure policy %d", ErrInvalidOption, c.policy)
	case c.timeout < 0:
		return nil, fmt.Errorf("core: %w: timeout must not be negative, got %v", ErrInvalidOption, c.timeout)
	case c.threshold < 1:
		return nil, fmt.Errorf("core: %w: breaker threshold must be at least 1, got %d", ErrInvalidOption, c.threshold)
	case c.probe <= 0:
		return nil, fmt.Errorf("core: %w: breaker probe interval must be positive, got %v", ErrInvalidOption, c.probe)
	case c.now == nil || c.logger == nil:
		return nil, fmt.Errorf("core: %w: nil clock or logger", ErrInvalidOption)
	}
	l.shadow = c.shadow
	_, local := store.(InProcess)
	c.logger.Info("floodgate: limiter ready", "prefix", l.prefix, "rule", l.rule, "limit", l.limit.String(),
		"store", fmt.Sprintf("%T", store), "policy", c.policy.String(), "timeout", c.timeout, "shadow", c.shadow)
	if !local {
		l.res = &resilience{policy: c.policy, timeout: c.timeout, fallback: c.fallback, now: c.now,
			breaker: &breaker{threshold: int32(c.threshold), interval: c.probe, logger: c.logger, now: c.now,
				name: l.prefix, observer: c.observer}}
		if l.res.fallback == nil {
			l.res.fallback = newLocalStore(c.now)
		}
		if c.denyCache {
			l.res.cache = newDenyCache()
		}
	}
	return l, nil
}

func (l *Limiter) check() error {
	if err := l.limit.Validate(); err != nil {
		return err
	}
	if err := ValidatePrefix(l.prefix); err != nil {
		return err
	}
	return validateRule(l.rule)
}

// Rule returns a Limiter for another rule (such as "report" for a command
// with a tighter limit) that shares l's store and prefix. Its keys differ
// from l's only in the rule name, so the two budgets are independent.
func (l *Limiter) Rule(name string, limit Limit) (*Limiter, error) {
	r := &Limiter{store: l.store, limit: limit, prefix: l.prefix, rule: name, res: l.res, cfg: l.cfg, shadow: l.shadow}
	if err := r.check(); err != nil {
		return nil, err
	}
	return r, nil
}

// Shadowed returns a copy of l with shadow mode on or off for this rule
// alone (see WithShadow), e.g. to try a new command limit on live traffic
// while the others block.
func (l *Limiter) Shadowed(on bool) *Limiter {
	c := *l
	c.shadow = on
	return &c
}

// Limit returns the limit l enforces.
func (l *Limiter) Limit() Limit { return l.limit }

// Prefix returns the key prefix.
func (l *Limiter) Prefix() string { return l.prefix }

// RuleName returns the rule name.
func (l *Limiter) RuleName() string { return l.rule }

// Allow decides one event of the user with the given Telegram id.
func (l *Limiter) Allow(ctx context.Context, userID int64) (Result, error) {
	return l.Take(ctx, User(userID), 1)
}

// AllowN decides an event of cost n (1 ≤ n ≤ Burst) of the given user.
func (l *Limiter) AllowN(ctx context.Context, userID int64, n int) (Result, error) {
	return l.Take(ctx, User(userID), n)
}

// Take decides an event of cost n (1 ≤ n ≤ Burst) against any scope: Chat,
// UserInChat, Global or User. It returns an error, with a zero Result, in
// two cases only: an n outside 1..Burst (wrapping ErrInvalidCost), and the
// caller's ctx ending, before the store call (the store is not touched) or
// during it (ctx.Err()).
//
// A store that fails or does not answer within the timeout never surfaces
// as an error: the decision follows the failure policy (WithPolicy), the
// Observer hears of the error, and Result.Source says who decided. That
// holds for every store, the in-process ones (InProcess, such as a
// memorystore at its WithMaxKeys cap) and the FailLocal fallback store
// included: FailOpen admits (SourcePolicy); FailClosed denies
// (SourcePolicy); FailLocal decides with the fallback store
// (SourceFallback), and denies (SourcePolicy) when the store that fails is
// itself in-process, the main InProcess store or the fallback, since there
// is nothing left to fall back to. A policy denial carries a RetryAfter of
// one emission interval. A flooding key already denied is answered from
// the deny cache (SourceCache).
//
// A decision that timed out may still have been applied by the store: the
// call can reach Redis and run there after the Limiter stopped waiting. The
// event is then counted in the store although the fallback or the policy
// decided it; choose the timeout above the store's real latency.
func (l *Limiter) Take(ctx context.Context, s Scope, n int) (Result, error) {
	obs := l.cfg.observer
	if obs == nil && !l.shadow {
		res, err, _ := l.take(ctx, s, n)
		return res, err
	}
	start := time.Now()
	res, err, storeErr := l.take(ctx, s, n)
	if err != nil {
		return res, err
	}
	ev := DecisionEvent{Prefix: l.prefix, Rule: l.rule, Allowed: res.Allowed, Source: res.Source, Err: storeErr}
	if l.shadow && !res.Allowed {
		res.Allowed, res.Shadow = true, true
		ev.Allowed, ev.Shadow = true, true
		l.cfg.logger.LogAttrs(ctx, slog.LevelDebug, "floodgate: shadow mode: would have denied",
			slog.String("rule", l.rule), slog.Duration("retry_after", res.RetryAfter))
	}
	if obs != nil {
		ev.Latency = time.Since(start)
		obs.Decision(ev)
	}
	return res, nil
}

// take is Take without shadow mode and observation. Besides the caller's
// error it returns the store error that made the fallback or the policy
// decide, for the observer.
func (l *Limiter) take(ctx context.Context, s Scope, n int) (Result, error, error) {
	if n < 1 || n > l.limit.Burst {
		return Result{}, fmt.Errorf("core: %w: cost %d is outside 1..%d (the burst of %v)", ErrInvalidCost, n, l.limit.Burst, l.limit), nil
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err, nil
	}
	key := l.Key(s)
	r := l.res
	if r == nil { // an in-process store: no timeout, breaker or deny cache
		res, err := l.store.Take(ctx, key, l.limit, n)
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return Result{}, ctxErr, nil
			}
			return l.localFailure(ctx, err), nil, err
		}
		return res, nil, nil
	}
	var now time.Time
	if r.cache != nil {
		now = r.now()
		if res, ok := r.cache.check(key, l.limit, n, now); ok {
			return res, nil, nil
		}
	}
	res, callerErr, storeErr := r.call(ctx, func(ctx context.Context) (Result, error) {
		return l.store.Take(ctx, key, l.limit, n)
	})
	switch {
	case callerErr != nil:
		return Result{}, callerErr, nil
	case storeErr == nil:
		if r.cache != nil {
			if res.Allowed {
				r.cache.forget(key) // a denial for a larger cost no longer holds as it was
			} else {
				r.cache.remember(key, res, n, now)
			}
		}
		return res, nil, nil
	}
	if r.policy != FailLocal {
		return policyResult(r.policy, l.limit), nil, storeErr
	}
	res, err := r.fallback.Take(ctx, key, l.limit, n)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return Result{}, ctxErr, nil
		}
		return l.localFailure(ctx, err), nil, errors.Join(storeErr, err)
	}
	res.Source = SourceFallback
	return res, nil, storeErr
}

// localFailure is the decision when a store with nothing behind it fails:
// an InProcess main store, or the fallback store of FailLocal (typically a
// memorystore at its WithMaxKeys cap). FailOpen admits; FailClosed denies;
// so does FailLocal, whose local store is the one failing: a capped store
// refusing new keys is protecting memory from a flood of fresh ids, and
// admitting them uncounted would defeat both the cap and the limit. The
// first such failure of a Limiter (its Rules included) is logged at warn
// level; the Observer hears of every one.
func (l *Limiter) localFailure(ctx context.Context, err error) Result {
	if l.cfg.localFailLogged.CompareAndSwap(false, true) {
		l.cfg.logger.LogAttrs(ctx, slog.LevelWarn, "floodgate: in-process store failing; deciding by policy (logged once)",
			slog.String("limiter", l.prefix), slog.String("policy", l.cfg.policy.String()), slog.String("error", err.Error()))
	}
	if l.cfg.policy == FailOpen {
		return policyResult(FailOpen, l.limit)
	}
	return policyResult(FailClosed, l.limit)
}

// Peek returns the decision Take(ctx, s, 1) would make, consuming nothing.
// It is for inspection (a /status command, an ops tool) and for the
// Guard's penalty check. It goes through the circuit breaker as Take does:
//
//   - breaker closed (or a probe due): Peek asks the store under the
//     decision timeout. If the store fails or times out, Peek returns its
//     error rather than applying the failure policy, so an ops tool can say
//     that the store is out; the failure counts toward opening the breaker,
//     and a success closes it after an outage.
//   - breaker open: Peek does not call the store, so an outage costs no
//     timeout per call. It answers as Take would: from the fallback store
//     under FailLocal (SourceFallback; the fallback's error, if any, is
//     returned), from the policy under FailOpen or FailClosed
//     (SourcePolicy), with no error.
//
// Peek does not consult the deny cache. A done ctx returns ctx.Err(); over
// an InProcess store, Peek returns the store's answer and error as they
// are.
func (l *Limiter) Peek(ctx context.Context, s Scope) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	key := l.Key(s)
	r := l.res
	if r == nil {
		return l.store.Peek(ctx, key, l.limit)
	}
	res, callerErr, storeErr := r.call(ctx, func(ctx context.Context) (Result, error) {
		return l.store.Peek(ctx, key, l.limit)
	})
	switch {
	case callerErr != nil:
		return Result{}, callerErr
	case storeErr == nil:
		return res, nil
	case storeErr != errBreakerOpen:
		return Result{}, storeErr
	case r.policy != FailLocal:
		return policyResult(r.policy, l.limit), nil
	}
	res, err := r.fallback.Peek(ctx, key, l.limit)
	if err != nil {
		return Result{}, err
	}
	res.Source = SourceFallback
	return res, nil
}

// Reset forgets everything recorded for s under this rule, e.g. to lift a
// limit for a user who was throttled by mistake: in the store, and in this
// instance's deny cache and fallback store. Other instances' deny caches
// still hold a denial until its RetryAfter ends.
func (l *Limiter) Reset(ctx context.Context, s Scope) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	key := l.Key(s)
	if l.res == nil {
		return l.store.Reset(ctx, key)
	}
	if l.res.cache != nil {
		l.res.cache.forget(key)
	}
	_ = l.res.fallback.Reset(ctx, key)
	_, err, _ := storeCall(ctx, l.res.timeout, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, l.store.Reset(ctx, key)
	})
	return err
}

// Key returns the store key for s: "<prefix>:{<scope>}:<rule>", e.g.
// "floodgate:{u:123456789}:msg". The braces are a Redis Cluster hash tag.
func (l *Limiter) Key(s Scope) string {
	var buf [96]byte
	b := append(buf[:0], l.prefix...)
	b = append(b, ":{"...)
	b = s.appendTo(b)
	b = append(b, "}:"...)
	b = append(b, l.rule...)
	return string(b)
}

// ValidatePrefix reports whether p may start floodgate keys: 1 to 128
// printable ASCII characters, no spaces, no braces (which would break the
// hash tag). The error wraps ErrInvalidOption and names the prefix.
func ValidatePrefix(p string) error {
	if len(p) == 0 || len(p) > 128 {
		return fmt.Errorf("core: %w: prefix must be 1 to 128 characters, got %d", ErrInvalidOption, len(p))
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c > '~' || c == '{' || c == '}' {
			return fmt.Errorf("core: %w: prefix %q has byte %#02x at %d (allowed: printable ASCII without spaces or braces)",
				ErrInvalidOption, p, c, i)
		}
	}
	return nil
}

func validateRule(r string) error {
	if len(r) == 0 || len(r) > 64 {
		return fmt.Errorf("core: %w: rule name must be 1 to 64 characters, got %d", ErrInvalidOption, len(r))
	}
	for i := 0; i < len(r); i++ {
		c := r[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return fmt.Errorf("core: %w: rule name %q contains %q (allowed: letters, digits, _ - .)", ErrInvalidOption, r, c)
		}
	}
	return nil
}
