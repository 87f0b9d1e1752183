// Command telebot is a starter bot built with gopkg.in/telebot.v3 and
// floodgate: copy it and replace the handlers with yours.
//
// It greets on /start (with an inline button), answers /help and /ping,
// answers the button with "pong", and echoes any other text. Every update
// goes through a floodgate Guard first, so a user who floods the bot is
// throttled and told once to slow down, in Russian if their Telegram
// speaks Russian, in English otherwise (guard.DefaultNoticeText; pass
// guard.WithNotice in setup.Options.Guard for your own texts). A photo
// album counts as one message.
//
// Configuration, all from the environment:
//
//	TELEGRAM_BOT_TOKEN  the bot's token, from @BotFather (required)
//	TELEGRAM_API_URL    base URL of a local Bot API server (default: api.telegram.org)
//	WEBHOOK_URL         public HTTPS URL Telegram posts updates to   } both set: webhook mode;
//	LISTEN_ADDR         address to serve the webhook on, e.g. :8080 } neither: long polling
//	WEBHOOK_SECRET      secret Telegram sends with each update (required in webhook mode)
//	WEBHOOK_INSECURE    true: serve a webhook without WEBHOOK_SECRET (logs a warning;
//	                    anyone who finds the URL can then post forged updates)
//	FLOODGATE_STORE, REDIS_URL, FLOODGATE_LIMIT, ...  the store; see package store
//	METRICS_ADDR        serve Prometheus metrics at http://METRICS_ADDR/metrics (optional)
//
// Run one instance with the memory store, or several sharing a limit
// through Redis. Several instances need webhook mode, behind one
// WEBHOOK_URL: Telegram lets one process at a time long-poll a token (a
// second one gets 409 Conflict, and this bot then stops saying so).
//
//	TELEGRAM_BOT_TOKEN=123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA FLOODGATE_LIMIT="20/m burst 5" go run ./examples/telebot
//	FLOODGATE_STORE=redis REDIS_URL=redis://localhost:6379/0 WEBHOOK_URL=https://bot.example.com/telegram \
//	    LISTEN_ADDR=:8080 WEBHOOK_SECRET=change-me TELEGRAM_BOT_TOKEN=... go run ./examples/telebot
//
// The bot runs telebot's dispatcher but not Bot.Start and Bot.Stop, which
// in v3.3.8 do not shut down reliably: with the Webhook poller Bot.Stop
// panics (close of closed channel, tucnak/telebot#783), and with the
// LongPoller it can wait out a whole poll timeout, or for ever when the
// update buffer is full. See poll and serveWebhook.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/floodgate-go/floodgate/adapters/telebotlimit"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/outbound"
	"github.com/floodgate-go/floodgate/setup"
	"github.com/floodgate-go/floodgate/webhook"
	tele "gopkg.in/telebot.v3"
)

// pollTimeout is how long one getUpdates waits for updates. The HTTP
// client's timeout must exceed it.
const pollTimeout = 25 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(ctx, os.LookupEnv, logger); err != nil {
		logger.Error("bot stopped", "error", err)
		stop()
		os.Exit(1)
	}
}

// run starts the bot with the configuration lookup returns and runs it
// until ctx is done, then shuts it down and returns nil.
func run(ctx context.Context, lookup func(string) (string, bool), log *slog.Logger) error {
	env := func(name string) string {
		v, _ := lookup(name)
		return strings.TrimSpace(v)
	}
	token := env("TELEGRAM_BOT_TOKEN")
	if token == "" {
		return errors.New("TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and export its token")
	}
	webhookURL, listenAddr := env("WEBHOOK_URL"), env("LISTEN_ADDR")
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
	// Outgoing flood control: sends wait for Telegram's limits, shared by
	// every instance through the store; a 429 pauses the chat and retries.
	client := fg.Throttle.Client(&http.Client{Timeout: outbound.DefaultMaxWait + pollTimeout + 15*time.Second,
		// A 409 Conflict from getUpdates cancels ctx with webhook.ErrConflict.
		Transport: &pollTransport{ctx: ctx, base: webhook.ConflictTransport(transport, conflict), log: log}})
	b, err := tele.NewBot(tele.Settings{
		Token:       token,
		URL:         strings.TrimRight(env("TELEGRAM_API_URL"), "/"), // "" means https://api.telegram.org; telebot adds "/bot"
		Client:      client,
		Synchronous: true, // ProcessUpdate returns when the handler is done; poll and the HTTP server add the concurrency
		OnError: func(err error, _ tele.Context) {
			log.Error("handler failed", "error", guard.Redact(err.Error(), token))
		},
	}) // calls getMe: a wrong token fails here
	if err != nil {
		return fmt.Errorf("telebot: %s", guard.Redact(err.Error(), token))
	}
	// Before b.Handle, which copies the middleware list. WithClient: the
	// answers and notices on denials go through the throttle with their
	// deadline, so one a busy group's lane cannot take in time is dropped.
	b.Use(telebotlimit.Middleware(fg.Guard, telebotlimit.WithClient(client)))
	handle(b)

	if webhookURL == "" {
		// getUpdates fails while a webhook is set, e.g. by an earlier webhook run.
		if err := b.RemoveWebhook(); err != nil {
			return fmt.Errorf("deleteWebhook: %s", guard.Redact(err.Error(), token))
		}
		log.Info("floodgate bot started", "framework", "telebot", "mode", "polling", "config", fg.Config)
		poll(ctx, b)
		if err := context.Cause(ctx); errors.Is(err, webhook.ErrConflict) {
			return err
		}
		return nil
	}
	// Bodies over 1 MiB get 413, malformed ones 400, a missing or wrong
	// secret 401. ProcessUpdate is synchronous (Settings.Synchronous): the
	// handler is done when Telegram gets its 200.
	hook, err := webhook.Handler(hookCfg, func(_ context.Context, body []byte) error {
		var u tele.Update
		if err := json.Unmarshal(body, &u); err != nil {
			return err
		}
		b.ProcessUpdate(u)
		return nil
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		return fmt.Errorf("LISTEN_ADDR: %w", err)
	}
	endpoint := &tele.Webhook{Endpoint: &tele.WebhookEndpoint{PublicURL: webhookURL}, SecretToken: hookCfg.Secret}
	if err := b.SetWebhook(endpoint); err != nil { // listening already, so no update is refused
		ln.Close()
		return fmt.Errorf("setWebhook: %s", guard.Redact(err.Error(), token))
	}
	log.Info("floodgate bot started", "framework", "telebot", "mode", "webhook", "config", fg.Config)
	return serveWebhook(ctx, ln, hook)
}

// handle registers the bot's handlers.
func handle(b *tele.Bot) {
	menu := &tele.ReplyMarkup{InlineKeyboard: [][]tele.InlineButton{{{Text: "Ping", Data: "ping"}}}}
	b.Handle("/start", func(c tele.Context) error {
		return c.Send("Hello! I echo what you write. Try /ping, or the button.", menu)
	})
	b.Handle("/help", func(c tele.Context) error {
		return c.Send("/start - greeting and a button\n/ping - pong\nAnything else is echoed back.")
	})
	b.Handle("/ping", func(c tele.Context) error { return c.Send("pong") })
	b.Handle(tele.OnCallback, func(c tele.Context) error {
		if c.Callback().Data == "ping" {
			return c.Respond(&tele.CallbackResponse{Text: "pong"})
		}
		return c.Respond() // stop the spinner of buttons from older versions of the bot
	})
	b.Handle(tele.OnText, func(c tele.Context) error { return c.Send(c.Text()) })
}

// poll runs telebot's LongPoller until ctx is done, handing each update to
// the bot on its own goroutine, then waits for the handlers still running.
// Updates fetched but not yet dispatched are dropped: their batch is not
// confirmed to Telegram, which delivers it again on the next start.
func poll(ctx context.Context, b *tele.Bot) {
	updates := make(chan tele.Update, 100)
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		(&tele.LongPoller{Timeout: pollTimeout}).Poll(b, updates, stop)
	}()
	var handlers sync.WaitGroup
	defer handlers.Wait()
	for {
		select {
		case u := <-updates:
			handlers.Go(func() { b.ProcessUpdate(u) })
		case <-ctx.Done():
			close(stop) // pollTransport fails the poller's getUpdates now, so it sees stop at once
			for {
				select {
				case <-updates: // never leave the poller blocked on a full channel
				case <-stopped:
					return
				}
			}
		}
	}
}

// serveWebhook serves hook on ln until ctx is done, then shuts the server
// down, letting running handlers finish.
func serveWebhook(ctx context.Context, ln net.Listener, hook http.Handler) error {
	// Read, write and idle timeouts and a header cap; Shutdown closes spare
	// connections at once.
	srv := webhook.NewServer(hook)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("webhook server: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	<-errc // http.ErrServerClosed
	return err
}

// pollTransport works around two things telebot v3.3.8's LongPoller does
// with getUpdates: it can only be cancelled through Bot.Stop (which this
// bot does not use, see the package comment), and after a failure it asks
// again at once, in a tight loop, logging nothing. Here every getUpdates is
// cancelled when ctx is done, none starts after that, and a failed one is
// logged and followed by a one-second pause. Other methods pass through
// untouched, so replies in flight at shutdown are still sent.
type pollTransport struct {
	ctx  context.Context
	base http.RoundTripper
	log  *slog.Logger
}

func (t *pollTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasSuffix(r.URL.Path, "/getUpdates") {
		return t.base.RoundTrip(r)
	}
	if err := t.ctx.Err(); err != nil {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, err // not even sent: it would confirm the last batch, which may not be handled
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(t.ctx, cancel)()
	resp, err := t.base.RoundTrip(r.WithContext(ctx))
	var body []byte
	if err == nil { // read the body before cancel runs
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	if t.ctx.Err() != nil {
		return nil, t.ctx.Err()
	}
	if err != nil || resp.StatusCode != http.StatusOK {
		if err != nil { // a transport error: it does not contain the URL, nor the token
			t.log.Warn("getUpdates failed; retrying in 1s", "error", err)
		} else {
			t.log.Warn("getUpdates failed; retrying in 1s", "status", resp.StatusCode, "response", string(body))
		}
		select {
		case <-time.After(time.Second):
		case <-t.ctx.Done():
		}
	}
	if err != nil {
		return nil, err
	}
	return resp, nil
}
