package telegolimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/adapters/telegolimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
	"github.com/mymmrac/telego"
	th "github.com/mymmrac/telego/telegohandler"
	tu "github.com/mymmrac/telego/telegoutil"
)

// TestHeadOfLine: a group's outbound lane is full, a spammer in that group
// is throttled, and the notice to the group would wait most of a minute in
// the lane. An unrelated private user's /ping is answered at once, and the
// notice, which cannot go out within its deadline, is dropped and counted,
// never delivered late.
func TestHeadOfLine(t *testing.T) {
	st := memorystore.New()
	t.Cleanup(func() { _ = st.Close() })
	busy := testutil.NewBusyGroup(t, testToken, st)
	g := newGuardLog(t, busy.Store, core.PerMinute(1), nil, guard.WithObserver(busy.Log))
	bot, err := telego.NewBot(testToken, telego.WithAPIServer(busy.API.URL()), telego.WithDiscardLogger(),
		telego.WithHTTPClient(busy.Client))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
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
	_ = bh.Stop()
	busy.Check(t, latency)
}
