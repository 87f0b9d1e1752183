// Command gotgbot is a starter bot built with
// github.com/PaulSonOfLars/gotgbot/v2 and floodgate: it greets, answers
// /help and /ping, answers its button, and echoes any other text, with
// every update limited per user by a floodgate Guard. A user who floods it
// is told once to slow down, in Russian if their Telegram speaks Russian,
// in English otherwise (guard.DefaultNoticeText; pass guard.WithNotice in
// setup.Options.Guard for your own texts); a photo album counts as one
// message. Copy it and change the handlers.
//
// Configuration comes from the environment:
//
//	TELEGRAM_BOT_TOKEN   the token from @BotFather (required)
//	TELEGRAM_API_URL     base URL of a local Bot API server (default: Telegram's)
//	WEBHOOK_URL          public HTTPS URL Telegram posts updates to,  } both for webhook mode,
//	                     with a path, e.g. https://bot.example.com/tg } neither for
//	LISTEN_ADDR          address to serve it on, e.g. :8443          } long polling
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
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/PaulSonOfLars/gotgbot/v2"
	"github.com/PaulSonOfLars/gotgbot/v2/ext"
	"github.com/PaulSonOfLars/gotgbot/v2/ext/handlers"
	"github.com/PaulSonOfLars/gotgbot/v2/ext/handlers/filters/callbackquery"
	"github.com/PaulSonOfLars/gotgbot/v2/ext/handlers/filters/message"
	"github.com/floodgate-go/floodgate/adapters/gotgbotlimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/outbound"
	"github.com/floodgate-go/floodgate/setup"
	"github.com/floodgate-go/floodgate/webhook"
)

const (
	pollTimeout     = 30               // seconds a getUpdates call waits for updates
	requestTimeout  = 15 * time.Second // bound on one Bot API call, beyond the throttle's wait
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
	logErr := func(msg string) func(error) {
		return func(err error) { log.Warn(msg, "error", guard.Redact(err.Error(), token)) }
	}

	// The store, the limit, the Guard, the outbound throttle, and /metrics
	// when METRICS_ADDR is set, all from the environment.
	fg, err := setup.Open(ctx, setup.Options{Lookup: lookup, Logger: log})
	if err != nil {
		return err
	}
	defer fg.Close()

	transport := http.DefaultTransport.(*http.Transport).Clone()
	defer transport.CloseIdleConnections()
	// Runs first: the answers and notices still going out finish (each
	// within its deadline, guard.WithActions) before the transport closes.
	defer fg.Guard.Wait(context.WithoutCancel(ctx))
	apiURL := strings.TrimRight(get("TELEGRAM_API_URL"), "/")
	b, err := gotgbot.NewBot(token, &gotgbot.BotOpts{ // calls getMe
		BotClient: &gotgbot.BaseBotClient{
			// Outgoing flood control: sends wait for Telegram's limits, shared
			// by every instance through the store; a 429 pauses the chat and
			// retries. The request timeout covers that wait.
			Client:             *fg.Throttle.Client(&http.Client{Transport: webhook.ConflictTransport(transport, conflict)}),
			DefaultRequestOpts: &gotgbot.RequestOpts{APIURL: apiURL, Timeout: outbound.DefaultMaxWait + requestTimeout},
		},
		RequestOpts: &gotgbot.RequestOpts{APIURL: apiURL, Timeout: requestTimeout},
	})
	if err != nil {
		return redact("TELEGRAM_BOT_TOKEN or TELEGRAM_API_URL", err)
	}

	d := ext.NewDispatcher(&ext.DispatcherOpts{
		Processor: gotgbotlimit.Processor(fg.Guard, nil), // every update, before any handler
		Error: func(_ *gotgbot.Bot, _ *ext.Context, err error) ext.DispatcherAction {
			logErr("handler failed")(err)
			return ext.DispatcherActionNoop
		},
		UnhandledErrFunc: logErr("update not handled"),
	})
	registerHandlers(d, b.Username, fg.Limiter.Limit())
	updater := ext.NewUpdater(d, &ext.UpdaterOpts{UnhandledErrFunc: func(err error) {
		logErr("getUpdates failed")(err)
		// gotgbot retries at once when this function is set: pause as it
		// does without one, rather than hammer a failing API.
		time.Sleep(time.Second)
	}})

	var server *http.Server
	var updates chan json.RawMessage  // webhook mode: what the server hands the dispatcher
	dispatched := make(chan struct{}) // closed when the dispatcher has taken the last update
	mode := "polling"
	if webhookURL == "" {
		err = updater.StartPolling(b, &ext.PollingOpts{
			EnableWebhookDeletion: true, // a webhook left set by an earlier run would make getUpdates fail
			GetUpdatesOpts: &gotgbot.GetUpdatesOpts{Timeout: pollTimeout,
				RequestOpts: &gotgbot.RequestOpts{APIURL: apiURL, Timeout: (pollTimeout + 15) * time.Second}},
		})
		if err != nil {
			return redact("long polling", err)
		}
	} else {
		mode = "webhook"
		updates = make(chan json.RawMessage)
		go func() { defer close(dispatched); d.Start(b, updates) }()
		if server, err = startWebhook(b, updates, webhookURL, listenAddr, hookCfg); err != nil {
			close(updates)
			<-dispatched
			d.Stop()
			return redact("webhook", err)
		}
	}
	log.Info("floodgate bot started", "framework", "gotgbot", "mode", mode, "config", fg.Config)

	<-ctx.Done()
	// Stop taking updates, then let those in hand finish.
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if server != nil {
		// Shutdown waits for the deliveries in progress; each has handed its
		// update to the dispatcher before it answered.
		if err := server.Shutdown(shutdownCtx); err != nil {
			// A delivery may still be handing its update over: closing
			// updates under it would panic, so leave it open and stop.
			log.Warn("webhook server did not stop in time", "error", err)
			_ = server.Close()
			return nil
		}
		close(updates) // no delivery can still send to it
		<-dispatched
	}
	stopped := make(chan error, 1)
	// Stop ends long polling, closes the updates channel and waits for
	// the dispatcher's handlers.
	go func() { stopped <- updater.Stop() }()
	select {
	case err := <-stopped:
		if err != nil {
			log.Warn("updater", "error", err)
		}
	case <-shutdownCtx.Done():
		log.Warn("some updates were still being handled at exit")
	}
	if err := context.Cause(ctx); errors.Is(err, webhook.ErrConflict) {
		return err
	}
	log.Info("floodgate bot stopped")
	return nil
}

// startWebhook listens on addr, serves the updates Telegram posts to the
// path of webhookURL behind webhook.Handler, handing each to the
// dispatcher on updates, and registers webhookURL with setWebhook.
func startWebhook(b *gotgbot.Bot, updates chan<- json.RawMessage, webhookURL, addr string, hookCfg webhook.Config) (*http.Server, error) {
	u, err := url.Parse(webhookURL)
	if err != nil || u.Host == "" || strings.Trim(u.Path, "/") == "" {
		return nil, errors.New("WEBHOOK_URL is not an absolute URL with a path, like https://bot.example.com/telegram")
	}
	// Not the Updater's webhook handler: it reads bodies without a limit
	// and compares the secret in variable time. Here bodies over 1 MiB get
	// 413, malformed ones 400, a missing or wrong secret 401 (in constant
	// time); the server has read, write and idle timeouts and a header cap.
	hook, err := webhook.Handler(hookCfg, func(ctx context.Context, body []byte) error {
		select {
		case updates <- body: // the dispatcher decodes it and runs the processor
			return nil
		case <-ctx.Done(): // the request ended first: Telegram retries it
			return ctx.Err()
		}
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(u.Path, hook)
	server := webhook.NewServer(mux)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("LISTEN_ADDR: %w", err)
	}
	go func() { _ = server.Serve(ln) }() // returns http.ErrServerClosed at Shutdown
	if _, err := b.SetWebhook(webhookURL, &gotgbot.SetWebhookOpts{SecretToken: hookCfg.Secret}); err != nil {
		_ = server.Close()
		return nil, fmt.Errorf("setWebhook: %w", err)
	}
	return server, nil
}

// command matches a message that starts with name, with or without this
// bot's name, me ("/Ping@my_bot" is "/ping" for my_bot; "/ping@other_bot"
// is another bot's command).
func command(name, me string) func(*gotgbot.Message) bool {
	return func(m *gotgbot.Message) bool { return guard.CommandTo(m.Text, me) == name }
}

// registerHandlers adds the bot's commands, its button and the echo.
func registerHandlers(d *ext.Dispatcher, me string, limit core.Limit) {
	reply := func(text string, opts *gotgbot.SendMessageOpts) handlers.Response {
		return func(b *gotgbot.Bot, ctx *ext.Context) error {
			_, err := b.SendMessage(ctx.EffectiveChat.Id, text, opts)
			return err
		}
	}
	d.AddHandler(handlers.NewMessage(command("/start", me), reply(
		fmt.Sprintf("Hello! I echo what you send, up to %v. Try the button.", limit),
		&gotgbot.SendMessageOpts{ReplyMarkup: gotgbot.InlineKeyboardMarkup{
			InlineKeyboard: [][]gotgbot.InlineKeyboardButton{{{Text: "Ping", CallbackData: "ping"}}}}})))
	d.AddHandler(handlers.NewMessage(command("/help", me), reply("/start: greeting and a button\n/ping: pong\nAny other text: echoed back", nil)))
	d.AddHandler(handlers.NewMessage(command("/ping", me), reply("pong", nil)))
	d.AddHandler(handlers.NewCallback(callbackquery.Equal("ping"), func(b *gotgbot.Bot, ctx *ext.Context) error {
		_, err := ctx.CallbackQuery.Answer(b, &gotgbot.AnswerCallbackQueryOpts{Text: "pong"})
		return err
	}))
	d.AddHandler(handlers.NewMessage(message.Text, func(b *gotgbot.Bot, ctx *ext.Context) error {
		_, err := b.SendMessage(ctx.EffectiveChat.Id, ctx.EffectiveMessage.Text, nil)
		return err
	}))
}
