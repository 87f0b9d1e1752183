package telegolimit_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/adapters/telegolimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/outbound"
	"github.com/floodgate-go/floodgate/store/memorystore"
	"github.com/mymmrac/telego"
	th "github.com/mymmrac/telego/telegohandler"
	tu "github.com/mymmrac/telego/telegoutil"
)

// TestHeadOfLine: a group's outbound lane is full (20 sends this minute),
// a spammer in that group is throttled, and the notice to the group would
// wait most of a minute in the lane. An unrelated private user's /ping is
// answered at once, and the notice, which cannot go out within its
// deadline, is dropped and counted, never delivered late.
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
	g := newGuardLog(t, st, core.PerMinute(1), nil, guard.WithObserver(obs))
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	bot, err := telego.NewBot(testToken, telego.WithAPIServer(api.URL()), telego.WithDiscardLogger(),
		telego.WithHTTPClient(throttle.Client(&http.Client{Transport: tr, Timeout: 90 * time.Second})))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range 20 { // the group's lane: full for a minute
		if _, err := bot.SendMessage(ctx, tu.Message(tu.ID(group), "news "+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	updates, err := bot.UpdatesViaLongPolling(ctx, &telego.GetUpdatesParams{Timeout: 30})
	if err != nil {
		t.Fatal(err)
	}
	bh, err := th.NewBotHandler(bot, updates)
	if err != nil {
		t.Fatal(err)
	}
	bh.Use(telegolimit.Middleware(g))
	ponged := make(chan time.Time, 1)
	bh.HandleMessage(func(ctx *th.Context, m telego.Message) error {
		_, err := ctx.Bot().SendMessage(ctx, tu.Message(m.Chat.ChatID(), "pong"))
		ponged <- time.Now()
		return err
	}, th.CommandEqual("ping"))
	started := make(chan error, 1)
	go func() { started <- bh.Start() }()
	api.Push(testutil.Message(spammer, group, "supergroup", "spam 1"))
	api.Push(testutil.Message(spammer, group, "supergroup", "spam 2")) // throttled: a notice to the group is due
	pushed := time.Now()
	api.Push(testutil.Message(private, private, "private", "/ping"))
	var latency time.Duration
	select {
	case at := <-ponged:
		latency = at.Sub(pushed)
	case <-time.After(90 * time.Second):
		t.Fatal("no pong within 90 s")
	}
	settle(t, g)
	cancel()
	<-started
	_ = bh.Stop()
	t.Logf("private user's pong %v after its /ping; notices dropped: %v", latency.Round(time.Millisecond), obs.Dropped())
	if latency > 20*time.Second {
		t.Errorf("the pong took %v: the update waited behind the group's notice", latency)
	}
	if d := obs.Dropped(); d["sendMessage"] != 1 {
		t.Errorf("dropped calls %v, want the notice dropped once", d)
	}
	for _, c := range api.CallsTo("sendMessage") {
		if c.Params["chat_id"] == strconv.Itoa(group) && !strings.HasPrefix(c.Params["text"], "news") {
			t.Errorf("a notice went to the group: %v", c.Params)
		}
	}
}
