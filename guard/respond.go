package guard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/floodgate-go/floodgate/outbound"
)

// Responder makes, in one framework's own way, the Bot API calls with which
// Guard.Respond answers a dropped update. An adapter implements it for the
// update at hand; Respond decides which calls to make. Each method returns
// the call's error, which Respond reports and does not return. Methods are
// called from a goroutine of Respond's, after the adapter has moved on, and
// must honour ctx: it carries the call's deadline (WithActions), and an
// outbound.Throttle refuses at once a send its lanes cannot admit before it.
type Responder interface {
	// AnswerCallback answers the update's callback query with text, which
	// may be empty: the answer still stops the button's spinner.
	AnswerCallback(ctx context.Context, text string) error
	// AnswerInline answers the update's inline query with no results,
	// personal, cached as briefly as the framework can ask (cache_time 0
	// where it can send it: Telegram caches an omitted one for 300 s).
	AnswerInline(ctx context.Context) error
	// SendNotice sends text, as plain text, to the chat chatID (the
	// update's).
	SendNotice(ctx context.Context, chatID int64, text string) error
}

// DefaultMaxActions and DefaultActionTimeout are WithActions' defaults: at
// most 32 denials acted on at once, each within 5 seconds.
const (
	DefaultMaxActions    = 32
	DefaultActionTimeout = 5 * time.Second
)

// ErrActionsBusy is the error of an ActionEvent dropped because WithActions'
// limit of denials acted on at once was reached.
var ErrActionsBusy = errors.New("guard: too many denials being acted on: call dropped")

// WithActions bounds the Bot API calls Respond makes on denials: at most max
// denials are acted on at once (default DefaultMaxActions), and the calls
// for one denial must be done within timeout (default
// DefaultActionTimeout), queueing in an outbound throttle included. A call
// that cannot go out in time is dropped, not delivered late: a notice that
// says "try again in 3s" a minute later helps no one. Dropped calls are
// reported to the Observer (ActionEvent.Dropped). max < 1 or timeout ≤ 0
// makes New fail.
func WithActions(max int, timeout time.Duration) Option {
	return func(c *config) { c.maxActions, c.actionTimeout = max, timeout }
}

// actions tracks the calls Respond started.
type actions struct {
	slots chan struct{} // one per denial acted on
	mu    sync.Mutex
	n     int           // denials being acted on
	idle  chan struct{} // closed when n drops to 0
}

func (a *actions) start() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n == 0 {
		a.idle = make(chan struct{})
	}
	a.n++
}

func (a *actions) done() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n--; a.n == 0 {
		close(a.idle)
	}
}

// Respond acts on a Verdict that dropped u, through r, so that the user is
// not left waiting: it answers a callback query with v.CallbackText (the
// button stops spinning), answers an inline query with no results, and
// then sends v.Notice, if any, to u's chat. It does nothing when v passes
// u or calls for no call.
//
// Respond returns at once: the calls run on a goroutine of their own, one
// after the other, never on the caller's path, so a slow Bot API or a full
// outbound lane delays no other update. They run under ctx's values but
// not its cancellation (the update's handling may end first), bounded by
// WithActions: a call that cannot be made within its timeout, or that
// finds too many denials already being acted on, is dropped. Guard.Wait
// waits for the calls in flight.
//
// Each call is reported to the Observer (WithObserver) by its Bot API
// method name ("answerCallbackQuery", "answerInlineQuery", "sendMessage");
// a failed or dropped one is also logged at warn level with token, the bot
// token, cut out of the error text (HTTP clients put the request URL,
// token included, in their errors). A failed answer leaves the update
// dropped. It never panics on a partial Update.
func (g *Guard) Respond(ctx context.Context, u Update, v Verdict, r Responder, token string) {
	var calls [2]string
	n := 0
	switch {
	case v.Pass:
		return
	case u.Kind == KindCallbackQuery:
		calls[n], n = "answerCallbackQuery", n+1
	case u.Kind == KindInlineQuery:
		calls[n], n = "answerInlineQuery", n+1
	}
	if v.Notice != "" {
		calls[n], n = "sendMessage", n+1
	}
	if n == 0 {
		return
	}
	select {
	case g.actions.slots <- struct{}{}:
	default:
		for _, call := range calls[:n] {
			g.report(ctx, call, u, token, ErrActionsBusy, true)
		}
		return
	}
	g.actions.start()
	go func() {
		defer func() { <-g.actions.slots; g.actions.done() }()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.cfg.actionTimeout)
		defer cancel()
		for _, call := range calls[:n] {
			if ctx.Err() != nil {
				g.report(ctx, call, u, token, fmt.Errorf("guard: %s not sent: %w", call, ctx.Err()), true)
				continue
			}
			var err error
			switch call {
			case "answerCallbackQuery":
				err = r.AnswerCallback(ctx, v.CallbackText)
			case "answerInlineQuery":
				err = r.AnswerInline(ctx)
			default:
				err = r.SendNotice(ctx, u.ChatID, v.Notice)
			}
			g.report(ctx, call, u, token, err, err != nil && (ctx.Err() != nil || errors.Is(err, outbound.ErrWaitTooLong)))
		}
	}()
}

// Wait blocks until no call Respond started is in flight, or ctx is done
// (then it returns ctx.Err()). Call it at shutdown, after the last update
// was decided, so that the answers and notices in flight go out (each
// within WithActions' timeout) before the bot's HTTP client closes. It may
// be called concurrently with Respond; calls started while it waits are
// waited for too.
func (g *Guard) Wait(ctx context.Context) error {
	g.actions.mu.Lock()
	if g.actions.n == 0 {
		g.actions.mu.Unlock()
		return nil
	}
	idle := g.actions.idle
	g.actions.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// report tells the Observer of one call made or dropped on a denial, and
// logs it at warn level, token cut out, when it failed.
func (g *Guard) report(ctx context.Context, action string, u Update, token string, err error, dropped bool) {
	if o := g.cfg.observer; o != nil {
		o.Action(ActionEvent{Action: action, Kind: u.Kind, Err: err, Dropped: dropped})
	}
	if err == nil {
		return
	}
	msg := "floodgate: could not act on a throttled update"
	if dropped {
		msg = "floodgate: dropped an answer to a throttled update: it could not go out in time"
	}
	g.cfg.logger.LogAttrs(ctx, slog.LevelWarn, msg,
		slog.String("action", action), slog.String("kind", u.Kind.String()),
		slog.String("error", Redact(err.Error(), token)))
}
