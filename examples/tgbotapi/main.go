// Command tgbotapi is a small Telegram bot built with
// github.com/go-telegram-bot-api/telegram-bot-api/v5 and protected from
// floods by floodgate. Copy it as a starting point.
//
// It answers /start (a greeting and a button), /help, /ping and the button,
// and echoes any other text. Every update goes through one guard.Guard:
// throttled ones are dropped, throttled button presses and inline queries
// are answered, and a "slow down" notice goes out at most once per minute.
//
// Environment:
//
//	TELEGRAM_BOT_TOKEN  the token from @BotFather (required)
//	TELEGRAM_API_URL    base URL of a local Bot API server (default https://api.telegram.org)
//	WEBHOOK_URL         public HTTPS URL Telegram posts updates to  } both set: webhook mode;
//	LISTEN_ADDR         address to serve it on, e.g. :8080          } neither: long polling
//	WEBHOOK_SECRET      optional secret_token Telegram sends back with each update
//	FLOODGATE_STORE, REDIS_URL, FLOODGATE_LIMIT, FLOODGATE_PREFIX, ... the store
//	                    (see package store; default: memory, 1/s)
//	METRICS_ADDR        serve Prometheus metrics at http://METRICS_ADDR/metrics (optional)
//
// Run several instances with FLOODGATE_STORE=redis and the same REDIS_URL
// and they share one limit.
package main

import (
	"context"
	"crypto/subtle"
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

	"github.com/floodgate-go/floodgate/adapters/tgbotapilimit"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/outbound"
	"github.com/floodgate-go/floodgate/setup"
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

	// The store, the limit, the Guard, the outbound throttle, and /metrics
	// when METRICS_ADDR is set, all from the environment.
	fg, err := setup.Open(ctx, setup.Options{Lookup: lookup, Logger: log})
	if err != nil {
		return err
	}
	defer fg.Close()

	transport := http.DefaultTransport.(*http.Transport).Clone()
	defer transport.CloseIdleConnections()
	client := &apiClient{ctx: ctx, token: token,
		// Outgoing flood control: sends wait for Telegram's limits, shared by
		// every instance through the store; a 429 pauses the chat and retries.
		c: fg.Throttle.Client(&http.Client{Transport: transport, Timeout: outbound.DefaultMaxWait + (pollTimeout+15)*time.Second})}
	endpoint := strings.ReplaceAll(strings.TrimRight(apiURL, "/"), "%", "%%") + "/bot%s/%s"
	bot, err := tgbotapi.NewBotAPIWithClient(token, endpoint, client) // calls getMe
	if err != nil {
		return fmt.Errorf("getMe at %s: %w", apiURL, err)
	}

	started := func(mode string) {
		log.Info("floodgate bot started", "framework", "tgbotapi", "mode", mode, "config", fg.Config)
	}
	if hookURL != "" {
		return serveWebhook(ctx, bot, fg.Guard, log, hookURL, listenAddr, env("WEBHOOK_SECRET"), started)
	}
	started("polling")
	return poll(ctx, bot, fg.Guard, log)
}

// poll receives updates by long polling until ctx is done.
func poll(ctx context.Context, bot *tgbotapi.BotAPI, g *guard.Guard, log *slog.Logger) error {
	updates := bot.GetUpdatesChan(tgbotapi.UpdateConfig{Timeout: pollTimeout})
	for u := range tgbotapilimit.Filter(ctx, bot, g, updates) {
		handle(bot, u, log)
	}
	bot.StopReceivingUpdates() // exactly once: a second call panics
	for range updates {        // the poller blocks on a full channel: drain it until it closes
	}
	return nil
}

// serveWebhook sets the webhook and serves it on listenAddr until ctx is
// done. It uses its own ServeMux and Server rather than
// bot.ListenForWebhook, which registers on http.DefaultServeMux.
func serveWebhook(ctx context.Context, bot *tgbotapi.BotAPI, g *guard.Guard, log *slog.Logger,
	hookURL, listenAddr, secret string, started func(mode string)) error {
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
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) {
		got := r.Header.Get("X-Telegram-Bot-Api-Secret-Token")
		if secret != "" && subtle.ConstantTimeCompare([]byte(got), []byte(secret)) != 1 {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		upd, err := bot.HandleUpdate(r)
		if err != nil {
			http.Error(w, "bad update", http.StatusBadRequest)
			return
		}
		if tgbotapilimit.Check(r.Context(), bot, g, *upd) {
			handle(bot, *upd, log)
		}
		// 200 either way: a throttled update is dropped, not retried.
	})

	ln, err := net.Listen("tcp", listenAddr) // listen before setWebhook, so no delivery is refused
	if err != nil {
		return fmt.Errorf("LISTEN_ADDR: %w", err)
	}
	// tgbotapi v5.5.1's WebhookConfig predates secret_token, so set the
	// parameters directly (without a secret, tgbotapi.NewWebhook and
	// bot.Request do the same).
	params := tgbotapi.Params{"url": hookURL}
	params.AddNonEmpty("secret_token", secret)
	if _, err := bot.MakeRequest("setWebhook", params); err != nil {
		_ = ln.Close()
		return fmt.Errorf("setWebhook: %w", err)
	}

	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	// Shutdown treats a connection that has not sent a request yet as busy
	// for up to 5 s, and HTTP clients (Telegram's too) keep such spare
	// connections open. Close them once Shutdown has closed the listener;
	// a delivery caught in one is retried by Telegram.
	var mu sync.Mutex
	fresh := map[net.Conn]bool{}
	srv.ConnState = func(c net.Conn, s http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		if s == http.StateNew {
			fresh[c] = true
		} else {
			delete(fresh, c)
		}
	}
	srv.RegisterOnShutdown(func() {
		mu.Lock()
		defer mu.Unlock()
		for c := range fresh {
			_ = c.Close()
		}
	})
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
