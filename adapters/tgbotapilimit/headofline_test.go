package tgbotapilimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/adapters/tgbotapilimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// TestHeadOfLine: a group's outbound lane is full, a spammer in that group
// is throttled, and the notice to the group would wait most of a minute in
// the lane. It must not hold up Filter, which decides one update at a
// time: an unrelated private user's /ping is answered at once, and the
// notice, which cannot go out within its deadline, is dropped and counted,
// never delivered late.
func TestHeadOfLine(t *testing.T) {
	st := memorystore.New()
	t.Cleanup(func() { _ = st.Close() })
	busy := testutil.NewBusyGroup(t, testToken, st)
	g := newGuard(t, busy.Store, core.PerMinute(1), nil, guard.WithObserver(busy.Log))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bot, err := tgbotapi.NewBotAPIWithClient(testToken, busy.API.URL()+"/bot%s/%s", pollingClient{ctx: ctx, c: busy.Client})
	if err != nil {
		t.Fatal(err)
	}
	updates := bot.GetUpdatesChan(tgbotapi.UpdateConfig{Timeout: 30})
	out := tgbotapilimit.Filter(ctx, bot, g, updates)
	t.Cleanup(func() {
		cancel()
		for range out {
		}
		bot.StopReceivingUpdates()
		for range updates {
		}
	})
	pushed := busy.PushFlood()
	for u := range out {
		if u.Message != nil && u.Message.Text == "/ping" {
			if _, err := bot.Send(tgbotapi.NewMessage(u.Message.Chat.ID, "pong")); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	latency := time.Since(pushed)
	busy.Log.WaitEvents(t, 1) // the notice, dropped (or, were it sent late, made)
	settle(t, g)
	busy.Check(t, latency)
}
