// Command telego is a starter bot built with github.com/mymmrac/telego v1
// and floodgate: it greets, answers /help and /ping, answers its button, and
// echoes any other text, with every update limited per user by a
// floodgate Guard. A user who floods it is told once to slow down, in
// Russian if their Telegram speaks Russian, in English otherwise
// (guard.DefaultNoticeText; pass guard.WithNotice in setup.Options.Guard
// for your own texts); a photo album counts as one message. Copy it and
// change the handlers.
//
// Configuration comes from the environment:
//
//	TELEGRAM_BOT_TOKEN   the token from @BotFather (required)
//	TELEGRAM_API_URL     base URL of a local Bot API server (default: Telegram's)
//	WEBHOOK_URL          public HTTPS URL Telegram posts updates to   } both for webhook mode,
//	LISTEN_ADDR          address to serve it on, e.g. :8443          } neither for long polling
//	WEBHOOK_SECRET       secret_token Telegram sends with each update (required in webhook mode)
//	WEBHOOK_INSECURE     true: serve a webhook without WEBHOOK_SECRET (logs a warning;
//	                     anyone who finds the URL can then post forged updates)
//	FLOODGATE_STORE, FLOODGATE_LIMIT, REDIS_URL, ...   the store and limit: see package store
//	METRICS_ADDR         serve Prometheus metrics at http://METRICS_ADDR/metrics (optional)
//
// One instance can use the memory store (the default). Several instances
// need webhook mode, behind one WEBHOOK_URL, and share one limit with
// FLOODGATE_STORE=redis: Telegram lets one process at a time long-poll a
// token (a second one gets 409 Conflict, and this bot then stops saying so).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/floodgate-go/floodgate/adapters/telegolimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/outbound"
	"github.com/floodgate-go/floodgate/setup"
	"github.com/floodgate-go/floodgate/webhook"
	"github.com/mymmrac/telego"
	th "github.com/mymmrac/telego/telegohandler"
	tu "github.com/mymmrac/telego/telegoutil"
)

const (
	pollTimeout     = 30               // seconds a getUpdates call waits for updates
	updateTimeout   = 20 * time.Second // bound on handling one update
	shutdownTimeout = 10 * time.Second // bound on finishing the updates in hand at exit
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(ctx, os.LookupEnv, logger); err != nil {
		logger.Error("bot failed", "error", err)
		os.Exit(1)
	}
}

// run starts the bot and blocks until ctx is done, then finishes the
// updates in hand and returns nil. It returns an error when the
// configuration is wrong or the bot cannot start; errors never contain the
// token.
func run(ctx context.Context, lookup func(string) (string, bool), log *slog.Logger) error {
	get := func(name string) string { v, _ := lookup(name); return strings.TrimSpace(v) }
	token := get("TELEGRAM_BOT_TOKEN")
	if token == "" {
		return errors.New("TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and export its token")
	}
	webhookURL, listenAddr := get("WEBHOOK_URL"), get("LISTEN_ADDR")
	if (webhookURL == "") != (listenAddr == "") {
		return errors.New("WEBHOOK_URL and LISTEN_ADDR must be set together (webhook mode) or both left unset (long polling)")
	}
	hookCfg, err := webhook.FromEnv(lookup) // WEBHOOK_SECRET, WEBHOOK_INSECURE
	if err != nil {
		return err
	}
	if err := hookCfg.Validate(); err != nil && webhookURL != "" {
		return err // no secret, or one Telegram would refuse
	}
	hookCfg.Logger = log
	// A 409 Conflict from getUpdates cancels ctx with webhook.ErrConflict.
	ctx, conflict := context.WithCancelCause(ctx)
	defer conflict(nil)
	// redact removes the token from errors: HTTP errors quote the request
	// URL, /bot<token>/<method>.
	redact := func(what string, err error) error {
		return fmt.Errorf("%s: %s", what, guard.Redact(err.Error(), token))
	}

	// The store, the limit, the Guard, the outbound throttle, and /metrics
	// when METRICS_ADDR is set, all from the environment.
	fg, err := setup.Open(ctx, setup.Options{Lookup: lookup, Logger: log})
	if err != nil {
		return err
	}
	defer fg.Close()

	// net/http rather than telego's default fasthttp, which ignores context
	// cancellation; the timeout must exceed the long-poll timeout.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	defer transport.CloseIdleConnections()
	// Runs first: the answers and notices still going out finish (each
	// within its deadline, guard.WithActions) before the transport closes.
	defer fg.Guard.Wait(context.WithoutCancel(ctx))
	opts := []telego.BotOption{
		// Outgoing flood control: sends wait for Telegram's limits, shared by
		// every instance through the store; a 429 pauses the chat and retries.
		telego.WithHTTPClient(fg.Throttle.Client(&http.Client{Transport: webhook.ConflictTransport(transport, conflict),
			Timeout: outbound.DefaultMaxWait + (pollTimeout+15)*time.Second})),
		telego.WithLogger(telegoLog{ctx: ctx, log: log, token: token}),
	}
	if api := get("TELEGRAM_API_URL"); api != "" {
		opts = append(opts, telego.WithAPIServer(strings.TrimRight(api, "/")))
	}
	bot, err := telego.NewBot(token, opts...) // no network call
	if err != nil {
		return fmt.Errorf("TELEGRAM_BOT_TOKEN: %w", err) // telego's errors do not repeat the token
	}

	// getMe checks the token and tells the bot's username, which tells
	// "/ping@OtherBot" (another bot's command, in a group) from its own.
	me, err := bot.GetMe(ctx)
	if err != nil {
		return redact("TELEGRAM_BOT_TOKEN or TELEGRAM_API_URL: getMe", err)
	}

	var updates <-chan telego.Update
	var server *http.Server
	stopWebhook := func() {}
	mode := "polling"
	if webhookURL == "" {
		// A webhook left set by an earlier run would make getUpdates fail.
		if err := bot.DeleteWebhook(ctx, &telego.DeleteWebhookParams{}); err != nil {
			return redact("deleteWebhook", err)
		}
		updates, err = bot.UpdatesViaLongPolling(ctx, &telego.GetUpdatesParams{Timeout: pollTimeout},
			telego.WithLongPollingRetryTimeout(2*time.Second)) // telego sleeps this long after an error, even at exit
		if err != nil {
			return redact("long polling", err)
		}
	} else {
		mode = "webhook"
		if updates, server, stopWebhook, err = startWebhook(ctx, bot, webhookURL, listenAddr, hookCfg); err != nil {
			return errors.New(guard.Redact(err.Error(), token)) // its errors name what failed
		}
	}

	bh, err := th.NewBotHandler(bot, updates)
	if err != nil {
		stopWebhook()
		return err
	}
	// Let the updates in hand finish at exit: telegohandler cancels a
	// handler's context when the bot handler stops.
	bh.Use(func(ctx *th.Context, u telego.Update) error {
		ctx, cancel := ctx.WithoutCancel().WithTimeout(updateTimeout)
		defer cancel()
		return ctx.Next(u)
	})
	bh.Use(telegolimit.Middleware(fg.Guard)) // before the handlers: routes match in registration order
	registerHandlers(bh, fg.Limiter.Limit(), me.Username)

	// telegohandler clones each update through JSON for every route with
	// predicates. telego's JSON library builds its codec on first use, in
	// every goroutine that needs it before it is ready: with a backlog of
	// updates at start-up that costs seconds of CPU. Build it now, once.
	_ = telego.Update{Message: &telego.Message{}}.Clone()

	started := make(chan error, 1)
	go func() { started <- bh.Start() }()
	log.Info("floodgate bot started", "framework", "telego", "mode", mode, "config", fg.Config)

	<-ctx.Done()
	// Stop taking updates, then handle those already taken.
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if server != nil {
		// Shutdown waits for the deliveries in progress (a connection that
		// has not sent its request yet gets up to 5 s: net/http's rule).
		if err := server.Shutdown(shutdownCtx); err != nil {
			// A delivery may still be queueing its update: closing updates
			// under it would panic, so leave it open and stop handling.
			log.Warn("webhook server did not stop in time", "error", err)
			_ = server.Close()
			_ = bh.StopWithContext(shutdownCtx)
			return nil
		}
		stopWebhook() // closes updates; only now no delivery can still send to it
	}
	select { // long polling closes updates itself once ctx is done
	case err := <-started: // Start returns when updates is closed and drained
		if err != nil {
			log.Warn("bot handler", "error", err)
		}
	case <-shutdownCtx.Done():
	}
	if err := bh.StopWithContext(shutdownCtx); err != nil {
		log.Warn("some updates were still being handled at exit", "error", err)
	}
	if err := context.Cause(ctx); errors.Is(err, webhook.ErrConflict) {
		return err
	}
	log.Info("floodgate bot stopped")
	return nil
}

// startWebhook listens on addr, serves telego's webhook handler at the path
// of webhookURL behind webhook.Handler, and registers webhookURL with
// setWebhook. stop closes the updates channel; call it only after the
// server has shut down.
func startWebhook(ctx context.Context, bot *telego.Bot, webhookURL, addr string, hookCfg webhook.Config) (
	updates <-chan telego.Update, server *http.Server, stop func(), err error,
) {
	u, err := url.Parse(webhookURL)
	if err != nil || u.Host == "" {
		return nil, nil, nil, errors.New("WEBHOOK_URL is not an absolute URL like https://bot.example.com/telegram")
	}
	path := u.Path
	if path == "" {
		path = "/"
	}
	// Not telego.WebhookHTTPServer: it reads bodies without a limit and
	// answers malformed JSON with 500, which Telegram retries. Here bodies
	// over 1 MiB get 413, malformed ones 400, a missing or wrong secret 401;
	// the server has read, write and idle timeouts and a header cap.
	server = webhook.NewServer(nil)
	// Not ctx: telego closes updates when this context ends, and a delivery
	// sending to a closed channel would panic.
	hookCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	// telego v1.11.1's webhook handler writes one err variable shared by all
	// requests (a data race under concurrent deliveries): run it one request
	// at a time. It only decodes the update and queues it.
	var mu sync.Mutex
	var queue telego.WebhookHandler // set by UpdatesViaWebhook, before the server starts
	hook, err := webhook.Handler(hookCfg, func(ctx context.Context, data []byte) error {
		mu.Lock()
		defer mu.Unlock()
		return queue(ctx, data)
	})
	if err != nil {
		stop()
		return nil, nil, nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(path, hook)
	server.Handler = mux
	updates, err = bot.UpdatesViaWebhook(hookCtx, func(h telego.WebhookHandler) error { queue = h; return nil })
	if err != nil {
		stop()
		return nil, nil, nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		stop()
		return nil, nil, nil, fmt.Errorf("LISTEN_ADDR: %w", err)
	}
	go func() { _ = server.Serve(ln) }() // returns http.ErrServerClosed at Shutdown
	if err := bot.SetWebhook(ctx, &telego.SetWebhookParams{URL: webhookURL, SecretToken: hookCfg.Secret}); err != nil {
		_ = server.Close()
		stop()
		return nil, nil, nil, fmt.Errorf("setWebhook: %w", err)
	}
	return updates, server, stop, nil
}

// registerHandlers adds the bot's commands, its button and the echo.
// username is the bot's: a command addressed to another bot is echoed,
// not answered (telegohandler's CommandEqual accepts any "@botname").
func registerHandlers(bh *th.BotHandler, limit core.Limit, username string) {
	command := func(name string) th.Predicate {
		return func(_ context.Context, u telego.Update) bool {
			return u.Message != nil && guard.CommandTo(u.Message.Text, username) == "/"+name
		}
	}
	reply := func(ctx *th.Context, m telego.Message, text string) error {
		_, err := ctx.Bot().SendMessage(ctx, tu.Message(m.Chat.ChatID(), text))
		return err
	}
	bh.HandleMessage(func(ctx *th.Context, m telego.Message) error {
		msg := tu.Message(m.Chat.ChatID(), fmt.Sprintf("Hello! I echo what you send, up to %v. Try the button.", limit)).
			WithReplyMarkup(tu.InlineKeyboard(tu.InlineKeyboardRow(tu.InlineKeyboardButton("Ping").WithCallbackData("ping"))))
		_, err := ctx.Bot().SendMessage(ctx, msg)
		return err
	}, command("start"))
	bh.HandleMessage(func(ctx *th.Context, m telego.Message) error {
		return reply(ctx, m, "/start: greeting and a button\n/ping: pong\nAny other text: echoed back")
	}, command("help"))
	bh.HandleMessage(func(ctx *th.Context, m telego.Message) error {
		return reply(ctx, m, "pong")
	}, command("ping"))
	bh.HandleCallbackQuery(func(ctx *th.Context, q telego.CallbackQuery) error {
		return ctx.Bot().AnswerCallbackQuery(ctx, tu.CallbackQuery(q.ID).WithText("pong"))
	}, th.CallbackDataEqual("ping"))
	bh.HandleMessage(func(ctx *th.Context, m telego.Message) error {
		return reply(ctx, m, m.Text)
	}, th.AnyMessageWithText())
}

// telegoLog sends telego's log to slog, token removed. Errors telego
// reports once ctx is done (the aborted long poll) are expected, and a
// failed call ("Execution error ...") is returned to its caller too,
// which reports it (a handler's error, floodgate's dropped notice): both
// are logged at debug level.
type telegoLog struct {
	ctx   context.Context
	log   *slog.Logger
	token string
}

func (l telegoLog) Debugf(format string, args ...any) { l.logf(slog.LevelDebug, format, args) }

func (l telegoLog) Errorf(format string, args ...any) {
	level := slog.LevelError
	if l.ctx.Err() != nil || strings.HasPrefix(format, "Execution error") {
		level = slog.LevelDebug
	}
	l.logf(level, format, args)
}

func (l telegoLog) logf(level slog.Level, format string, args []any) {
	if l.log.Enabled(l.ctx, level) {
		l.log.Log(context.WithoutCancel(l.ctx), level, "telego: "+guard.Redact(fmt.Sprintf(format, args...), l.token))
	}
}
