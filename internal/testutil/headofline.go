package testutil

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/outbound"
)

// BusyGroup is issue 13's head-of-line scenario, for adapter tests: a fake
// Bot API enforcing Telegram's flood limits, an outbound throttle the bot
// sends through, and a group whose outbound lane is full for a minute. A
// notice to that group would wait most of a minute in the throttle; the
// test checks that an unrelated private user's update is not held up
// behind it.
type BusyGroup struct {
	API      *BotAPI
	Store    core.Store // the throttle's store, for the test's Guard too
	Throttle *outbound.Throttle
	Client   *http.Client // the bot's HTTP client, through Throttle
	Log      *ActionLog   // give it to the Guard: guard.WithObserver(Log)
}

// Who takes part in the scenario.
const (
	BusyGroupID   int64 = -1001000000100
	BusySpammer   int64 = 2001
	BusyPrivate   int64 = 2002
	busyGroupFill       = 20 // Telegram's sends per minute to one group
)

// NewBusyGroup starts the fake Bot API and a throttle over st (a fresh
// store: memorystore.New()), and fills the group's lane with 20 sends
// through Client, for the bot whose token is token. The server and the
// client's connections are closed when the test ends.
func NewBusyGroup(t testing.TB, token string, st core.Store) *BusyGroup {
	t.Helper()
	b := &BusyGroup{API: StartBotAPI(t, WithFloodLimits(TelegramLimits())), Store: st, Log: &ActionLog{}}
	var err error
	if b.Throttle, err = outbound.New(st); err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	b.Client = b.Throttle.Client(&http.Client{Transport: tr, Timeout: 90 * time.Second})
	for i := range busyGroupFill {
		resp, err := b.Client.PostForm(b.API.URL()+"/bot"+token+"/sendMessage",
			url.Values{"chat_id": {strconv.FormatInt(BusyGroupID, 10)}, "text": {"news " + strconv.Itoa(i)}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("filling the group's lane: send %d answered %s", i, resp.Status)
		}
	}
	return b
}

// PushFlood pushes the spammer's two messages in the group (the second is
// throttled, and a notice to the group is due), then the private user's
// /ping, and returns when the /ping was pushed.
func (b *BusyGroup) PushFlood() time.Time {
	b.API.Push(Message(BusySpammer, BusyGroupID, "supergroup", "spam 1"))
	b.API.Push(Message(BusySpammer, BusyGroupID, "supergroup", "spam 2"))
	pushed := time.Now()
	b.API.Push(Message(BusyPrivate, BusyPrivate, "private", "/ping"))
	return pushed
}

// Check reports latency, the time from the /ping to its pong, and fails
// the test when the pong waited behind the notice (20 s is far below the
// minute the notice would wait, and far above any scheduling delay), when
// the notice was not dropped exactly once, or when a notice reached the
// group. It first waits for the Guard to report the notice: a framework
// that handles updates concurrently may answer the /ping before it has
// even decided the spam.
func (b *BusyGroup) Check(t testing.TB, latency time.Duration) {
	t.Helper()
	b.Log.WaitEvents(t, 1)
	dropped := b.Log.Dropped()
	t.Logf("private user's pong %v after its /ping; calls dropped: %v", latency.Round(time.Millisecond), dropped)
	if latency > 20*time.Second {
		t.Errorf("the pong took %v: the update waited behind the group's notice", latency)
	}
	if dropped["sendMessage"] != 1 {
		t.Errorf("dropped calls %v, want the notice dropped once", dropped)
	}
	for _, c := range b.API.CallsTo("sendMessage") {
		if c.Params["chat_id"] == strconv.FormatInt(BusyGroupID, 10) && !strings.HasPrefix(c.Params["text"], "news") {
			t.Errorf("a notice went to the group: %v", c.Params)
		}
	}
}
