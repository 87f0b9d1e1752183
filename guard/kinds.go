package guard

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/floodgate-go/floodgate/core"
)

// KindLimits gives kinds of update budgets of their own (see
// WithKindLimits). A zero field leaves its kind on the Guard's own limit,
// the one budget every update shares by default.
//
// Each non-zero field is a rule of its own, with its own keys: a sender who
// pages through a list with buttons spends the "callback" budget and
// leaves the "message" budget, where text floods come from, untouched.
type KindLimits struct {
	// Message limits messages that are not commands (message,
	// edited_message and business_message updates), under the rule
	// "message".
	Message core.Limit
	// Command limits messages that start with a bot command, under the
	// rule "command". Zero: commands count as messages, against Message
	// when it is set. WithCommandLimit still applies on top.
	Command core.Limit
	// Callback limits callback queries (inline button presses), under the
	// rule "callback".
	Callback core.Limit
	// Inline limits inline queries, under the rule "inline".
	Inline core.Limit
}

// WithKindLimits gives messages, commands, callback queries and inline
// queries limits of their own (see KindLimits). An update of a kind with
// its own limit counts against that limit only; every other update
// (channel posts, chat member updates, a kind left zero, ...) counts against
// the Guard's own limit, as without this option. Non-zero fields replace
// those of an earlier WithKindLimits; zero fields leave them.
//
// Penalties (WithPenalty) block a sender on every budget at once, and
// Guard.Reset resets them all. Each update still costs one store call: the
// budget of its kind replaces the shared one, it does not add to it.
func WithKindLimits(k KindLimits) Option {
	return func(c *config) {
		for i, l := range k.limits() {
			if l != (core.Limit{}) {
				*c.kinds.field(i) = l
			}
		}
	}
}

// The budgets of KindLimits, in field order, and their rule names.
const (
	budgetMessage = iota
	budgetCommand
	budgetCallback
	budgetInline
	budgets
)

var budgetRules = [budgets]string{"message", "command", "callback", "inline"}

func (k KindLimits) limits() [budgets]core.Limit {
	return [budgets]core.Limit{k.Message, k.Command, k.Callback, k.Inline}
}

func (k *KindLimits) field(i int) *core.Limit {
	return [budgets]*core.Limit{&k.Message, &k.Command, &k.Callback, &k.Inline}[i]
}

// kindLimiters holds the limiter of each budget; nil entries fall back to
// the Guard's own limiter. The zero value (no WithKindLimits) sends every
// update to the Guard's limiter.
type kindLimiters [budgets]*core.Limiter

func newKindLimiters(lim *core.Limiter, k KindLimits) (kindLimiters, error) {
	var kl kindLimiters
	for i, l := range k.limits() {
		if l == (core.Limit{}) {
			continue
		}
		r, err := lim.Rule(budgetRules[i], l)
		if err != nil {
			return kindLimiters{}, fmt.Errorf("guard: %s limit: %w", budgetRules[i], err)
		}
		kl[i] = r
	}
	return kl, nil
}

// budgetOf returns the budget u counts against, or -1 for the Guard's own.
func budgetOf(u Update) int {
	switch {
	case u.Kind.carriesMessage() && u.Command != "":
		return budgetCommand
	case u.Kind.carriesMessage():
		return budgetMessage
	case u.Kind == KindCallbackQuery:
		return budgetCallback
	case u.Kind == KindInlineQuery:
		return budgetInline
	}
	return -1
}

// limiterFor returns the limiter u counts against: its kind's, or
// (falling back from commands to messages) lim, the Guard's own.
func (kl *kindLimiters) limiterFor(u Update, lim *core.Limiter) *core.Limiter {
	b := budgetOf(u)
	if b == budgetCommand && kl[budgetCommand] == nil {
		b = budgetMessage
	}
	if b >= 0 && kl[b] != nil {
		return kl[b]
	}
	return lim
}

// block writes a penalty's block of s into every budget, so that a blocked
// sender is blocked whatever kind of update they send. Errors are ignored,
// as for the block in the Guard's own limit: the penalty is best effort.
func (kl *kindLimiters) block(ctx context.Context, s core.Scope, d time.Duration) {
	for _, l := range kl {
		if l != nil {
			_ = l.Block(ctx, s, d)
		}
	}
}

// reset forgets s on every budget.
func (kl *kindLimiters) reset(ctx context.Context, s core.Scope) error {
	var errs []error
	for _, l := range kl {
		if l != nil {
			errs = append(errs, l.Reset(ctx, s))
		}
	}
	return errors.Join(errs...)
}
