package gotgbotlimit_test

import (
	"testing"
	"time"

	"github.com/PaulSonOfLars/gotgbot/v2"
	"github.com/PaulSonOfLars/gotgbot/v2/ext"
	"github.com/floodgate-go/floodgate/adapters/gotgbotlimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
)

// TestHeadOfLine: a group's outbound lane is full, a spammer in that group
// is throttled, and the notice to the group would wait most of a minute in
// the lane. An unrelated private user's /ping is answered at once, and the
// notice, which cannot go out within its deadline, is dropped and counted,
// never delivered late. The bot sends through the scenario's throttle
// (outbound.Throttle.Client as its BotClient's http.Client).
func TestHeadOfLine(t *testing.T) {
	st := memorystore.New()
	t.Cleanup(func() { _ = st.Close() })
	busy := testutil.NewBusyGroup(t, testToken, st)
	g := newGuard(t, busy.Store, core.PerMinute(1), guard.WithObserver(busy.Log))
	b, err := gotgbot.NewBot(testToken, &gotgbot.BotOpts{
		BotClient: &gotgbot.BaseBotClient{Client: *busy.Client,
			DefaultRequestOpts: &gotgbot.RequestOpts{APIURL: busy.API.URL(), Timeout: 90 * time.Second}},
		DisableTokenCheck: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ponged := make(chan time.Time, 1)
	d := ext.NewDispatcher(&ext.DispatcherOpts{Processor: gotgbotlimit.Processor(g, nil), ErrorLog: discardLog})
	d.AddHandler(funcHandler(func(b *gotgbot.Bot, ctx *ext.Context) error {
		m := ctx.EffectiveMessage
		if m == nil || m.Text != "/ping" {
			return nil
		}
		_, err := b.SendMessage(m.Chat.Id, "pong", nil)
		ponged <- time.Now()
		return err
	}))
	up := ext.NewUpdater(d, &ext.UpdaterOpts{ErrorLog: discardLog})
	if err := up.StartPolling(b, &ext.PollingOpts{GetUpdatesOpts: &gotgbot.GetUpdatesOpts{
		Timeout: pollTimeout, RequestOpts: &gotgbot.RequestOpts{Timeout: (pollTimeout + 10) * time.Second}}}); err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = up.Stop()
		}
	}()
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
	stopped = true
	if err := up.Stop(); err != nil {
		t.Errorf("Updater.Stop: %v", err)
	}
	busy.Check(t, latency)
}
