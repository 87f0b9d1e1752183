// Command tgbotapi is a small Telegram bot built with
// github.com/go-telegram-bot-api/telegram-bot-api/v5 and protected from
// floods by floodgate. Copy it as a starting point.
//
// It answers /start (a greeting and a button), /help, /ping and the button,
// and echoes any other text. Every update goes through one guard.Guard:
// throttled ones are dropped, throttled button presses and inline queries
// are answered, and a "slow down" notice goes out at most once per minute,
// in Russian to users whose Telegram speaks Russian and in English to the
// others (guard.DefaultNoticeText; pass guard.WithNotice in
// setup.Options.Guard for your own texts). The items of a photo album
// count as one message.
//
// Environment:
//
//	TELEGRAM_BOT_TOKEN  the token from @BotFather (required)
//	TELEGRAM_API_URL    base URL of a local Bot API server (default https://api.telegram.org)
//	WEBHOOK_URL         public HTTPS URL Telegram posts updates to  } both set: webhook mode;
//	LISTEN_ADDR         address to serve it on, e.g. :8080          } neither: long polling
//	WEBHOOK_SECRET      secret_token Telegram sends back with each update (required in
//	                    webhook mode: 1-256 of A-Z a-z 0-9 _ -)
//	WEBHOOK_INSECURE    true: run a webhook without WEBHOOK_SECRET (a warning is logged;
//	                    anyone who finds the URL can then post forged updates)
//	FLOODGATE_STORE, REDIS_URL, FLOODGATE_LIMIT, FLOODGATE_PREFIX, ... the store
//	                    (see package store; default: memory, 1/s)
//	METRICS_ADDR        serve Prometheus metrics at http://METRICS_ADDR/metrics (optional)
//
// Several instances need webhook mode: Telegram lets one process at a time
// long-poll a token (a second one gets 409 Conflict, and this bot then
// stops saying so). Run them behind one WEBHOOK_URL with
// FLOODGATE_STORE=redis and the same REDIS_URL, and they share one limit.
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

	"github.com/floodgate-go/floodgate/adapters/tgbotapilimit"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/outbound"
	"github.com/floodgate-go/floodgate/setup"
	"github.com/floodgate-go/floodgate/webhook"
	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(ctx, os.LookupEnv, logger); err != nil {
		logger.Error("bot stopped", "error", err)
		os.Exit(1)
	}
}

// pollTimeout is the long-poll timeout in seconds.
const pollTimeout = 30

// run starts the bot as the environment (read through lookup) says, and
// serves until ctx is done; it then shuts down and returns nil.
func run(ctx context.Context, lookup func(string) (string, bool), log *slog.Logger) error {
	env := func(name string) string { v, _ := lookup(name); return strings.TrimSpace(v) }
	token := env("TELEGRAM_BOT_TOKEN")
	if token == "" {
		return errors.New("TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and export its token")
	}
	apiURL := env("TELEGRAM_API_URL")
	if apiURL == "" {
		apiURL = "https://api.telegram.org"
	}
	hookURL, listenAddr := env("WEBHOOK_URL"), env("LISTEN_ADDR")
	if (hookURL == "") != (listenAddr == "") {
		return errors.New("WEBHOOK_URL and LISTEN_ADDR must be set together (webhook mode) or both left unset (long polling)")
	}
	hookCfg, err := webhook.FromEnv(lookup) // WEBHOOK_SECRET, WEBHOOK_INSECURE
	if err != nil {
		return err
	}
	if err := hookCfg.Validate(); err != nil && hookURL != "" {
		return err // no secret, or one Telegram would refuse
	}
	hookCfg.Logger = log
	// A 409 Conflict from getUpdates cancels ctx with webhook.ErrConflict.
	ctx, conflict := context.WithCancelCause(ctx)
	defer conflict(nil)

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
	client := &apiClient{ctx: ctx, token: token,
		// Outgoing flood control: sends wait for Telegram's limits, shared by
		// every instance through the store; a 429 pauses the chat and retries.
		c: fg.Throttle.Client(&http.Client{Transport: webhook.ConflictTransport(transport, conflict),
			Timeout: outbound.DefaultMaxWait + (pollTimeout+15)*time.Second})}
	endpoint := strings.ReplaceAll(strings.TrimRight(apiURL, "/"), "%", "%%") + "/bot%s/%s"
	bot, err := tgbotapi.NewBotAPIWithClient(token, endpoint, client) // calls getMe
	if err != nil {
		return fmt.Errorf("getMe at %s: %w", apiURL, err)
	}

	started := func(mode string) {
		log.Info("floodgate bot started", "framework", "tgbotapi", "mode", mode, "config", fg.Config)
	}
	if hookURL != "" {
		return serveWebhook(ctx, bot, fg.Guard, log, hookURL, listenAddr, hookCfg, started)
	}
	started("polling")
	poll(ctx, bot, fg.Guard, log)
	if err := context.Cause(ctx); errors.Is(err, webhook.ErrConflict) {
		return err
	}
	return nil
}

// poll receives updates by long polling until ctx is done.
func poll(ctx context.Context, bot *tgbotapi.BotAPI, g *guard.Guard, log *slog.Logger) {
	updates := bot.GetUpdatesChan(tgbotapi.UpdateConfig{Timeout: pollTimeout})
	for u := range tgbotapilimit.Filter(ctx, bot, g, updates) {
		handle(bot, u, log)
	}
	bot.StopReceivingUpdates() // exactly once: a second call panics
	for range updates {        // the poller blocks on a full channel: drain it until it closes
	}
}

// serveWebhook sets the webhook and serves it on listenAddr until ctx is
// done. It uses its own ServeMux and Server rather than
// bot.ListenForWebhook, which registers on http.DefaultServeMux, and reads
// no body bot.HandleUpdate would read without a limit.
func serveWebhook(ctx context.Context, bot *tgbotapi.BotAPI, g *guard.Guard, log *slog.Logger,
	hookURL, listenAddr string, hookCfg webhook.Config, started func(mode string)) error {
	u, err := url.Parse(hookURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return errors.New("WEBHOOK_URL: want an absolute URL such as https://bot.example.com/telegram")
	}
	path := u.Path
	if path == "" {
		path = "/"
	}
	if strings.ContainsAny(path, "{} ") {
		return fmt.Errorf("WEBHOOK_URL: path %q must not contain braces or spaces", path)
	}
	// Bodies over 1 MiB get 413, malformed ones 400, a missing or wrong
	// secret 401; a throttled update gets 200 too: dropped, not retried.
	hook, err := webhook.Handler(hookCfg, func(ctx context.Context, body []byte) error {
		var upd tgbotapi.Update
		if err := json.Unmarshal(body, &upd); err != nil {
			return err
		}
		if tgbotapilimit.Check(ctx, bot, g, upd) {
			handle(bot, upd, log)
		}
		return nil
	})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(path, hook)

	ln, err := net.Listen("tcp", listenAddr) // listen before setWebhook, so no delivery is refused
	if err != nil {
		return fmt.Errorf("LISTEN_ADDR: %w", err)
	}
	// tgbotapi v5.5.1's WebhookConfig predates secret_token, so set the
	// parameters directly (without a secret, tgbotapi.NewWebhook and
	// bot.Request do the same).
	params := tgbotapi.Params{"url": hookURL}
	params.AddNonEmpty("secret_token", hookCfg.Secret)
	if _, err := bot.MakeRequest("setWebhook", params); err != nil {
		_ = ln.Close()
		return fmt.Errorf("setWebhook: %w", err)
	}

	// Read, write and idle timeouts and a header cap; Shutdown closes spare
	// connections at once (a delivery caught in one is retried by Telegram).
	srv := webhook.NewServer(mux)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	started("webhook")
	select {
	case err := <-served:
		return fmt.Errorf("webhook server: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx) // lets the updates being handled finish
	<-served
	if err != nil {
		return fmt.Errorf("webhook server shutdown: %w", err)
	}
	return nil
}
