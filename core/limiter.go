package core

import (
	"context"
	"errors"
	"fmt"
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
// Build it with New; derive limiters for other rules with Rule. A Limiter is
// safe for concurrent use and holds no per-key state of its own: two
// Limiters with the same store, prefix and rule share their budgets, which
// is how several bot instances share one limit.
type Limiter struct {
	store  Store
	limit  Limit
	prefix string
	rule   string
}

// Option configures a Limiter in New.
type Option func(*Limiter)

// WithPrefix sets the first part of every key (default "floodgate"), e.g.
// "booking_bot:client1" to keep tenants apart in one Redis. It must be 1 to
// 128 printable ASCII characters without spaces or braces.
func WithPrefix(prefix string) Option { return func(l *Limiter) { l.prefix = prefix } }

// WithRule sets the rule name, the last part of every key (default "msg"). It
// must be 1 to 64 characters from [A-Za-z0-9_.-].
func WithRule(name string) Option { return func(l *Limiter) { l.rule = name } }

// New returns a Limiter that applies limit through store. It does no I/O. It
// returns an error wrapping ErrInvalidLimit for an invalid limit, and one
// wrapping ErrInvalidOption for a nil store or a bad prefix or rule name.
func New(store Store, limit Limit, opts ...Option) (*Limiter, error) {
	if store == nil {
		return nil, fmt.Errorf("core: %w: store is nil", ErrInvalidOption)
	}
	l := &Limiter{store: store, limit: limit, prefix: DefaultPrefix, rule: DefaultRule}
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("core: %w: nil Option", ErrInvalidOption)
		}
		opt(l)
	}
	if err := l.check(); err != nil {
		return nil, err
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
	r := &Limiter{store: l.store, limit: limit, prefix: l.prefix, rule: name}
	if err := r.check(); err != nil {
		return nil, err
	}
	return r, nil
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
// UserInChat, Global or User. A done ctx returns ctx.Err() without touching
// the store; an n outside 1..Burst returns an error wrapping ErrInvalidCost.
// Store errors are returned as they are, with a zero Result.
func (l *Limiter) Take(ctx context.Context, s Scope, n int) (Result, error) {
	if n < 1 || n > l.limit.Burst {
		return Result{}, fmt.Errorf("core: %w: cost %d is outside 1..%d (the burst of %v)", ErrInvalidCost, n, l.limit.Burst, l.limit)
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	return l.store.Take(ctx, l.Key(s), l.limit, n)
}

// Peek returns the decision Take(ctx, s, 1) would make, consuming nothing.
func (l *Limiter) Peek(ctx context.Context, s Scope) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	return l.store.Peek(ctx, l.Key(s), l.limit)
}

// Reset forgets everything recorded for s under this rule, e.g. to lift a
// limit for a user who was throttled by mistake.
func (l *Limiter) Reset(ctx context.Context, s Scope) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return l.store.Reset(ctx, l.Key(s))
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
