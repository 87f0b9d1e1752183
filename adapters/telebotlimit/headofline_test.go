package telebotlimit_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/adapters/telebotlimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/outbound"
	"github.com/floodgate-go/floodgate/store/memorystore"
	tele "gopkg.in/telebot.v3"
)

// TestHeadOfLine: a group's outbound lane is full (20 sends this minute),
// a spammer in that group is throttled, and the notice to the group would
// wait most of a minute in the lane. It must not hold up the Poller, which
// decides one update at a time: an unrelated private user's /ping is
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
	g := newGuard(t, st, core.PerMinute(1), nil, guard.WithObserver(obs))
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	client := throttle.Client(&http.Client{Transport: tr, Timeout: 90 * time.Second})
	b, err := tele.NewBot(tele.Settings{URL: api.URL(), Token: testToken, Offline: true, Client: client,
		Poller: telebotlimit.Poller(g, &tele.LongPoller{Timeout: 10 * time.Second}, telebotlimit.WithClient(client))})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 { // the group's lane: full for a minute
		if _, err := b.Send(&tele.Chat{ID: group}, "news "+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	ponged := make(chan time.Time, 1)
	b.Handle("/ping", func(c tele.Context) error {
		err := c.Send("pong")
		ponged <- time.Now()
		return err
	})
	api.Push(testutil.Message(spammer, group, "supergroup", "spam 1"))
	api.Push(testutil.Message(spammer, group, "supergroup", "spam 2")) // throttled: a notice to the group is due
	pushed := time.Now()
	api.Push(testutil.Message(private, private, "private", "/ping"))
	stop := startPolling(t, api, b)
	var latency time.Duration
	select {
	case at := <-ponged:
		latency = at.Sub(pushed)
	case <-time.After(90 * time.Second):
		t.Fatal("no pong within 90 s")
	}
	settle(t, g)
	stop()
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
