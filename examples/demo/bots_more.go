package main

// The bots on go-telegram/bot and gotgbot, arranged as the starter bots in
// examples/gotelegram and examples/gotgbot are.

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/PaulSonOfLars/gotgbot/v2"
	"github.com/PaulSonOfLars/gotgbot/v2/ext"
	"github.com/floodgate-go/floodgate/adapters/gotelegramlimit"
	"github.com/floodgate-go/floodgate/adapters/gotgbotlimit"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/outbound"
	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// ---- go-telegram/bot ----

// startGotelegram runs a go-telegram/bot bot over long polling. Its
// handlers run on its workers (WithNotAsyncHandlers), so once Start
// returns none is running.
func startGotelegram(ctx context.Context, apiURL string, g *guard.Guard, throttle *outbound.Throttle, t *tally, log *slog.Logger) (func(), error) {
	transport := newTransport()
	count := func(next bot.HandlerFunc) bot.HandlerFunc { // what reaches the bot
		return func(ctx context.Context, b *bot.Bot, u *models.Update) {
			t.add(&t.seen)
			// Let an update in hand finish at exit.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			next(ctx, b, u)
		}
	}
	warn := func(err error) {
		if err != nil {
			log.Warn("go-telegram/bot: could not reply", "error", guard.Redact(err.Error(), token))
		}
	}
	b, err := bot.New(token, bot.WithServerURL(apiURL),
		bot.WithHTTPClient(pollTimeout*time.Second, gotelegramlimit.Client(throttle, &http.Client{Transport: transport, // paced once, by Client
			Timeout: outbound.DefaultMaxWait + (pollTimeout+5)*time.Second})),
		bot.WithNotAsyncHandlers(), bot.WithWorkers(8),
		bot.WithMiddlewares(count, gotelegramlimit.Middleware(g)),
		bot.WithErrorsHandler(func(err error) {
			if ctx.Err() == nil { // not the aborted long poll at exit
				log.Warn("go-telegram/bot", "error", guard.Redact(err.Error(), token))
			}
		}),
		bot.WithDefaultHandler(func(ctx context.Context, b *bot.Bot, u *models.Update) {
			switch {
			case u.Message != nil && u.Message.Text != "":
				t.add(&t.passedMessages)
				_, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: u.Message.Chat.ID, Text: u.Message.Text})
				warn(err)
			case u.CallbackQuery != nil:
				t.add(&t.passedCbs)
				_, err := b.AnswerCallbackQuery(ctx, &bot.AnswerCallbackQueryParams{CallbackQueryID: u.CallbackQuery.ID, Text: "pong"})
				warn(err)
			}
		})) // calls getMe
	if err != nil {
		transport.CloseIdleConnections()
		return nil, fmt.Errorf("go-telegram/bot: %s", guard.Redact(err.Error(), token))
	}
	done := make(chan struct{})
	go func() { defer close(done); b.Start(ctx) }()
	return func() { <-done; transport.CloseIdleConnections() }, nil
}

// ---- gotgbot ----

// counting is the outermost gotgbot processor: it counts what reaches the
// bot.
type counting struct {
	next ext.Processor
	t    *tally
}

func (c counting) ProcessUpdate(d *ext.Dispatcher, b *gotgbot.Bot, ctx *ext.Context) error {
	c.t.add(&c.t.seen)
	return c.next.ProcessUpdate(d, b, ctx)
}

// handlerFunc is a gotgbot handler for every update.
type handlerFunc func(b *gotgbot.Bot, ctx *ext.Context) error

func (f handlerFunc) CheckUpdate(*gotgbot.Bot, *ext.Context) bool         { return true }
func (f handlerFunc) HandleUpdate(b *gotgbot.Bot, ctx *ext.Context) error { return f(b, ctx) }
func (f handlerFunc) Name() string                                        { return "demo" }

// startGotgbot runs a gotgbot updater and dispatcher over long polling;
// Updater.Stop ends the poll and waits for the handlers.
func startGotgbot(ctx context.Context, apiURL string, g *guard.Guard, throttle *outbound.Throttle, t *tally, log *slog.Logger) (func(), error) {
	transport := newTransport()
	b, err := gotgbot.NewBot(token, &gotgbot.BotOpts{ // calls getMe
		BotClient: &gotgbot.BaseBotClient{Client: *newClient(throttle, transport),
			DefaultRequestOpts: &gotgbot.RequestOpts{APIURL: apiURL, Timeout: outbound.DefaultMaxWait + 5*time.Second}},
		RequestOpts: &gotgbot.RequestOpts{APIURL: apiURL, Timeout: 5 * time.Second},
	})
	if err != nil {
		transport.CloseIdleConnections()
		return nil, fmt.Errorf("gotgbot: %s", guard.Redact(err.Error(), token))
	}
	logErr := func(err error) { log.Warn("gotgbot", "error", guard.Redact(err.Error(), token)) }
	d := ext.NewDispatcher(&ext.DispatcherOpts{
		Processor: counting{next: gotgbotlimit.Processor(g, nil), t: t},
		Error: func(_ *gotgbot.Bot, _ *ext.Context, err error) ext.DispatcherAction {
			logErr(err)
			return ext.DispatcherActionNoop
		},
		UnhandledErrFunc: logErr,
	})
	d.AddHandler(handlerFunc(func(b *gotgbot.Bot, ctx *ext.Context) error {
		switch {
		case ctx.Message != nil && ctx.Message.Text != "":
			t.add(&t.passedMessages)
			_, err := b.SendMessage(ctx.Message.Chat.Id, ctx.Message.Text, nil)
			return err
		case ctx.CallbackQuery != nil:
			t.add(&t.passedCbs)
			_, err := ctx.CallbackQuery.Answer(b, &gotgbot.AnswerCallbackQueryOpts{Text: "pong"})
			return err
		}
		return nil
	}))
	updater := ext.NewUpdater(d, &ext.UpdaterOpts{UnhandledErrFunc: func(err error) {
		logErr(err)
		time.Sleep(time.Second) // gotgbot retries at once when this function is set
	}})
	err = updater.StartPolling(b, &ext.PollingOpts{GetUpdatesOpts: &gotgbot.GetUpdatesOpts{Timeout: pollTimeout,
		RequestOpts: &gotgbot.RequestOpts{APIURL: apiURL, Timeout: (pollTimeout + 5) * time.Second}}})
	if err != nil {
		transport.CloseIdleConnections()
		return nil, fmt.Errorf("gotgbot: %s", guard.Redact(err.Error(), token))
	}
	return func() {
		<-ctx.Done()
		if err := updater.Stop(); err != nil {
			log.Warn("gotgbot: stop", "error", err)
		}
		transport.CloseIdleConnections()
	}, nil
}
