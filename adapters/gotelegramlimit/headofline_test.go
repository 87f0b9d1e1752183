package gotelegramlimit_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/adapters/gotelegramlimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// TestHeadOfLine: a group's outbound lane is full, a spammer in that group
// is throttled, and the notice to the group would wait most of a minute in
// the lane. An unrelated private user's /ping is answered at once, and the
// notice, which cannot go out within its deadline, is dropped and counted,
// never delivered late. The bot sends through gotelegramlimit.Client over
// the scenario's throttle, as docs/outbound.md wires it.
func TestHeadOfLine(t *testing.T) {
	st := memorystore.New()
	t.Cleanup(func() { _ = st.Close() })
	busy := testutil.NewBusyGroup(t, testToken, st)
	g := newGuard(t, busy.Store, core.PerMinute(1), guard.WithObserver(busy.Log))
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	ponged := make(chan time.Time, 1)
	b := newBot(t, busy.API.URL(),
		bot.WithHTTPClient(pollTimeout, gotelegramlimit.Client(busy.Throttle, &http.Client{Transport: tr, Timeout: 90 * time.Second})),
		bot.WithMiddlewares(gotelegramlimit.Middleware(g)),
		bot.WithDefaultHandler(func(ctx context.Context, b *bot.Bot, u *models.Update) {
			if u.Message == nil || u.Message.Text != "/ping" {
				return
			}
			if _, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: u.Message.Chat.ID, Text: "pong"}); err != nil {
				t.Errorf("pong: %v", err)
			}
			ponged <- time.Now()
		}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{})
	go func() { defer close(started); b.Start(ctx) }()
	pushed := busy.PushFlood()
	var latency time.Duration
	select {
	case at := <-ponged:
		latency = at.Sub(pushed)
	case <-time.After(90 * time.Second):
		t.Fatal("no pong within 90 s")
	}
	busy.Log.WaitEvents(t, 1) // the notice, dropped (or, were it sent late, made)
	settle(t, g)
	cancel()
	<-started
	busy.Check(t, latency)
}
