// Command gotelegram is a starter bot built with github.com/go-telegram/bot
// and floodgate: it greets, answers /help and /ping, answers its button,
// and echoes any other text, with every update limited per user by a
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
	"sync"
	"syscall"
	"time"

	"github.com/floodgate-go/floodgate/adapters/gotelegramlimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/outbound"
	"github.com/floodgate-go/floodgate/setup"
	"github.com/floodgate-go/floodgate/webhook"
	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

const (
	pollTimeout     = 30 * time.Second // how long a getUpdates call waits for updates
	updateTimeout   = 20 * time.Second // bound on handling one update
	shutdownTimeout = 10 * time.Second // bound on finishing the updates in hand at exit
	workers         = 16               // updates handled at once
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

	transport := http.DefaultTransport.(*http.Transport).Clone()
	defer transport.CloseIdleConnections()
	// Runs first: the answers and notices still going out finish (each
	// within its deadline, guard.WithActions) before the transport closes.
	defer fg.Guard.Wait(context.WithoutCancel(ctx))
	opts := []bot.Option{
		// Outgoing flood control: sends wait for Telegram's limits, shared by
		// every instance through the store; a 429 pauses the chat and retries.
		// The client's timeout covers that wait and a long poll.
		bot.WithHTTPClient(pollTimeout, gotelegramlimit.Client(fg.Throttle, &http.Client{
			Transport: webhook.ConflictTransport(transport, conflict),
			Timeout:   outbound.DefaultMaxWait + pollTimeout + 15*time.Second})),
		// Handlers run on the workers, so that when Start returns no handler
		// is still running (by default each runs in a goroutine of its own
		// that nothing waits for).
		bot.WithNotAsyncHandlers(), bot.WithWorkers(workers),
		bot.WithMiddlewares(detach, gotelegramlimit.Middleware(fg.Guard)), // every update, before any handler
		bot.WithErrorsHandler(func(err error) {
			level := slog.LevelWarn
			if ctx.Err() != nil {
				level = slog.LevelDebug // the aborted long poll at exit
			}
			log.Log(context.WithoutCancel(ctx), level, "go-telegram/bot: "+guard.Redact(err.Error(), token))
		}),
	}
	// failed logs a handler's failed Bot API call, token removed.
	failed := func(err error) {
		if err != nil {
			log.Warn("handler failed", "error", guard.Redact(err.Error(), token))
		}
	}
	opts = append(opts, bot.WithDefaultHandler(echo(failed)))
	if api := get("TELEGRAM_API_URL"); api != "" {
		opts = append(opts, bot.WithServerURL(strings.TrimRight(api, "/")))
	}
	// getMe once, here, for the username the commands are matched with,
	// rather than in bot.New, which checks the token but forgets the answer.
	opts = append(opts, bot.WithSkipGetMe())
	b, err := bot.New(token, opts...)
	if err != nil {
		return redact("TELEGRAM_BOT_TOKEN", err)
	}
	me, err := b.GetMe(ctx)
	if err != nil {
		return redact("TELEGRAM_BOT_TOKEN or TELEGRAM_API_URL: getMe", err)
	}
	registerHandlers(b, me.Username, fg.Limiter.Limit(), failed)

	botCtx, stopBot := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBot()
	var server *http.Server
	var deliveries sync.WaitGroup // webhook updates being handled
	done := make(chan struct{})
	mode := "polling"
	if webhookURL == "" {
		// A webhook left set by an earlier run would make getUpdates fail.
		if _, err := b.DeleteWebhook(ctx, &bot.DeleteWebhookParams{}); err != nil {
			return redact("deleteWebhook", err)
		}
		go func() { defer close(done); b.Start(botCtx) }() // returns once no handler runs
	} else {
		mode = "webhook"
		if server, err = startWebhook(ctx, botCtx, b, webhookURL, listenAddr, hookCfg, &deliveries); err != nil {
			return redact("webhook", err)
		}
		close(done)
	}
	log.Info("floodgate bot started", "framework", "go-telegram/bot", "mode", mode, "config", fg.Config)

	<-ctx.Done()
	// Stop taking updates, then let those in hand finish.
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if server != nil {
		// Shutdown waits for the requests in progress; each has queued its
		// update on deliveries before it answered.
		if err := server.Shutdown(shutdownCtx); err != nil {
			log.Warn("webhook server did not stop in time", "error", err)
			_ = server.Close()
		}
	}
	stopBot() // ends long polling; the workers finish the update in hand
	finished := make(chan struct{})
	go func() { <-done; deliveries.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-shutdownCtx.Done():
		log.Warn("some updates were still being handled at exit")
	}
	if err := context.Cause(ctx); errors.Is(err, webhook.ErrConflict) {
		return err
	}
	log.Info("floodgate bot stopped")
	return nil
}

// detach runs each update under a context of its own, bounded by
// updateTimeout, that stopping the bot does not cancel: updates in hand
// finish at exit.
func detach(next bot.HandlerFunc) bot.HandlerFunc {
	return func(ctx context.Context, b *bot.Bot, u *models.Update) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), updateTimeout)
		defer cancel()
		next(ctx, b, u)
	}
}

// startWebhook listens on addr, serves the updates Telegram posts to the
// path of webhookURL behind webhook.Handler, and registers webhookURL with
// setWebhook. Each update is handled in a goroutine of its own, under
// botCtx, counted in deliveries (b.ProcessUpdate runs the middlewares and
// the handler).
func startWebhook(ctx, botCtx context.Context, b *bot.Bot, webhookURL, addr string, hookCfg webhook.Config,
	deliveries *sync.WaitGroup) (*http.Server, error) {
	u, err := url.Parse(webhookURL)
	if err != nil || u.Host == "" {
		return nil, errors.New("WEBHOOK_URL is not an absolute URL like https://bot.example.com/telegram")
	}
	path := u.Path
	if path == "" {
		path = "/"
	}
	// Not b.WebhookHandler: it reads bodies without a limit. Here bodies
	// over 1 MiB get 413, malformed ones 400, a missing or wrong secret 401
	// (compared in constant time); the server has read, write and idle
	// timeouts and a header cap.
	hook, err := webhook.Handler(hookCfg, func(_ context.Context, body []byte) error {
		var upd models.Update
		if err := json.Unmarshal(body, &upd); err != nil {
			// A JSON object that is no update (a field of the wrong type):
			// retrying it would not help, so it is answered 200 and dropped.
			hookCfg.Logger.Warn("webhook: not a Telegram update, dropped", "error", err)
			return nil
		}
		deliveries.Add(1) // before Shutdown can return: this request is still open
		go func() {
			defer deliveries.Done()
			b.ProcessUpdate(botCtx, &upd)
		}()
		return nil
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(path, hook)
	server := webhook.NewServer(mux)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("LISTEN_ADDR: %w", err)
	}
	go func() { _ = server.Serve(ln) }() // returns http.ErrServerClosed at Shutdown
	if _, err := b.SetWebhook(ctx, &bot.SetWebhookParams{URL: webhookURL, SecretToken: hookCfg.Secret}); err != nil {
		_ = server.Close()
		return nil, fmt.Errorf("setWebhook: %w", err)
	}
	return server, nil
}

// isCommand matches a message that starts with command, with or without
// this bot's name ("/Ping@my_bot" is "/ping" for my_bot; "/ping@other_bot"
// is another bot's command).
func isCommand(command, me string) bot.MatchFunc {
	return func(u *models.Update) bool { return u.Message != nil && guard.CommandTo(u.Message.Text, me) == command }
}

// registerHandlers adds the bot's commands and its button (other text goes
// to echo, the default handler); failed gets the errors of their Bot API
// calls.
func registerHandlers(b *bot.Bot, me string, limit core.Limit, failed func(error)) {
	reply := func(ctx context.Context, b *bot.Bot, chatID int64, text string, markup models.ReplyMarkup) {
		_, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: chatID, Text: text, ReplyMarkup: markup})
		failed(err)
	}
	b.RegisterHandlerMatchFunc(isCommand("/start", me), func(ctx context.Context, b *bot.Bot, u *models.Update) {
		reply(ctx, b, u.Message.Chat.ID, fmt.Sprintf("Hello! I echo what you send, up to %v. Try the button.", limit),
			&models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{{{Text: "Ping", CallbackData: "ping"}}}})
	})
	b.RegisterHandlerMatchFunc(isCommand("/help", me), func(ctx context.Context, b *bot.Bot, u *models.Update) {
		reply(ctx, b, u.Message.Chat.ID, "/start: greeting and a button\n/ping: pong\nAny other text: echoed back", nil)
	})
	b.RegisterHandlerMatchFunc(isCommand("/ping", me), func(ctx context.Context, b *bot.Bot, u *models.Update) {
		reply(ctx, b, u.Message.Chat.ID, "pong", nil)
	})
	b.RegisterHandler(bot.HandlerTypeCallbackQueryData, "ping", bot.MatchTypeExact, func(ctx context.Context, b *bot.Bot, u *models.Update) {
		_, err := b.AnswerCallbackQuery(ctx, &bot.AnswerCallbackQueryParams{CallbackQueryID: u.CallbackQuery.ID, Text: "pong"})
		failed(err)
	})
}

// echo returns the default handler: it sends any other text message back.
func echo(failed func(error)) bot.HandlerFunc {
	return func(ctx context.Context, b *bot.Bot, u *models.Update) {
		if u.Message != nil && u.Message.Text != "" {
			_, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: u.Message.Chat.ID, Text: u.Message.Text})
			failed(err)
		}
	}
}
