package telebotlimit_test

import (
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/adapters/telebotlimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
	tele "gopkg.in/telebot.v3"
)

// TestHeadOfLine: a group's outbound lane is full, a spammer in that group
// is throttled, and the notice to the group would wait most of a minute in
// the lane. It must not hold up the Poller, which decides one update at a
// time: an unrelated private user's /ping is answered at once, and the
// notice, which cannot go out within its deadline, is dropped and counted,
// never delivered late.
func TestHeadOfLine(t *testing.T) {
	st := memorystore.New()
	t.Cleanup(func() { _ = st.Close() })
	busy := testutil.NewBusyGroup(t, testToken, st)
	g := newGuard(t, busy.Store, core.PerMinute(1), nil, guard.WithObserver(busy.Log))
	b, err := tele.NewBot(tele.Settings{URL: busy.API.URL(), Token: testToken, Offline: true, Client: busy.Client,
		Poller: telebotlimit.Poller(g, &tele.LongPoller{Timeout: 10 * time.Second}, telebotlimit.WithClient(busy.Client))})
	if err != nil {
		t.Fatal(err)
	}
	ponged := make(chan time.Time, 1)
	b.Handle("/ping", func(c tele.Context) error {
		err := c.Send("pong")
		ponged <- time.Now()
		return err
	})
	pushed := busy.PushFlood()
	stop := startPolling(t, busy.API, b)
	var latency time.Duration
	select {
	case at := <-ponged:
		latency = at.Sub(pushed)
	case <-time.After(90 * time.Second):
		t.Fatal("no pong within 90 s")
	}
	busy.Log.WaitEvents(t, 1) // the notice, dropped (or, were it sent late, made)
	settle(t, g)
	stop()
	busy.Check(t, latency)
}
