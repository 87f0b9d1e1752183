package tgbotapilimit_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/adapters/tgbotapilimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/outbound"
	"github.com/floodgate-go/floodgate/store/memorystore"
	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// TestHeadOfLine: a group's outbound lane is full (20 sends this minute),
// a spammer in that group is throttled, and the notice to the group would
// wait most of a minute in the lane. It must not hold up Filter: an
// unrelated private user's /ping is answered at once, and the notice,
// which cannot go out within its deadline, is dropped and counted, never
// delivered late.
func TestHeadOfLine(t *testing.T) {
	const group, spammer, private = -1001000000100, 2001, 2002
	api := testutil.StartBotAPI(t, testutil.WithFloodLimits(testutil.TelegramLimits()))
	st := memorystore.New()
	t.Cleanup(func() { _ = st.Close() })
	throttle, err := outbound.New(st)
	if err != nil {
		t.Fatal(err)
	}
	obs := &testutil.ActionLog{}
	g := newGuard(t, st, core.PerMinute(1), nil, guard.WithObserver(obs))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	client := pollingClient{ctx: ctx, c: throttle.Client(&http.Client{Transport: tr, Timeout: 90 * time.Second})}
	bot, err := tgbotapi.NewBotAPIWithClient(testToken, api.URL()+"/bot%s/%s", client)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 { // the group's lane: full for a minute
		if _, err := bot.Send(tgbotapi.NewMessage(group, "news "+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
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
	api.Push(testutil.Message(spammer, group, "supergroup", "spam 1"))
	api.Push(testutil.Message(spammer, group, "supergroup", "spam 2")) // throttled: a notice to the group is due
	pushed := time.Now()
	api.Push(testutil.Message(private, private, "private", "/ping"))
	for u := range out {
		if u.Message != nil && u.Message.Text == "/ping" {
			if _, err := bot.Send(tgbotapi.NewMessage(private, "pong")); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	latency := time.Since(pushed)
	waitCtx, stop := context.WithTimeout(context.Background(), 20*time.Second)
	defer stop()
	if err := g.Wait(waitCtx); err != nil {
		t.Fatal(err)
	}
	t.Logf("private user's pong %v after its /ping; notices dropped: %v", latency.Round(time.Millisecond), obs.Dropped())
	if latency > 20*time.Second {
		t.Errorf("the pong took %v: the update waited behind the group's notice", latency)
	}
	if d := obs.Dropped(); d["sendMessage"] != 1 {
		t.Errorf("dropped calls %v, want the notice dropped once", d)
	}
	for _, c := range api.CallsTo("sendMessage") {
		if c.Params["chat_id"] == strconv.Itoa(group) && c.Params["text"] != "" && c.Params["text"][:4] != "news" {
			t.Errorf("a notice went to the group: %v", c.Params)
		}
	}
}
