package main

// The bots: the same two handlers (echo text; answer a button with
// "pong") on each framework, with floodgate's adapter in front of them and
// a counter in front of that. They poll the fake Bot API server and stop
// promptly once their context is done, the way the starter bots in
// examples/telebot, examples/telego, examples/tgbotapi (and, in
// bots_more.go, examples/gotelegram and examples/gotgbot) do (see the
// comments there for why each needs its own arrangement).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/floodgate-go/floodgate/adapters/telebotlimit"
	"github.com/floodgate-go/floodgate/adapters/telegolimit"
	"github.com/floodgate-go/floodgate/adapters/tgbotapilimit"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/outbound"
	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
	"github.com/mymmrac/telego"
	th "github.com/mymmrac/telego/telegohandler"
	tu "github.com/mymmrac/telego/telegoutil"
	tele "gopkg.in/telebot.v3"
)

const (
	// token is any token the fake server accepts, in the format telego checks.
	token = "123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	// pollTimeout is the long-poll timeout in seconds; stopping a bot
	// cancels its pending poll, so it never has to be waited out.
	pollTimeout = 10
)

// newTransport returns an HTTP transport of the bot's own, so that stopping
// the bot can close its idle connections.
func newTransport() *http.Transport { return http.DefaultTransport.(*http.Transport).Clone() }

// newClient returns the bot's HTTP client, its sends paced by throttle.
func newClient(throttle *outbound.Throttle, rt http.RoundTripper) *http.Client {
	return throttle.Client(&http.Client{Transport: rt, Timeout: outbound.DefaultMaxWait + (pollTimeout+5)*time.Second}) // longer than a poll
}

// ---- telebot ----

// startTelebot runs telebot's dispatcher on updates from its LongPoller,
// without Bot.Start and Bot.Stop, which do not shut down reliably in
// v3.3.8 (see examples/telebot).
func startTelebot(ctx context.Context, apiURL string, g *guard.Guard, throttle *outbound.Throttle, t *tally, log *slog.Logger) (func(), error) {
	transport := newTransport()
	b, err := tele.NewBot(tele.Settings{
		Token:       token,
		URL:         apiURL,
		Client:      newClient(throttle, &pollTransport{ctx: ctx, base: transport, log: log}),
		Synchronous: true, // ProcessUpdate returns when the handler is done; poll adds the concurrency
		OnError: func(err error, _ tele.Context) {
			log.Warn("telebot: handler failed", "error", guard.Redact(err.Error(), token))
		},
	}) // calls getMe
	if err != nil {
		transport.CloseIdleConnections()
		return nil, fmt.Errorf("telebot: %s", guard.Redact(err.Error(), token))
	}
	b.Use(func(next tele.HandlerFunc) tele.HandlerFunc { // count what reaches the bot
		return func(c tele.Context) error { t.add(&t.seen); return next(c) }
	})
	b.Use(telebotlimit.Middleware(g)) // before b.Handle, which copies the middleware list
	b.Handle(tele.OnText, func(c tele.Context) error {
		t.add(&t.passedMessages)
		return c.Send(c.Text())
	})
	b.Handle(tele.OnCallback, func(c tele.Context) error {
		t.add(&t.passedCbs)
		return c.Respond(&tele.CallbackResponse{Text: "pong"})
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		telebotPoll(ctx, b)
	}()
	return func() { <-done; transport.CloseIdleConnections() }, nil
}

// telebotPoll runs telebot's LongPoller until ctx is done, handing each
// update to the bot on its own goroutine, then waits for the handlers still
// running.
func telebotPoll(ctx context.Context, b *tele.Bot) {
	updates := make(chan tele.Update, 100)
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		(&tele.LongPoller{Timeout: pollTimeout * time.Second}).Poll(b, updates, stop)
	}()
	var handlers sync.WaitGroup
	defer handlers.Wait()
	for {
		select {
		case u := <-updates:
			handlers.Go(func() { b.ProcessUpdate(u) })
		case <-ctx.Done():
			close(stop) // pollTransport fails the pending getUpdates now, so the poller sees stop at once
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

// pollTransport cancels telebot's getUpdates when ctx is done (the
// LongPoller can otherwise only be stopped through Bot.Stop), starts none
// after that, and pauses a second after a failed one instead of retrying in
// a tight loop. Other methods pass through untouched.
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
		return nil, err
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
		if err != nil {
			t.log.Warn("telebot: getUpdates failed; retrying in 1s", "error", err)
		} else {
			t.log.Warn("telebot: getUpdates failed; retrying in 1s", "status", resp.StatusCode, "response", string(body))
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

// ---- telego ----

// startTelego runs a telegohandler.BotHandler over long polling, on
// net/http (telego's default, fasthttp, ignores context cancellation).
func startTelego(ctx context.Context, apiURL string, g *guard.Guard, throttle *outbound.Throttle, t *tally, log *slog.Logger) (func(), error) {
	transport := newTransport()
	bot, err := telego.NewBot(token,
		telego.WithHTTPClient(newClient(throttle, transport)),
		telego.WithAPIServer(apiURL),
		telego.WithLogger(telegoLog{ctx: ctx, log: log}))
	if err != nil {
		return nil, fmt.Errorf("telego: %w", err)
	}
	updates, err := bot.UpdatesViaLongPolling(ctx, &telego.GetUpdatesParams{Timeout: pollTimeout},
		telego.WithLongPollingRetryTimeout(time.Second))
	if err != nil {
		transport.CloseIdleConnections()
		return nil, fmt.Errorf("telego: %s", guard.Redact(err.Error(), token))
	}
	bh, err := th.NewBotHandler(bot, updates)
	if err != nil {
		transport.CloseIdleConnections()
		return nil, fmt.Errorf("telego: %w", err)
	}
	bh.Use(func(ctx *th.Context, u telego.Update) error {
		t.add(&t.seen) // count what reaches the bot
		// Let an update in hand finish at exit: telegohandler cancels a
		// handler's context when the bot handler stops.
		ctx, cancel := ctx.WithoutCancel().WithTimeout(5 * time.Second)
		defer cancel()
		return ctx.Next(u)
	})
	bh.Use(telegolimit.Middleware(g)) // before the handlers: routes match in registration order
	bh.HandleMessage(func(ctx *th.Context, m telego.Message) error {
		t.add(&t.passedMessages)
		_, err := ctx.Bot().SendMessage(ctx, tu.Message(m.Chat.ChatID(), m.Text))
		return err
	}, th.AnyMessageWithText())
	bh.HandleCallbackQuery(func(ctx *th.Context, q telego.CallbackQuery) error {
		t.add(&t.passedCbs)
		return ctx.Bot().AnswerCallbackQuery(ctx, tu.CallbackQuery(q.ID).WithText("pong"))
	}, th.AnyCallbackQuery())
	// Build telego's JSON codec once now, not in every handler goroutine
	// of the first batch at once.
	_ = telego.Update{Message: &telego.Message{}}.Clone()

	started := make(chan error, 1)
	go func() { started <- bh.Start() }()
	return func() {
		// ctx is done: long polling closes updates, and Start returns once
		// they are handed out; StopWithContext waits for the handlers.
		stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		select {
		case err := <-started:
			if err != nil {
				log.Warn("telego: bot handler", "error", err)
			}
		case <-stopCtx.Done():
		}
		if err := bh.StopWithContext(stopCtx); err != nil {
			log.Warn("telego: updates still being handled at exit", "error", err)
		}
		transport.CloseIdleConnections()
	}, nil
}

// telegoLog sends telego's log to slog, token removed. Errors once ctx is
// done (the aborted long poll) are expected: debug level.
type telegoLog struct {
	ctx context.Context
	log *slog.Logger
}

func (l telegoLog) Debugf(format string, args ...any) { l.logf(slog.LevelDebug, format, args) }

func (l telegoLog) Errorf(format string, args ...any) {
	level := slog.LevelError
	if l.ctx.Err() != nil {
		level = slog.LevelDebug
	}
	l.logf(level, format, args)
}

func (l telegoLog) logf(level slog.Level, format string, args []any) {
	if l.log.Enabled(l.ctx, level) {
		l.log.Log(context.WithoutCancel(l.ctx), level, "telego: "+guard.Redact(fmt.Sprintf(format, args...), token))
	}
}

// ---- tgbotapi ----

// startTgbotapi reads tgbotapi's update channel and checks each update
// with tgbotapilimit.Check (tgbotapi has no middleware).
func startTgbotapi(ctx context.Context, apiURL string, g *guard.Guard, throttle *outbound.Throttle, t *tally, log *slog.Logger) (func(), error) {
	transport := newTransport()
	client := &apiClient{ctx: ctx, c: newClient(throttle, transport)}
	endpoint := strings.ReplaceAll(apiURL, "%", "%%") + "/bot%s/%s"
	bot, err := tgbotapi.NewBotAPIWithClient(token, endpoint, client) // calls getMe
	if err != nil {
		transport.CloseIdleConnections()
		return nil, fmt.Errorf("tgbotapi: getMe: %w", err)
	}
	handle := func(u tgbotapi.Update) {
		var reply tgbotapi.Chattable
		switch {
		case u.CallbackQuery != nil:
			t.add(&t.passedCbs)
			reply = tgbotapi.NewCallback(u.CallbackQuery.ID, "pong")
		case u.Message != nil && u.Message.Chat != nil && u.Message.Text != "":
			t.add(&t.passedMessages)
			reply = tgbotapi.NewMessage(u.Message.Chat.ID, u.Message.Text)
		default:
			return
		}
		if _, err := bot.Request(reply); err != nil {
			log.Warn("tgbotapi: could not reply", "error", err)
		}
	}
	updates := bot.GetUpdatesChan(tgbotapi.UpdateConfig{Timeout: pollTimeout})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case u := <-updates: // not closed before StopReceivingUpdates
				t.add(&t.seen) // count what reaches the bot
				if tgbotapilimit.Check(ctx, bot, g, u) {
					handle(u)
				}
				continue
			case <-ctx.Done():
			}
			bot.StopReceivingUpdates() // exactly once: a second call panics
			for range updates {        // the poller blocks on a full channel: drain it until it closes
			}
			return
		}
	}()
	return func() { <-done; transport.CloseIdleConnections() }, nil
}

// apiClient is tgbotapi's HTTP client. It removes the token from transport
// errors, and ties long polls to ctx: once ctx is done, a pending
// getUpdates ends at once with no updates, so the poller sees
// StopReceivingUpdates without waiting out its poll or sleeping 3 s after a
// failed request.
type apiClient struct {
	ctx context.Context
	c   *http.Client
}

func (a *apiClient) Do(req *http.Request) (*http.Response, error) {
	if !strings.HasSuffix(req.URL.Path, "/getUpdates") {
		resp, err := a.c.Do(req)
		return resp, redact(err)
	}
	status := http.StatusOK
	body, err := func() ([]byte, error) {
		resp, err := a.c.Do(req.WithContext(a.ctx))
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		status = resp.StatusCode
		return io.ReadAll(resp.Body)
	}()
	if err != nil {
		if a.ctx.Err() == nil {
			return nil, redact(err)
		}
		status, body = http.StatusOK, []byte(`{"ok":true,"result":[]}`)
	}
	return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(body)), Request: req}, nil
}

func redact(err error) error {
	if err == nil || !strings.Contains(err.Error(), token) {
		return err
	}
	return errors.New(guard.Redact(err.Error(), token))
}
