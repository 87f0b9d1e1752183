package core

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DefaultPrefix is the key prefix a Limiter uses unless WithPrefix says
// otherwise.
const DefaultPrefix = "floodgate"

// defaultRule is the rule name New gives a Limiter.
const defaultRule = "msg"

// ErrInvalidCost is returned (wrapped) for a cost n < 1 or n > Burst: such a
// request could never be admitted, and saying so beats a silent denial.
var ErrInvalidCost = errors.New("invalid cost")

// ErrInvalidOption is returned (wrapped) for an option or argument that
// cannot be used; the message names it.
var ErrInvalidOption = errors.New("invalid option")

// Limiter decides whether events may go through, per Scope, under one Limit
// and one rule name, over a Store shared by every instance of the bot.
//
// Build it with New; derive limiters for other rules with Rule. The zero
// Limiter is not usable: its methods panic. A Limiter is safe for
// concurrent use and keeps nothing of its own: two Limiters with the same
// store, prefix and rule share their budgets, which is how several bot
// instances share one limit.
type Limiter struct {
	store  Store
	limit  Limit
	prefix string
	rule   string
	obs    Observer // nil: none
	shadow bool
}

// config is what the Options set.
type config struct {
	prefix   string
	observer Observer
	shadow   bool
}

// Option configures a Limiter in New.
type Option func(*config)

// WithPrefix sets the first part of every key (default DefaultPrefix), e.g.
// "booking_bot:client1" to keep tenants apart in one Redis. It must be 1 to
// 128 printable ASCII characters without spaces or braces.
func WithPrefix(prefix string) Option { return func(c *config) { c.prefix = prefix } }

// WithObserver reports every decision to o (e.g. package metrics). Default:
// none, at no cost.
func WithObserver(o Observer) Option { return func(c *config) { c.observer = o } }

// WithShadow turns shadow mode on: decisions are made, recorded and
// observed as usual, but a denial is returned as allowed, with
// Result.Shadow set, so nothing is blocked. Use it to try a limit on live
// traffic first. Limiters derived with Rule inherit it.
func WithShadow(on bool) Option { return func(c *config) { c.shadow = on } }

// New returns a Limiter that applies limit through store, under the rule
// name "msg". It does no I/O. It returns an error wrapping ErrInvalidLimit
// for an invalid limit, and one wrapping ErrInvalidOption for a nil store,
// a nil Option or a bad prefix.
//
// The store decides; New adds no timeout and no failure policy of its own.
// Wrap a remote store with Resilient (store.Open does), so that an outage
// is decided by a policy instead of returned as an error.
func New(store Store, limit Limit, opts ...Option) (*Limiter, error) {
	if store == nil {
		return nil, fmt.Errorf("core: %w: store is nil", ErrInvalidOption)
	}
	c := config{prefix: DefaultPrefix}
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("core: %w: nil Option", ErrInvalidOption)
		}
		opt(&c)
	}
	if err := ValidatePrefix(c.prefix); err != nil {
		return nil, err
	}
	return (&Limiter{store: store, prefix: c.prefix, obs: c.observer, shadow: c.shadow}).Rule(defaultRule, limit)
}

// Rule returns a Limiter for another rule (such as "report" for a command
// with a tighter limit) that shares l's store, prefix, observer and shadow
// mode. Its keys differ from l's only in the rule name, so the two budgets
// are independent. The name must be 1 to 64 characters from
// [A-Za-z0-9_.-]; errors wrap ErrInvalidLimit or ErrInvalidOption.
func (l *Limiter) Rule(name string, limit Limit) (*Limiter, error) {
	if err := limit.Validate(); err != nil {
		return nil, err
	}
	if err := validateRule(name); err != nil {
		return nil, err
	}
	r := *l
	r.rule, r.limit = name, limit
	return &r, nil
}

// Limit returns the limit l enforces.
func (l *Limiter) Limit() Limit { return l.limit }

// Take decides an event of cost n (1 ≤ n ≤ Burst) of scope s.
//
// It returns an error, with a zero Result, for an n outside 1..Burst
// (wrapping ErrInvalidCost), when ctx is done before the call (ctx.Err(),
// the store untouched), and when the store returns one. A Resilient store
// returns none but the caller's own ctx.Err(): it decides an outage by its
// failure policy, and Result.Source says who decided. memorystore never
// fails.
func (l *Limiter) Take(ctx context.Context, s Scope, n int) (Result, error) {
	if n < 1 || n > l.limit.Burst {
		return Result{}, fmt.Errorf("core: %w: cost %d is outside 1..%d (the burst of %v)",
			ErrInvalidCost, n, l.limit.Burst, l.limit)
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	var start time.Time
	if l.obs != nil {
		start = time.Now()
	}
	res, err := l.store.Take(ctx, l.Key(s), l.limit, n)
	if err != nil {
		return Result{}, err
	}
	if l.shadow && !res.Allowed {
		res.Allowed, res.Shadow = true, true
	}
	if l.obs != nil {
		l.obs.Decision(DecisionEvent{Prefix: l.prefix, Rule: l.rule, Allowed: res.Allowed, Shadow: res.Shadow,
			Source: res.Source, Latency: time.Since(start)})
	}
	return res, nil
}

// Peek returns the decision Take(ctx, s, 1) would make, recording nothing,
// for inspection (a /status command, an ops tool). It is not observed and
// ignores shadow mode. Errors are Take's.
func (l *Limiter) Peek(ctx context.Context, s Scope) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	return l.store.Peek(ctx, l.Key(s), l.limit)
}

// Reset forgets everything recorded for s under this rule, e.g. to lift a
// limit for a user throttled by mistake. Over a Resilient store it also
// reaches this instance's deny cache and fallback; other instances' deny
// caches still hold a denial until its RetryAfter ends. It returns the
// store's error, or ctx.Err() when ctx is done.
func (l *Limiter) Reset(ctx context.Context, s Scope) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return l.store.Reset(ctx, l.Key(s))
}

// Block makes s admit nothing under this rule for d, on every instance
// sharing the store: a ban, or a penalty for repeated flooding. Under GCRA
// the budget then refills from one event; under a SlidingWindow the whole
// window is free again when the block ends. A Block never shortens an
// earlier one. d must be in (0, MaxBlock]; otherwise Block returns an error
// wrapping ErrInvalidOption. It returns the store's error, or ctx.Err().
func (l *Limiter) Block(ctx context.Context, s Scope, d time.Duration) error {
	if d <= 0 || d > MaxBlock {
		return fmt.Errorf("core: %w: block of %v is outside (0, %v]", ErrInvalidOption, d, MaxBlock)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return l.store.Block(ctx, l.Key(s), l.limit, d)
}

// windowSuffix ends the keys of SlidingWindow rules, so that switching a
// rule between GCRA and a sliding window never reads one's state as the
// other's.
const windowSuffix = ":win"

// Key returns the store key for s: "<prefix>:{<scope>}:<rule>", e.g.
// "floodgate:{u:123456789}:msg", with ":win" appended under a SlidingWindow
// Limit ("floodgate:{u:123456789}:msg:win"). The braces are a Redis
// Cluster hash tag: every rule of one scope lands on the same slot.
func (l *Limiter) Key(s Scope) string {
	var buf [96]byte
	b := append(buf[:0], l.prefix...)
	b = append(b, ":{"...)
	b = s.appendTo(b)
	b = append(b, "}:"...)
	b = append(b, l.rule...)
	if l.limit.Algorithm == SlidingWindow {
		b = append(b, windowSuffix...)
	}
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
