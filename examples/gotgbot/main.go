// Command gotgbot is a starter bot built with
// github.com/PaulSonOfLars/gotgbot/v2 and floodgate: it greets, answers
// /help and /ping, answers its button, and echoes any other text, with
// every update limited per user by a floodgate Guard. Copy it and change
// the handlers.
//
// Configuration comes from the environment:
//
//	TELEGRAM_BOT_TOKEN   the token from @BotFather (required)
//	TELEGRAM_API_URL     base URL of a local Bot API server (default: Telegram's)
//	WEBHOOK_URL          public HTTPS URL Telegram posts updates to,  } both for webhook mode,
//	                     with a path, e.g. https://bot.example.com/tg } neither for
//	LISTEN_ADDR          address to serve it on, e.g. :8443          } long polling
//	WEBHOOK_SECRET       secret_token Telegram sends with each update (optional)
//	FLOODGATE_STORE, FLOODGATE_LIMIT, REDIS_URL, ...   the store and limit: see package store
//	METRICS_ADDR         serve Prometheus metrics at http://METRICS_ADDR/metrics (optional)
//
// One instance can use the memory store (the default). Telegram lets only
// one process poll a token, so several instances need webhook mode, behind
// one URL, sharing one limit with FLOODGATE_STORE=redis.
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
	apiURL := strings.TrimRight(get("TELEGRAM_API_URL"), "/")
	b, err := gotgbot.NewBot(token, &gotgbot.BotOpts{ // calls getMe
		BotClient: &gotgbot.BaseBotClient{
			// Outgoing flood control: sends wait for Telegram's limits, shared
			// by every instance through the store; a 429 pauses the chat and
			// retries. The request timeout covers that wait.
			Client:             *fg.Throttle.Client(&http.Client{Transport: transport}),
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
	registerHandlers(d, fg.Limiter.Limit())
	updater := ext.NewUpdater(d, &ext.UpdaterOpts{UnhandledErrFunc: func(err error) {
		logErr("getUpdates failed")(err)
		// gotgbot retries at once when this function is set: pause as it
		// does without one, rather than hammer a failing API.
		time.Sleep(time.Second)
	}})

	var server *http.Server
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
		if server, err = startWebhook(updater, b, webhookURL, listenAddr, get("WEBHOOK_SECRET")); err != nil {
			_ = updater.Stop()
			return redact("webhook", err)
		}
	}
	log.Info("floodgate bot started", "framework", "gotgbot", "mode", mode, "config", fg.Config)

	<-ctx.Done()
	// Stop taking updates, then let those in hand finish.
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if server != nil {
		// Shutdown waits for the deliveries in progress; each has queued its
		// update for the dispatcher before it answered.
		if err := server.Shutdown(shutdownCtx); err != nil {
			log.Warn("webhook server did not stop in time", "error", err)
			_ = server.Close()
		}
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
	log.Info("floodgate bot stopped")
	return nil
}

// startWebhook listens on addr, serves gotgbot's webhook handler at the
// path of webhookURL, and registers webhookURL with setWebhook.
func startWebhook(updater *ext.Updater, b *gotgbot.Bot, webhookURL, addr, secret string) (*http.Server, error) {
	u, err := url.Parse(webhookURL)
	if err != nil || u.Host == "" || strings.Trim(u.Path, "/") == "" {
		return nil, errors.New("WEBHOOK_URL is not an absolute URL with a path, like https://bot.example.com/telegram")
	}
	// gotgbot answers 401 to a request without the secret.
	if err := updater.AddWebhook(b, strings.TrimPrefix(u.Path, "/"), &ext.AddWebhookOpts{SecretToken: secret}); err != nil {
		return nil, err
	}
	server := &http.Server{Handler: updater.GetHandlerFunc("/"), ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("LISTEN_ADDR: %w", err)
	}
	go func() { _ = server.Serve(ln) }() // returns http.ErrServerClosed at Shutdown
	if _, err := b.SetWebhook(webhookURL, &gotgbot.SetWebhookOpts{SecretToken: secret}); err != nil {
		_ = server.Close()
		return nil, fmt.Errorf("setWebhook: %w", err)
	}
	return server, nil
}

// command matches a message that starts with name, with or without the
// bot's name ("/Ping@my_bot" is "/ping").
func command(name string) func(*gotgbot.Message) bool {
	return func(m *gotgbot.Message) bool { return guard.CommandOf(m.Text) == name }
}

// registerHandlers adds the bot's commands, its button and the echo.
func registerHandlers(d *ext.Dispatcher, limit core.Limit) {
	reply := func(text string, opts *gotgbot.SendMessageOpts) handlers.Response {
		return func(b *gotgbot.Bot, ctx *ext.Context) error {
			_, err := b.SendMessage(ctx.EffectiveChat.Id, text, opts)
			return err
		}
	}
	d.AddHandler(handlers.NewMessage(command("/start"), reply(
		fmt.Sprintf("Hello! I echo what you send, up to %v. Try the button.", limit),
		&gotgbot.SendMessageOpts{ReplyMarkup: gotgbot.InlineKeyboardMarkup{
			InlineKeyboard: [][]gotgbot.InlineKeyboardButton{{{Text: "Ping", CallbackData: "ping"}}}}})))
	d.AddHandler(handlers.NewMessage(command("/help"), reply("/start: greeting and a button\n/ping: pong\nAny other text: echoed back", nil)))
	d.AddHandler(handlers.NewMessage(command("/ping"), reply("pong", nil)))
	d.AddHandler(handlers.NewCallback(callbackquery.Equal("ping"), func(b *gotgbot.Bot, ctx *ext.Context) error {
		_, err := ctx.CallbackQuery.Answer(b, &gotgbot.AnswerCallbackQueryOpts{Text: "pong"})
		return err
	}))
	d.AddHandler(handlers.NewMessage(message.Text, func(b *gotgbot.Bot, ctx *ext.Context) error {
		_, err := b.SendMessage(ctx.EffectiveChat.Id, ctx.EffectiveMessage.Text, nil)
		return err
	}))
}
