package gotgbotlimit_test

import (
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/PaulSonOfLars/gotgbot/v2"
	"github.com/PaulSonOfLars/gotgbot/v2/ext"
	"github.com/floodgate-go/floodgate/adapters/gotgbotlimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/adaptertest"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/telegramtest"
)

const testToken = "123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// pollTimeout is the getUpdates timeout in seconds; stopping the updater
// cancels the pending poll.
const pollTimeout = 30

// newBot returns a gotgbot bot on baseURL with its own transport, closed
// when the test ends. It does not call getMe.
func newBot(t testing.TB, baseURL string) *gotgbot.Bot {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	b, err := gotgbot.NewBot(testToken, &gotgbot.BotOpts{
		BotClient: &gotgbot.BaseBotClient{Client: http.Client{Transport: tr},
			DefaultRequestOpts: &gotgbot.RequestOpts{APIURL: baseURL, Timeout: 10 * time.Second}},
		DisableTokenCheck: true,
	})
	if err != nil {
		t.Fatalf("NewBot: %v", err)
	}
	return b
}

// discardLog is a log.Logger that writes nothing, for gotgbot.
var discardLog = slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)

// funcHandler is an ext.Handler that takes every update.
type funcHandler func(b *gotgbot.Bot, ctx *ext.Context) error

func (f funcHandler) CheckUpdate(*gotgbot.Bot, *ext.Context) bool         { return true }
func (f funcHandler) HandleUpdate(b *gotgbot.Bot, ctx *ext.Context) error { return f(b, ctx) }
func (f funcHandler) Name() string                                        { return "test" }

// reporter is the outermost processor: it reports each update on done
// once everything inside (the guard, its Bot API calls, the handlers)
// returned, so tests wait for completion instead of sleeping.
type reporter struct {
	next ext.Processor
	done chan int64
}

func (r reporter) ProcessUpdate(d *ext.Dispatcher, b *gotgbot.Bot, ctx *ext.Context) error {
	defer func() { r.done <- ctx.UpdateId }()
	return r.next.ProcessUpdate(d, b, ctx)
}

// polling is a real gotgbot updater and dispatcher reading the fake server
// by long polling.
type polling struct {
	u    *ext.Updater
	done chan int64
}

// startPolling starts a bot on api: proc (nil: ext.BaseProcessor) inside
// the reporter, and h in handler group 0; setup may add more handlers.
func startPolling(t testing.TB, api *telegramtest.Server, proc ext.Processor, h ext.Handler, setup func(d *ext.Dispatcher)) *polling {
	t.Helper()
	if proc == nil {
		proc = ext.BaseProcessor{}
	}
	p := &polling{done: make(chan int64, 4096)}
	d := ext.NewDispatcher(&ext.DispatcherOpts{Processor: reporter{next: proc, done: p.done}, MaxRoutines: -1,
		ErrorLog: discardLog})
	if h != nil {
		d.AddHandler(h)
	}
	if setup != nil {
		setup(d)
	}
	p.u = ext.NewUpdater(d, &ext.UpdaterOpts{ErrorLog: discardLog})
	err := p.u.StartPolling(newBot(t, api.URL()), &ext.PollingOpts{GetUpdatesOpts: &gotgbot.GetUpdatesOpts{
		Timeout: pollTimeout, RequestOpts: &gotgbot.RequestOpts{Timeout: (pollTimeout + 10) * time.Second}}})
	if err != nil {
		t.Fatalf("StartPolling: %v", err)
	}
	t.Cleanup(func() {
		if err := p.u.Stop(); err != nil {
			t.Errorf("Updater.Stop: %v", err)
		}
	})
	return p
}

// wait blocks until n more updates went through the whole chain.
func (p *polling) wait(t testing.TB, n int) { t.Helper(); adaptertest.WaitN(t, p.done, n) }

// recordingHandler is RunEndToEnd's handler (see adaptertest.E2EBot).
func recordingHandler(passed *adaptertest.Counter) ext.Handler {
	return funcHandler(func(b *gotgbot.Bot, ctx *ext.Context) error {
		u := ctx.Update
		passed.Add(adaptertest.E2ELabel(gotgbotlimit.UpdateOf(u)))
		var err error
		switch {
		case u.Message != nil:
			_, err = b.SendMessage(u.Message.Chat.Id, adaptertest.E2EEchoPrefix+u.Message.Text, nil)
		case u.CallbackQuery != nil:
			_, err = b.AnswerCallbackQuery(u.CallbackQuery.Id, &gotgbot.AnswerCallbackQueryOpts{Text: adaptertest.E2ECallbackReply})
		case u.InlineQuery != nil:
			_, err = b.AnswerInlineQuery(u.InlineQuery.Id, []gotgbot.InlineQueryResult{gotgbot.InlineQueryResultArticle{
				Id: "1", Title: "pong", InputMessageContent: gotgbot.InputTextMessageContent{MessageText: "pong"}}}, nil)
		}
		return err
	})
}

// newGuard builds a Guard over st with limit l, its log discarded.
func newGuard(t testing.TB, st core.Store, l core.Limit, opts ...guard.Option) *guard.Guard {
	t.Helper()
	return testutil.NewGuard(t, st, l, slog.New(slog.DiscardHandler), nil, opts...)
}

// settle waits for the answers and notices g is sending off the update
// path (guard.Guard.Respond) to be done.
func settle(t testing.TB, g *guard.Guard) { t.Helper(); testutil.Settle(t, g) }
