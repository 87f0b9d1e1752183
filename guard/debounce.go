package guard

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/floodgate-go/floodgate/core"
)

// MaxDebounce is the longest debounce window WithDebounce accepts. A
// debounce window is meant for double taps and resends, a second or two;
// an hour already swallows a user's honest repetition.
const MaxDebounce = time.Hour

// debounceRulePrefix starts the rule names of debounce records:
// "debounce.message", "debounce.callback".
const debounceRulePrefix = "debounce."

// WithDebounce drops an update that repeats one the same sender made in
// the same chat within window: a double tap on an inline button, or a
// message a flaky client sent twice. Rate limits cannot catch these: both
// copies are well within any sane limit. aiogram-sentinel's default window
// is 2 s. A window ≤ 0 turns debouncing off (the default).
//
// Messages (message and business_message updates, commands included) are
// compared by Update.Payload, their text or caption; callback queries by
// their data. Updates with an empty Payload (a photo without a caption, a
// sticker, an item of an album) are never debounced, nor are other kinds,
// bypassed senders or payments. A duplicate is dropped with ReasonDebounced
// before any limit counts it: it costs no budget, earns no notice and no
// penalty strike. Guard.Respond still answers a duplicate callback query,
// with no text, so its button stops spinning.
//
// A duplicate is a repeat of any update the sender made in that chat
// within the window, not only of the last one: A, B, A within the window
// drops the second A. The record of the first copy is shared across
// instances through the store with one atomic operation (a Take under the
// limit 1 per window, burst 1), so when two instances receive the two taps
// exactly one passes. The window runs from the copy that passed: a
// duplicate does not extend it. When the Guard then drops the update that
// passed the debounce (a limit, a penalty), its record is forgotten again,
// so the user's retry is judged by the limit, not taken for a duplicate.
//
// Each debounced-kind update with a Payload costs one more store call. The
// record's key holds the sender and a 63-bit FNV-1a hash of the chat id and
// the payload, never the text: "floodgate:{uc:42:<hash>}:debounce.callback"
// (see docs/architecture.md). During a store outage the failure policy's
// denials never count as duplicates.
//
// New rejects a window above MaxDebounce or not a whole number of
// microseconds.
func WithDebounce(window time.Duration) Option { return func(c *config) { c.debounce = window } }

// IsDebounceRule reports whether rule (core.DecisionEvent.Rule) is the
// rule of a debounce record, whose denials are duplicates dropped by
// WithDebounce rather than updates over a limit. Package metrics counts
// them with result="debounced".
func IsDebounceRule(rule string) bool { return strings.HasPrefix(rule, debounceRulePrefix) }

// debouncer holds the debounce records' limiters: one per kind of update
// it compares. nil: no debouncing.
type debouncer struct {
	message, callback *core.Limiter
}

func newDebouncer(lim *core.Limiter, window time.Duration) (*debouncer, error) {
	if window <= 0 {
		return nil, nil
	}
	if window > MaxDebounce {
		return nil, fmt.Errorf("guard: %w: debounce window %v is above %v", core.ErrInvalidOption, window, MaxDebounce)
	}
	once := core.Limit{Rate: 1, Period: window, Burst: 1}
	m, err := lim.Rule(debounceRulePrefix+"message", once)
	if err != nil {
		return nil, fmt.Errorf("guard: debounce window: %w", err)
	}
	c, err := lim.Rule(debounceRulePrefix+"callback", once)
	if err != nil {
		return nil, fmt.Errorf("guard: debounce window: %w", err)
	}
	return &debouncer{message: m, callback: c}, nil
}

// record returns the limiter and scope of u's debounce record, and false
// when u is not debounced.
func (d *debouncer) record(u Update) (*core.Limiter, core.Scope, bool) {
	if u.Payload == "" || u.MediaGroupID != "" { // an album item: decided with its album (WithAlbums)
		return nil, core.Scope{}, false
	}
	var lim *core.Limiter
	switch u.Kind {
	case KindMessage, KindBusinessMessage:
		lim = d.message
	case KindCallbackQuery:
		lim = d.callback
	default:
		return nil, core.Scope{}, false
	}
	var sender int64
	switch {
	case u.SenderChatID != 0:
		sender = u.SenderChatID
	case u.UserID != 0:
		sender = u.UserID
	default:
		return nil, core.Scope{}, false
	}
	return lim, core.UserInChat(sender, hash63(u.ChatID, u.Payload)), true
}

// hash63 returns a 63-bit FNV-1a hash of chat and payload, the same in
// every process and without allocating, for keys that must not carry
// text a client sent (debounce payloads, forged media group ids). It is no
// defence against a sender who crafts collisions, and needs none: a
// collision only affects that sender's own updates.
func hash63(chat int64, payload string) int64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := range 8 {
		h ^= uint64(byte(chat >> (8 * i)))
		h *= prime
	}
	for i := 0; i < len(payload); i++ {
		h ^= uint64(payload[i])
		h *= prime
	}
	return int64(h >> 1)
}

// debounced decides u with next unless it duplicates an update that
// passed within the window; see WithDebounce.
func (g *Guard) debounced(ctx context.Context, u Update, next func(context.Context, Update) Verdict) Verdict {
	if g.debounce == nil {
		return next(ctx, u)
	}
	lim, s, ok := g.debounce.record(u)
	if !ok {
		return next(ctx, u)
	}
	res, err := lim.Take(ctx, s, 1)
	switch {
	case err != nil: // no record: let the limit decide (its own error follows WithErrorAction)
		return next(ctx, u)
	case !res.Allowed && res.Source != core.SourcePolicy && held(ctx, lim, s, res):
		return Verdict{Reason: ReasonDebounced, Result: res}
	}
	v := next(ctx, u)
	if !v.Pass && res.Allowed && !res.Shadow && res.Source != core.SourcePolicy {
		// The update this record stands for was dropped: a retry is no duplicate.
		_ = lim.Reset(ctx, s)
	}
	return v
}

// held reports whether a denial of a debounce record's Take means that the
// record exists: a duplicate. A policy denial is the store's outage, not a
// duplicate (the caller checks). A denial that waits less than the window
// must come from a record. One that waits the whole window is either a
// copy in the same microsecond as the first or a store refusing a new key
// (memorystore at WithMaxKeys): Peek tells them apart, so that a full
// store never drops every new message as a duplicate.
func held(ctx context.Context, lim *core.Limiter, s core.Scope, res core.Result) bool {
	if res.RetryAfter < lim.Limit().Period {
		return true
	}
	p, err := lim.Peek(ctx, s)
	return err == nil && !p.Allowed
}
