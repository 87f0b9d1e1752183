package gotelegramlimit_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/adapters/gotelegramlimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/adaptertest"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/telegramtest"
	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

const testToken = "123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// pollTimeout is the long poll's length: the bot asks getUpdates for one
// second less. Stopping the bot cancels the pending poll.
const pollTimeout = 31 * time.Second

// newBot returns a go-telegram bot on baseURL, with its own transport
// (closed when the test ends) and errors discarded; opts come last.
func newBot(t testing.TB, baseURL string, opts ...bot.Option) *bot.Bot {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	all := append([]bot.Option{bot.WithServerURL(baseURL),
		bot.WithHTTPClient(pollTimeout, &http.Client{Transport: tr, Timeout: pollTimeout + 10*time.Second}),
		bot.WithErrorsHandler(func(error) {}), bot.WithSkipGetMe()}, opts...)
	b, err := bot.New(testToken, all...)
	if err != nil {
		t.Fatalf("bot.New: %v", err)
	}
	return b
}

// reporter is the outermost middleware: it reports each update on done
// once everything inside (the guard, its Bot API calls, the handler)
// returned, so tests wait for completion instead of sleeping.
func reporter(done chan<- int64) bot.Middleware {
	return func(next bot.HandlerFunc) bot.HandlerFunc {
		return func(ctx context.Context, b *bot.Bot, u *models.Update) {
			defer func() { done <- u.ID }()
			next(ctx, b, u)
		}
	}
}

// polling is a real go-telegram bot reading the fake server by long
// polling, reporter outermost.
type polling struct {
	b      *bot.Bot
	done   chan int64
	cancel context.CancelFunc
	ended  chan struct{}
}

// startPolling starts a bot on api with mw inside the reporter and handler
// as its default handler.
func startPolling(t testing.TB, api *telegramtest.Server, handler bot.HandlerFunc, mw ...bot.Middleware) *polling {
	t.Helper()
	p := &polling{done: make(chan int64, 4096), ended: make(chan struct{})}
	p.b = newBot(t, api.URL(), bot.WithMiddlewares(append([]bot.Middleware{reporter(p.done)}, mw...)...),
		bot.WithDefaultHandler(handler))
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go func() { defer close(p.ended); p.b.Start(ctx) }()
	t.Cleanup(p.stop)
	return p
}

// wait blocks until n more updates went through the whole chain.
func (p *polling) wait(t testing.TB, n int) { t.Helper(); adaptertest.WaitN(t, p.done, n) }

// stop ends long polling and waits for Start to return.
func (p *polling) stop() {
	p.cancel()
	<-p.ended
}

// recordingHandler is RunEndToEnd's handler (see adaptertest.E2EBot).
func recordingHandler(passed *adaptertest.Counter) bot.HandlerFunc {
	return func(ctx context.Context, b *bot.Bot, u *models.Update) {
		passed.Add(adaptertest.E2ELabel(gotelegramlimit.UpdateOf(u)))
		switch {
		case u.Message != nil:
			_, _ = b.SendMessage(ctx, &bot.SendMessageParams{ChatID: u.Message.Chat.ID, Text: adaptertest.E2EEchoPrefix + u.Message.Text})
		case u.CallbackQuery != nil:
			_, _ = b.AnswerCallbackQuery(ctx, &bot.AnswerCallbackQueryParams{CallbackQueryID: u.CallbackQuery.ID, Text: adaptertest.E2ECallbackReply})
		case u.InlineQuery != nil:
			_, _ = b.AnswerInlineQuery(ctx, &bot.AnswerInlineQueryParams{InlineQueryID: u.InlineQuery.ID,
				Results: []models.InlineQueryResult{&models.InlineQueryResultArticle{ID: "1", Title: "pong",
					InputMessageContent: &models.InputTextMessageContent{MessageText: "pong"}}}})
		}
	}
}

// newGuard builds a Guard over st with limit l, its log discarded.
func newGuard(t testing.TB, st core.Store, l core.Limit, opts ...guard.Option) *guard.Guard {
	t.Helper()
	return testutil.NewGuard(t, st, l, nil, nil, opts...)
}

// settle waits for the answers and notices g is sending off the update
// path (guard.Guard.Respond) to be done.
func settle(t testing.TB, g *guard.Guard) { t.Helper(); testutil.Settle(t, g) }
