package guard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/floodgate-go/floodgate/core"
)

// KeyFunc picks the scope an update is counted against. It returns false
// when the update has nothing to count it by (no user, no chat, …).
type KeyFunc func(Update) (core.Scope, bool)

// ByUser counts each sender separately: the default. Messages sent on
// behalf of a chat (channel posts, anonymous admins) count against that
// sender chat, not the shared service account in UserID.
func ByUser(u Update) (core.Scope, bool) {
	switch {
	case u.SenderChatID != 0:
		return core.SenderChat(u.SenderChatID), true
	case u.UserID != 0:
		return core.User(u.UserID), true
	}
	return core.Scope{}, false
}

// ByChat counts everything in a chat together. Updates without a chat
// (inline queries, polls) have no key.
func ByChat(u Update) (core.Scope, bool) {
	if u.ChatID == 0 {
		return core.Scope{}, false
	}
	return core.Chat(u.ChatID), true
}

// ByUserInChat counts each sender separately within each chat, so one user
// has separate budgets in different groups. A message sent on behalf of a
// chat counts against that sender chat, and an update without a chat
// counts the sender alone, as under ByUser.
func ByUserInChat(u Update) (core.Scope, bool) {
	if u.SenderChatID == 0 && u.UserID != 0 && u.ChatID != 0 {
		return core.UserInChat(u.UserID, u.ChatID), true
	}
	return ByUser(u)
}

// ByGlobal counts every update together: a cap on what the whole bot
// handles.
func ByGlobal(Update) (core.Scope, bool) { return core.Global(), true }

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
	// ReasonBypass: the sender is on the bypass list, or the update is a
	// payment query; nothing was counted.
	ReasonBypass
	// ReasonUnkeyed: the key function found nothing to count the update by.
	ReasonUnkeyed
	// ReasonError: the limiter returned an error; the update followed
	// WithErrorAction.
	ReasonError
	// ReasonPenalty: the sender is blocked: the denial's wait is longer
	// than the limit alone imposes (WithPenalty, or Limiter.Block).
	ReasonPenalty
	// ReasonDebounced: the update repeats one the sender made within the
	// debounce window (WithDebounce); nothing was counted.
	ReasonDebounced
)

var reasonNames = [...]string{"allowed", "limited", "bypass", "unkeyed", "error", "penalty", "debounced"}

// String returns "allowed", "limited", "bypass", "unkeyed", "error",
// "penalty" or "debounced".
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
	// Result is the limiter's decision for ReasonAllowed, ReasonLimited and
	// ReasonPenalty (Result.Source says whether the store, the deny cache,
	// the fallback or the failure policy made it), and the debounce
	// record's for ReasonDebounced (RetryAfter: until the window ends);
	// zero for the others.
	Result core.Result
	// Notice, when not empty, is the "slow down" reply to send to the
	// update's chat now. It is set at most once per cooldown per key across
	// every instance, and only for messages (not channel posts).
	Notice string
	// CallbackText is the text to answer a dropped callback query with
	// (possibly empty: the answer still stops the button's spinner). It
	// carries the notice text when a notice is due, and is otherwise
	// WithCallbackText's, whatever the Reason but ReasonDebounced (empty:
	// a double tap is no reason to tell anyone to slow down); "" for other
	// kinds.
	CallbackText string
	// Err is the limiter's error behind ReasonError: the caller's ctx
	// ended, or a store without a failure policy failed (see core.New);
	// nil for every other reason.
	Err error
	// AlbumItem reports that the update is a later item of an album
	// (WithAlbums): it followed the verdict of the album's first item,
	// and nothing was counted for it. A dropped item gets no notice.
	AlbumItem bool
}

// Guard applies a core.Limiter to Telegram updates: the key choice, the
// bypass list, the policy for updates without a key, per-command limits,
// the notify-once cooldown and penalties. Adapters convert an update, call
// Check, and hand a denial to Respond. A Guard is safe for concurrent use.
// Build it with New: the zero Guard is not usable, and its methods panic.
type Guard struct {
	lim      *core.Limiter
	cfg      config
	commands map[string]*core.Limiter
	notice   *core.Limiter // nil: no notices
	pen      *penalties    // nil: no penalties
	album    *core.Limiter // nil: albums count per item
	actions  actions       // Respond's calls in flight
	kinds    kindLimiters  // WithKindLimits
	debounce *debouncer    // nil: no debouncing
}

// config is what the Options set.
type config struct {
	key           KeyFunc
	unkeyed       Action
	onError       Action
	bypass        map[int64]struct{}
	bypassFunc    func(Update) bool
	commandLimits map[string]core.Limit
	cooldown      time.Duration
	noticeText    TextFunc
	callbackText  TextFunc // nil: ""
	penalty       *Penalty
	logger        *slog.Logger
	observer      Observer
	noAlbums      bool
	maxActions    int
	actionTimeout time.Duration
	kinds         KindLimits
	debounce      time.Duration
}

// Option configures a Guard in New.
type Option func(*config)

// DefaultNoticeCooldown is how often at most a throttled key is told to
// slow down, unless WithNotice says otherwise.
const DefaultNoticeCooldown = time.Minute

// WithKey sets how updates are counted (default ByUser): ByChat,
// ByUserInChat, ByGlobal, or your own KeyFunc.
func WithKey(f KeyFunc) Option { return func(c *config) { c.key = f } }

// WithUnkeyed sets what happens to updates the key function finds nothing
// for, such as a poll update under ByUser (default Pass).
func WithUnkeyed(a Action) Option { return func(c *config) { c.unkeyed = a } }

// WithErrorAction sets what happens to an update the limiter returned an
// error for (default Pass): the caller's ctx ended, or a store that no
// core.Resilient wraps failed. A Resilient store (what store.Open returns
// for Redis) never fails a decision: its failure policy decides.
func WithErrorAction(a Action) Option { return func(c *config) { c.onError = a } }

// WithBypass lets the given user ids (e.g. the bot's admins) and sender
// chat ids through without counting them. It adds to earlier WithBypass.
func WithBypass(ids ...int64) Option {
	return func(c *config) {
		if c.bypass == nil {
			c.bypass = make(map[int64]struct{}, len(ids))
		}
		for _, id := range ids {
			c.bypass[id] = struct{}{}
		}
	}
}

// WithBypassFunc lets through, uncounted, every update for which f returns
// true (e.g. updates from a support chat). f runs on every update: keep it
// fast and free of I/O.
func WithBypassFunc(f func(Update) bool) Option { return func(c *config) { c.bypassFunc = f } }

// WithCommandLimit adds a limit for one bot command (e.g. "/report"),
// checked in addition to the Guard's limit, under its own rule name
// ("cmd.report"). Commands are matched case-insensitively, as
// Update.Command gives them: without "@botname", and not at all when
// addressed to another bot (see CommandTo).
func WithCommandLimit(command string, l core.Limit) Option {
	return func(c *config) {
		if c.commandLimits == nil {
			c.commandLimits = map[string]core.Limit{}
		}
		c.commandLimits[strings.ToLower(command)] = l
	}
}

// WithNotice sets the notify-once cooldown and the notice text. A throttled
// key is told to slow down at most once per cooldown, across every instance
// sharing the store (default DefaultNoticeCooldown). text builds the reply
// from the update and the wait, e.g. in the sender's language (nil:
// DefaultNoticeText). A cooldown ≤ 0 turns notices off.
func WithNotice(cooldown time.Duration, text TextFunc) Option {
	return func(c *config) { c.cooldown, c.noticeText = cooldown, text }
}

// WithCallbackText sets how the text a throttled callback query is
// answered with is built when no notice is due (default nil: "", the
// spinner just stops).
func WithCallbackText(text TextFunc) Option { return func(c *config) { c.callbackText = text } }

// WithLogger sets where Respond logs the Bot API calls that failed on a
// denial (warn, token removed). Default slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithObserver reports every Bot API call Respond makes on a denial to o
// (e.g. package metrics). Default: none.
func WithObserver(o Observer) Option { return func(c *config) { c.observer = o } }

// Observer hears of the Bot API calls Respond makes on denials. Methods
// are called from Respond's goroutines: they must be fast and safe for
// concurrent use.
type Observer interface {
	// Action is called once per call, after it, or when it is dropped.
	Action(ActionEvent)
}

// ActionEvent describes one Bot API call Respond made, or dropped, on a
// denial.
type ActionEvent struct {
	// Action is the Bot API method: "answerCallbackQuery",
	// "answerInlineQuery" or "sendMessage" (a notice).
	Action string
	// Kind is the kind of the update acted on.
	Kind Kind
	// Err is the call's error, nil if it succeeded.
	Err error
	// Dropped reports that the call did not go out in time and was given
	// up: WithActions' limit of calls in flight was reached, or its
	// deadline passed (in an outbound throttle's lane, or in the call).
	// Err says which.
	Dropped bool
}

// New returns a Guard over lim. It fails, with an error wrapping
// core.ErrInvalidOption or core.ErrInvalidLimit, for a nil limiter, Option
// or key function, a malformed command, an invalid command limit, or an
// invalid Penalty.
func New(lim *core.Limiter, opts ...Option) (*Guard, error) {
	if lim == nil {
		return nil, fmt.Errorf("guard: %w: limiter is nil", core.ErrInvalidOption)
	}
	c := config{key: ByUser, cooldown: DefaultNoticeCooldown, maxActions: DefaultMaxActions, actionTimeout: DefaultActionTimeout}
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("guard: %w: nil Option", core.ErrInvalidOption)
		}
		opt(&c)
	}
	if c.key == nil {
		return nil, fmt.Errorf("guard: %w: key function is nil", core.ErrInvalidOption)
	}
	if c.noticeText == nil {
		c.noticeText = DefaultNoticeText
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	if c.maxActions < 1 || c.actionTimeout <= 0 {
		return nil, fmt.Errorf("guard: %w: WithActions(%d, %v): want at least 1 call and a positive timeout",
			core.ErrInvalidOption, c.maxActions, c.actionTimeout)
	}
	g := &Guard{lim: lim, cfg: c}
	g.actions.slots = make(chan struct{}, c.maxActions)
	if !c.noAlbums {
		a, err := lim.Rule(albumRule, core.Every(albumWindow))
		if err != nil {
			return nil, fmt.Errorf("guard: albums: %w", err)
		}
		g.album = a
	}
	if c.cooldown > 0 {
		n, err := lim.Rule("notice", core.Every(c.cooldown))
		if err != nil {
			return nil, fmt.Errorf("guard: notice cooldown: %w", err)
		}
		g.notice = n
	}
	if c.penalty != nil {
		pen, err := newPenalties(lim, *c.penalty)
		if err != nil {
			return nil, err
		}
		g.pen = pen
	}
	var err error
	if g.kinds, err = newKindLimiters(lim, c.kinds); err != nil {
		return nil, err
	}
	if g.debounce, err = newDebouncer(lim, c.debounce); err != nil {
		return nil, err
	}
	for cmd, l := range c.commandLimits {
		name := strings.TrimPrefix(cmd, "/")
		if CommandOf(cmd) != cmd || len(name) > 32 {
			return nil, fmt.Errorf("guard: %w: command %q must look like /name (1-32 of a-z, 0-9, _)", core.ErrInvalidOption, cmd)
		}
		r, err := lim.Rule("cmd."+name, l)
		if err != nil {
			return nil, fmt.Errorf("guard: command %s: %w", cmd, err)
		}
		if g.commands == nil {
			g.commands = map[string]*core.Limiter{}
		}
		g.commands[cmd] = r
	}
	return g, nil
}

// Limiter returns the limiter the Guard applies.
func (g *Guard) Limiter() *core.Limiter { return g.lim }

// Check decides one update: bypass, duplicates (WithDebounce), key, the
// limit (its kind's, with WithKindLimits), the command's limit, penalties,
// and on a denial whether a notice is due. Payment updates
// (pre_checkout_query, shipping_query) always pass uncounted: Telegram
// cancels a payment whose query is not answered within seconds. It never
// panics on a partial Update. An error of the limiter becomes a Verdict
// with ReasonError, which follows WithErrorAction.
func (g *Guard) Check(ctx context.Context, u Update) Verdict {
	if u.Kind == KindPreCheckoutQuery || u.Kind == KindShippingQuery || g.bypassed(u) {
		return Verdict{Pass: true, Reason: ReasonBypass}
	}
	return g.debounced(ctx, u, g.decide)
}

// decide decides an update that is not bypassed and not a duplicate.
func (g *Guard) decide(ctx context.Context, u Update) Verdict {
	scope, ok := g.cfg.key(u)
	if !ok {
		return g.unlimited(u, g.cfg.unkeyed, Verdict{Reason: ReasonUnkeyed})
	}
	if album, ok := g.albumOf(u); ok {
		return g.checkAlbum(ctx, u, scope, album)
	}
	return g.check(ctx, u, scope)
}

// check decides u, counted against scope, by the limits.
func (g *Guard) check(ctx context.Context, u Update, scope core.Scope) Verdict {
	res, err := g.kinds.limiterFor(u, g.lim).Take(ctx, scope, 1)
	if err == nil && res.Allowed && u.Command != "" {
		if cmd := g.commands[u.Command]; cmd != nil {
			res, err = cmd.Take(ctx, scope, 1)
		}
	}
	switch {
	case err != nil:
		return g.unlimited(u, g.cfg.onError, Verdict{Reason: ReasonError, Err: err})
	case res.Allowed:
		return Verdict{Pass: true, Reason: ReasonAllowed, Result: res}
	case blocked(res):
		return g.deny(ctx, u, scope, Verdict{Reason: ReasonPenalty, Result: res})
	}
	v := Verdict{Reason: ReasonLimited, Result: res}
	if g.pen != nil && res.Source != core.SourcePolicy { // a policy denial is the store's outage, not a strike
		if d := g.pen.strike(ctx, scope); d > 0 {
			g.kinds.block(ctx, scope, d)
			v.Reason = ReasonPenalty
			v.Result.RetryAfter = max(res.RetryAfter, d)
			v.Result.ResetAfter = max(res.ResetAfter, d)
		}
	}
	return g.deny(ctx, u, scope, v)
}

// blocked reports whether a denial waits longer than its limit alone can
// make an event of cost 1 wait (one interval under GCRA, one period under a
// sliding window): the key is blocked.
func blocked(res core.Result) bool {
	longest := res.Limit.Interval()
	if res.Limit.Algorithm == core.SlidingWindow {
		longest = res.Limit.Period
	}
	return res.RetryAfter > longest
}

// unlimited completes the Verdict of an update no limit decided: a passes
// or drops it, and a dropped callback query still gets its answer's text.
func (g *Guard) unlimited(u Update, a Action, v Verdict) Verdict {
	if v.Pass = a == Pass; !v.Pass {
		v.CallbackText = g.callbackText(u, 0)
	}
	return v
}

// callbackText is WithCallbackText's text for u.
func (g *Guard) callbackText(u Update, retryAfter time.Duration) string {
	if g.cfg.callbackText == nil || u.Kind != KindCallbackQuery {
		return ""
	}
	return g.cfg.callbackText(u, retryAfter)
}

// deny completes the Verdict of a dropped update: the callback text, and
// the notice when one is due for this key.
func (g *Guard) deny(ctx context.Context, u Update, scope core.Scope, v Verdict) Verdict {
	if g.notice != nil && (u.Kind.carriesMessage() && u.ChatID != 0 || u.Kind == KindCallbackQuery) {
		if n, err := g.notice.Take(ctx, scope, 1); err == nil && n.Allowed && !n.Shadow {
			text := g.cfg.noticeText(u, v.Result.RetryAfter)
			if u.Kind == KindCallbackQuery {
				v.CallbackText = text
			} else {
				v.Notice = text
			}
			return v
		}
	}
	v.CallbackText = g.callbackText(u, v.Result.RetryAfter)
	return v
}

func (g *Guard) bypassed(u Update) bool {
	if g.cfg.bypass != nil {
		if _, ok := g.cfg.bypass[u.UserID]; ok && u.UserID != 0 {
			return true
		}
		if _, ok := g.cfg.bypass[u.SenderChatID]; ok && u.SenderChatID != 0 {
			return true
		}
	}
	return g.cfg.bypassFunc != nil && g.cfg.bypassFunc(u)
}

// Reset lifts everything the Guard holds against s, e.g. for a user
// throttled or blocked by mistake: the limit's key (and with it any
// block), every kind's and command limit's key, and, with WithPenalty, the strikes
// and offense level, so the next offense starts again from the first
// block. The notify-once cooldown is kept, so a reset does not earn the
// user an extra notice. s is the scope the key function gives for the
// user's updates: core.User(id) under ByUser (the default),
// core.UserInChat(id, chat) under ByUserInChat, core.SenderChat(id) for a
// channel or anonymous admin, and so on.
//
// It resets every key even when one fails, and returns the errors joined
// (nil if none); a done ctx returns ctx.Err() at once. Other instances
// keep a denial in their deny cache until its RetryAfter ends.
func (g *Guard) Reset(ctx context.Context, s core.Scope) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	errs := []error{g.lim.Reset(ctx, s), g.kinds.reset(ctx, s)}
	for _, cmd := range g.commands {
		errs = append(errs, cmd.Reset(ctx, s))
	}
	if g.pen != nil {
		errs = append(errs, g.pen.reset(ctx, s))
	}
	return errors.Join(errs...)
}

// Redact returns s with every occurrence of secret replaced by "xxxxx". An
// empty secret leaves s as it is.
func Redact(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "xxxxx")
}
