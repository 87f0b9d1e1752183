package gotelegramlimit_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/adapters/gotelegramlimit"
	"github.com/floodgate-go/floodgate/guard"
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

// polling is a real go-telegram bot reading the fake server by long
// polling. Its outermost middleware reports each update on done once
// everything inside (the guard, its Bot API calls, the handler) returned,
// so tests wait for completion instead of sleeping.
type polling struct {
	b      *bot.Bot
	done   chan int64
	cancel context.CancelFunc
	ended  chan struct{}
}

// startPolling starts a bot on api with mw inside the reporting middleware
// and handler as its default handler.
func startPolling(t testing.TB, api *telegramtest.Server, handler bot.HandlerFunc, mw ...bot.Middleware) *polling {
	t.Helper()
	p := &polling{done: make(chan int64, 4096), ended: make(chan struct{})}
	report := func(next bot.HandlerFunc) bot.HandlerFunc {
		return func(ctx context.Context, b *bot.Bot, u *models.Update) {
			defer func() { p.done <- u.ID }()
			next(ctx, b, u)
		}
	}
	p.b = newBot(t, api.URL(), bot.WithMiddlewares(append([]bot.Middleware{report}, mw...)...),
		bot.WithDefaultHandler(handler))
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go func() { defer close(p.ended); p.b.Start(ctx) }()
	t.Cleanup(p.stop)
	return p
}

// wait blocks until n more updates went through the whole chain.
func (p *polling) wait(t testing.TB, n int) {
	t.Helper()
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for i := 0; i < n; i++ {
		select {
		case <-p.done:
		case <-timeout.C:
			t.Fatalf("waited for %d updates to be handled, %d were", n, i)
		}
	}
}

// stop ends long polling and waits for Start to return.
func (p *polling) stop() {
	p.cancel()
	<-p.ended
}

// recordingHandler is RunEndToEnd's handler (see testutil.E2EBot).
func recordingHandler(passed *testutil.Counter) bot.HandlerFunc {
	return func(ctx context.Context, b *bot.Bot, u *models.Update) {
		passed.Add(testutil.E2ELabel(gotelegramlimit.UpdateOf(u)))
		switch {
		case u.Message != nil:
			_, _ = b.SendMessage(ctx, &bot.SendMessageParams{ChatID: u.Message.Chat.ID, Text: testutil.E2EEchoPrefix + u.Message.Text})
		case u.CallbackQuery != nil:
			_, _ = b.AnswerCallbackQuery(ctx, &bot.AnswerCallbackQueryParams{CallbackQueryID: u.CallbackQuery.ID, Text: testutil.E2ECallbackReply})
		case u.InlineQuery != nil:
			_, _ = b.AnswerInlineQuery(ctx, &bot.AnswerInlineQueryParams{InlineQueryID: u.InlineQuery.ID,
				Results: []models.InlineQueryResult{&models.InlineQueryResultArticle{ID: "1", Title: "pong",
					InputMessageContent: &models.InputTextMessageContent{MessageText: "pong"}}}})
		}
	}
}

// startE2E is RunEndToEnd's start function for go-telegram/bot.
func startE2E(t *testing.T, api *telegramtest.Server) func(g *guard.Guard) testutil.E2EBot {
	return func(g *guard.Guard) testutil.E2EBot {
		var passed testutil.Counter
		p := startPolling(t, api, recordingHandler(&passed), gotelegramlimit.Middleware(g))
		return testutil.E2EBot{Passed: &passed, Wait: p.wait}
	}
}
