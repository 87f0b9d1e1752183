package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"
)

// KeyFunc picks the scope an update is counted against. It returns false
// when the update has nothing to count it by (no user, no chat, …).
type KeyFunc func(Update) (Scope, bool)

// ByUser counts each sender separately: the default. Messages sent on
// behalf of a chat (channel posts, anonymous admins) count against that
// sender chat, not the shared service account in UserID.
func ByUser(u Update) (Scope, bool) {
	switch {
	case u.SenderChatID != 0:
		return SenderChat(u.SenderChatID), true
	case u.UserID != 0:
		return User(u.UserID), true
	}
	return Scope{}, false
}

// ByChat counts everything in a chat together. Updates without a chat
// (inline queries, polls) have no key.
func ByChat(u Update) (Scope, bool) {
	if u.ChatID == 0 {
		return Scope{}, false
	}
	return Chat(u.ChatID), true
}

// ByUserInChat counts each sender separately within each chat, so one user
// has separate budgets in different groups. Without a chat, it counts the
// sender alone (as ByUser).
func ByUserInChat(u Update) (Scope, bool) {
	s, ok := ByUser(u)
	if !ok || u.ChatID == 0 || s.kind != scopeUser {
		return s, ok
	}
	return UserInChat(u.UserID, u.ChatID), true
}

// ByGlobal counts every update together: a cap on what the whole bot
// handles.
func ByGlobal(Update) (Scope, bool) { return Global(), true }

// Action is what a Guard does with an update it does not decide by limit.
type Action uint8

const (
	// Pass lets the update through.
	Pass Action = iota
	// Drop drops the update.
	Drop
)

// Reason says why a Guard passed or dropped an update.
type Reason uint8

const (
	// ReasonAllowed: the limit admitted the update.
	ReasonAllowed Reason = iota
	// ReasonLimited: the limit (or a command's limit) denied the update.
	ReasonLimited
	// ReasonBypass: the sender is on the bypass list; nothing was counted.
	ReasonBypass
	// ReasonUnkeyed: the key function found nothing to count the update by.
	ReasonUnkeyed
	// ReasonError: the limiter returned an error (the caller's context
	// ended); the update followed WithErrorAction.
	ReasonError
	// ReasonPenalty: the sender is blocked for repeated flooding
	// (WithPenalty); Result.RetryAfter says for how long.
	ReasonPenalty
)

var reasonNames = [...]string{"allowed", "limited", "bypass", "unkeyed", "error", "penalty"}

// String returns "allowed", "limited", "bypass", "unkeyed", "error" or
// "penalty".
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

// Verdict is a Guard's answer for one update: whether it passes, and what
// the adapter should do about a denial.
type Verdict struct {
	// Pass reports whether the update goes on to the bot's handlers.
	Pass bool
	// Reason says why.
	Reason Reason
	// Result is the limiter's decision for ReasonAllowed and ReasonLimited
	// (Result.Source says whether the store, the deny cache, the fallback
	// or the failure policy made it). For ReasonPenalty it describes the
	// block: RetryAfter and ResetAfter are the time left, Limit the Guard's
	// limit, Allowed false. Zero for the other reasons.
	Result Result
	// Notice, when not empty, is the "slow down" reply to send to the
	// update's chat now. It is set at most once per cooldown per key across
	// every instance, and only for messages (not channel posts).
	Notice string
	// CallbackText is the text to answer a throttled callback query with
	// (possibly empty: the answer still stops the button's spinner). It
	// carries the notice text when a notice is due.
	CallbackText string
	// Err is the limiter's error behind ReasonError: the caller's ctx
	// ended (context.Canceled or context.DeadlineExceeded), or a cost
	// error. Never a store failure, which the failure policy decides (see
	// WithPolicy); nil for every other reason.
	Err error
}

// Guard applies a Limiter to Telegram updates. It holds everything the
// adapters share: the key choice, the bypass list, the policy for updates
// without a key, per-command limits, and the notify-once cooldown. Adapters
// convert an update, call Check, and act on the Verdict. A Guard is safe for
// concurrent use. Build it with NewGuard: the zero Guard is not usable, and
// its methods panic.
type Guard struct {
	lim          *Limiter
	key          KeyFunc
	unkeyed      Action
	onError      Action
	bypass       map[int64]struct{}
	bypassFunc   func(Update) bool
	commands     map[string]*Limiter
	notice       *Limiter // nil: no notices
	noticeText   func(retryAfter time.Duration) string
	callbackText string
	logger       *slog.Logger
	pen          *penalties // nil: no penalties

	// construction input, checked by NewGuard
	commandLimits map[string]Limit
	cooldown      time.Duration
	penaltyCfg    *Penalty
}

// GuardOption configures a Guard in NewGuard.
type GuardOption func(*Guard)

// DefaultNoticeCooldown is how often at most a throttled key is told to
// slow down, unless WithNotice says otherwise.
const DefaultNoticeCooldown = time.Minute

// WithKey sets how updates are counted (default ByUser): ByChat,
// ByUserInChat, ByGlobal, or your own KeyFunc.
func WithKey(f KeyFunc) GuardOption { return func(g *Guard) { g.key = f } }

// WithUnkeyed sets what happens to updates the key function finds nothing
// for, such as a poll update under ByUser (default Pass).
func WithUnkeyed(a Action) GuardOption { return func(g *Guard) { g.unkeyed = a } }

// WithErrorAction sets what happens to an update the limiter returned an
// error for (default Pass): the caller's ctx ended before or during the
// decision, or, a programming error, a cost outside 1..Burst. It does not
// apply when the store fails or times out: store failures (Redis, a full
// memorystore, the fallback) never reach the Guard as errors; the
// Limiter's failure policy decides them (see WithPolicy). The Verdict
// carries the error, with ReasonError, either way.
func WithErrorAction(a Action) GuardOption { return func(g *Guard) { g.onError = a } }

// WithBypass lets the given user ids (e.g. the bot's admins) and sender
// chat ids through without counting them. It adds to earlier WithBypass.
func WithBypass(ids ...int64) GuardOption {
	return func(g *Guard) {
		if g.bypass == nil {
			g.bypass = make(map[int64]struct{}, len(ids))
		}
		for _, id := range ids {
			g.bypass[id] = struct{}{}
		}
	}
}

// WithBypassFunc lets through, uncounted, every update for which f returns
// true (e.g. updates from a support chat). f runs on every update: keep it
// fast and free of I/O.
func WithBypassFunc(f func(Update) bool) GuardOption { return func(g *Guard) { g.bypassFunc = f } }

// WithCommandLimit adds a limit for one bot command (e.g. "/report"),
// checked in addition to the Guard's limit, under its own rule name
// ("cmd.report"). Commands are matched without "@botname", case-insensitively.
func WithCommandLimit(command string, l Limit) GuardOption {
	return func(g *Guard) {
		if g.commandLimits == nil {
			g.commandLimits = map[string]Limit{}
		}
		g.commandLimits[strings.ToLower(command)] = l
	}
}

// WithNotice sets the notify-once cooldown and the notice text. A throttled
// key is told to slow down at most once per cooldown, across every instance
// sharing the store (default DefaultNoticeCooldown). text builds the reply
// from the wait (nil: DefaultNoticeText). A cooldown ≤ 0 turns notices off.
func WithNotice(cooldown time.Duration, text func(retryAfter time.Duration) string) GuardOption {
	return func(g *Guard) { g.cooldown, g.noticeText = cooldown, text }
}

// WithCallbackText sets the text a throttled callback query is answered
// with when no notice is due (default "": the spinner just stops).
func WithCallbackText(text string) GuardOption { return func(g *Guard) { g.callbackText = text } }

// DefaultNoticeText is the default "slow down" reply: "Too many requests.
// Please try again in 3s." (the wait rounded up to whole seconds).
func DefaultNoticeText(retryAfter time.Duration) string {
	secs := int64(math.Ceil(retryAfter.Seconds()))
	return fmt.Sprintf("Too many requests. Please try again in %ds.", max(secs, 1))
}

// NewGuard returns a Guard over lim. It fails, with an error wrapping
// ErrInvalidOption or ErrInvalidLimit, for a nil limiter or key function,
// a malformed command, or an invalid command limit.
func NewGuard(lim *Limiter, opts ...GuardOption) (*Guard, error) {
	if lim == nil {
		return nil, fmt.Errorf("core: %w: limiter is nil", ErrInvalidOption)
	}
	g := &Guard{lim: lim, key: ByUser, cooldown: DefaultNoticeCooldown, noticeText: DefaultNoticeText}
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("core: %w: nil GuardOption", ErrInvalidOption)
		}
		opt(g)
	}
	if g.key == nil {
		return nil, fmt.Errorf("core: %w: key function is nil", ErrInvalidOption)
	}
	if g.noticeText == nil {
		g.noticeText = DefaultNoticeText
	}
	g.logger = lim.cfg.logger
	if g.cooldown > 0 {
		n, err := lim.Rule("notice", Every(g.cooldown))
		if err != nil {
			return nil, fmt.Errorf("core: notice cooldown: %w", err)
		}
		g.notice = n
	}
	if g.penaltyCfg != nil {
		pen, err := newPenalties(lim, *g.penaltyCfg)
		if err != nil {
			return nil, err
		}
		g.pen = pen
	}
	for cmd, l := range g.commandLimits {
		name := strings.TrimPrefix(cmd, "/")
		if CommandOf(cmd) != cmd || len(name) > 32 {
			return nil, fmt.Errorf("core: %w: command %q must look like /name (1-32 of a-z, 0-9, _)", ErrInvalidOption, cmd)
		}
		r, err := lim.Rule("cmd."+name, l)
		if err != nil {
			return nil, fmt.Errorf("core: command %s: %w", cmd, err)
		}
		if g.commands == nil {
			g.commands = map[string]*Limiter{}
		}
		g.commands[cmd] = r
	}
	return g, nil
}

// Limiter returns the limiter the Guard applies.
func (g *Guard) Limiter() *Limiter { return g.lim }

// Reset lifts everything the Guard holds against s, e.g. for a user
// throttled or blocked by mistake: the limit's key, every command limit's
// key, and, with WithPenalty, the penalty's keys (strikes, offense level
// and block, so the next offense starts again from the first block) and the
// block this instance remembers. The notify-once cooldown is kept, so a
// reset does not earn the user an extra notice. s is the scope the key
// function gives for the user's updates: User(id) under ByUser (the
// default), UserInChat(id, chat) under ByUserInChat, SenderChat(id) for a
// channel or anonymous admin, and so on.
//
// It resets every key even when one fails, and returns the store errors
// joined (nil if none); a done ctx returns ctx.Err() at once. Like
// Limiter.Reset, it reaches the store and this instance only: other
// instances keep a denial in their deny cache until its RetryAfter ends,
// and a block they have seen until the block ends.
func (g *Guard) Reset(ctx context.Context, s Scope) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	errs := []error{g.lim.Reset(ctx, s)}
	for _, cmd := range g.commands {
		errs = append(errs, cmd.Reset(ctx, s))
	}
	if g.pen != nil {
		errs = append(errs, g.pen.reset(ctx, s))
	}
	return errors.Join(errs...)
}

// ReportAction records a Bot API call an adapter made on a denial: action
// is the method ("answerCallbackQuery", "answerInlineQuery", "sendMessage"),
// u the update acted on, err the call's result. The Limiter's observer, if
// any, hears of every call; a failure is also logged at warn level with
// token, the bot token, cut out of the error text (HTTP clients put the
// request URL, token included, in their errors). It never panics.
func (g *Guard) ReportAction(ctx context.Context, action string, u Update, token string, err error) {
	if obs := g.lim.cfg.observer; obs != nil {
		obs.Action(ActionEvent{Action: action, Kind: u.Kind, Err: err})
	}
	if err == nil {
		return
	}
	g.logger.LogAttrs(ctx, slog.LevelWarn, "floodgate: could not act on a throttled update",
		slog.String("action", action), slog.String("kind", u.Kind.String()),
		slog.String("error", Redact(err.Error(), token)))
}

// Redact returns s with every occurrence of secret replaced by "xxxxx". An
// empty secret leaves s as it is.
func Redact(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "xxxxx")
}

// Check decides one update: bypass, key, the limit, the command's limit,
// and on a denial whether a notice is due. Payment updates
// (pre_checkout_query, shipping_query) always pass uncounted: Telegram
// cancels a payment whose query is not answered within seconds. It never
// panics on a partial Update and never returns an error: a store failure
// is decided by the Limiter's failure policy (ReasonAllowed or
// ReasonLimited, Result.Source SourceFallback or SourcePolicy), and only
// the caller's ctx ending becomes a Verdict with ReasonError, which follows
// WithErrorAction.
func (g *Guard) Check(ctx context.Context, u Update) Verdict {
	if u.Kind == KindPreCheckoutQuery || u.Kind == KindShippingQuery {
		// Telegram cancels a payment whose query goes unanswered: never
		// throttle these, or a user who chatted a bit could not pay.
		return Verdict{Pass: true, Reason: ReasonBypass}
	}
	if g.bypassed(u) {
		return Verdict{Pass: true, Reason: ReasonBypass}
	}
	scope, ok := g.key(u)
	if !ok {
		return Verdict{Pass: g.unkeyed == Pass, Reason: ReasonUnkeyed}
	}
	if g.pen != nil && !g.lim.shadow { // shadow mode never blocks
		if d := g.pen.blockedFor(ctx, scope); d > 0 {
			res := Result{RetryAfter: d, ResetAfter: d, Limit: g.lim.limit}
			return g.deny(ctx, u, scope, Verdict{Reason: ReasonPenalty, Result: res})
		}
	}
	res, err := g.lim.Take(ctx, scope, 1)
	if err == nil && res.Allowed && u.Command != "" {
		if cmd := g.commands[u.Command]; cmd != nil {
			res, err = cmd.Take(ctx, scope, 1)
		}
	}
	if err != nil {
		return Verdict{Pass: g.onError == Pass, Reason: ReasonError, Err: err}
	}
	if res.Allowed {
		return Verdict{Pass: true, Reason: ReasonAllowed, Result: res}
	}
	if g.pen != nil && res.Source != SourcePolicy { // a policy denial is the store's outage, not a strike
		if d := g.pen.strike(ctx, scope); d > 0 {
			res.RetryAfter = max(res.RetryAfter, d)
		}
	}
	return g.deny(ctx, u, scope, Verdict{Reason: ReasonLimited, Result: res})
}

// deny completes the Verdict of a dropped update: the callback text, and
// the notice when one is due for this key.
func (g *Guard) deny(ctx context.Context, u Update, scope Scope, v Verdict) Verdict {
	v.CallbackText = g.callbackText
	if g.notice != nil && (u.Kind.carriesMessage() && u.ChatID != 0 || u.Kind == KindCallbackQuery) {
		if n, err := g.notice.Take(ctx, scope, 1); err == nil && n.Allowed && !n.Shadow {
			text := g.noticeText(v.Result.RetryAfter)
			if u.Kind == KindCallbackQuery {
				v.CallbackText = text
			} else {
				v.Notice = text
			}
		}
	}
	return v
}

func (g *Guard) bypassed(u Update) bool {
	if g.bypass != nil {
		if _, ok := g.bypass[u.UserID]; ok && u.UserID != 0 {
			return true
		}
		if _, ok := g.bypass[u.SenderChatID]; ok && u.SenderChatID != 0 {
			return true
		}
	}
	return g.bypassFunc != nil && g.bypassFunc(u)
}
