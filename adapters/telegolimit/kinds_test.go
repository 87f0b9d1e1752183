package telegolimit_test

import (
	"fmt"
	"maps"
	"strings"
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

const kindsUser int64 = 601

func mustLimit(t testing.TB, s string) core.Limit {
	t.Helper()
	l, err := core.ParseLimit(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// kindsBot starts a real telego bot handler with Middleware(g) on api: an
// echo for text and "ok" for buttons, counting what its handlers saw by
// kind and payload.
func kindsBot(t *testing.T, api *testutil.BotAPI, g *guard.Guard) (*polling, *counter) {
	t.Helper()
	var seen counter
	p := startPolling(t, api, func(bh *th.BotHandler) {
		bh.Use(telegolimit.Middleware(g))
		bh.HandleMessage(func(ctx *th.Context, m telego.Message) error {
			seen.add("message " + m.Text)
			_, err := ctx.Bot().SendMessage(ctx, tu.Message(m.Chat.ChatID(), echoPrefix+m.Text))
			return err
		}, th.AnyMessageWithText())
		bh.HandleCallbackQuery(func(ctx *th.Context, q telego.CallbackQuery) error {
			seen.add("callback " + q.Data)
			return ctx.Bot().AnswerCallbackQuery(ctx, tu.CallbackQuery(q.ID).WithText(callbackReply))
		}, th.AnyCallbackQuery())
	})
	return p, &seen
}

// TestKindBudgets: 20 button presses and 10 messages from one user in
// 4.8 s (one update every 160 ms of the store's clock), under a callback
// budget of 20/10s and a message budget of 5/10s: every press passes,
// the messages are cut to 7 (a burst of 5, then one per 2 s), each dropped
// one told (notice cooldown 1 ms).
func TestKindBudgets(t *testing.T) {
	t.Parallel()
	api := testutil.StartBotAPI(t)
	clock := testutil.NewClock()
	st := memorystore.New(memorystore.WithClock(clock.Now))
	t.Cleanup(func() { _ = st.Close() })
	g := newGuard(t, st, core.PerMinute(1), guard.WithNotice(time.Millisecond, nil),
		guard.WithKindLimits(guard.KindLimits{Message: mustLimit(t, "5/10s"), Callback: mustLimit(t, "20/10s")}))
	p, seen := kindsBot(t, api, g)
	presses, messages := 0, 0
	for i := range 30 {
		if i%3 == 2 {
			messages++
			api.Push(testutil.Message(kindsUser, kindsUser, "", fmt.Sprintf("text %d", messages)))
		} else {
			presses++
			api.Push(testutil.CallbackQuery(kindsUser, kindsUser, fmt.Sprintf("page:%d", presses)))
		}
		p.wait(t, 1) // decided and handled before the clock moves on
		clock.Advance(160 * time.Millisecond)
	}
	settle(t, g)
	p.stop(t)

	echoes, notices := 0, 0
	for _, c := range api.CallsTo("sendMessage") {
		switch text := c.Params["text"]; {
		case strings.HasPrefix(text, echoPrefix):
			echoes++
		case strings.HasPrefix(text, noticePrefix):
			notices++
		}
	}
	handled := 0
	for _, c := range api.CallsTo("answerCallbackQuery") {
		if c.Params["text"] == callbackReply {
			handled++
		}
	}
	pressesSeen, messagesSeen := 0, 0
	for k, n := range seen.snapshot() {
		if strings.HasPrefix(k, "callback ") {
			pressesSeen += n
		} else {
			messagesSeen += n
		}
	}
	if pressesSeen != 20 || handled != 20 || messagesSeen != 7 || echoes != 7 || notices != 3 {
		t.Errorf("callback queries: %d of 20 handled (%d answered by the handler); messages: %d of 10 handled, %d echoes, %d notices; "+
			"want 20, 20; 7, 7, 3", pressesSeen, handled, messagesSeen, echoes, notices)
	}
	t.Logf("telego, in 4.8 s: callback_query %d/20 passed (budget 20/10s), message %d/10 passed (budget 5/10s), %d notices",
		pressesSeen, messagesSeen, notices)
}

// TestDebounce: a double tap reaches the handler once and both presses
// are answered; a resent message is echoed once; another button passes.
func TestDebounce(t *testing.T) {
	t.Parallel()
	api := testutil.StartBotAPI(t)
	st := memorystore.New(memorystore.WithClock(testutil.NewClock().Now))
	t.Cleanup(func() { _ = st.Close() })
	g := newGuard(t, st, core.PerMinute(100), guard.WithDebounce(2*time.Second))
	p, seen := kindsBot(t, api, g)
	ids := map[string]bool{}
	for _, data := range []string{"buy:1", "buy:1", "buy:2"} {
		cb := testutil.CallbackQuery(kindsUser, kindsUser, data)
		ids[cb["callback_query"].(map[string]any)["id"].(string)] = true
		api.Push(cb)
	}
	for _, text := range []string{"hello", "hello", "bye"} {
		api.Push(testutil.Message(kindsUser, kindsUser, "", text))
	}
	p.wait(t, 6)
	settle(t, g)
	p.stop(t)

	if want := map[string]int{"callback buy:1": 1, "callback buy:2": 1, "message hello": 1, "message bye": 1}; !maps.Equal(seen.snapshot(), want) {
		t.Errorf("handlers saw %v, want %v", seen.snapshot(), want)
	}
	texts := map[string]int{}
	for _, c := range api.CallsTo("answerCallbackQuery") {
		if !ids[c.Params["callback_query_id"]] {
			t.Errorf("answer to an unknown or repeated callback %v", c.Params)
		}
		delete(ids, c.Params["callback_query_id"])
		texts[c.Params["text"]]++
	}
	if want := map[string]int{callbackReply: 2, "": 1}; !maps.Equal(texts, want) || len(ids) != 0 {
		t.Errorf("callback answers by text %v, want %v; unanswered %v", texts, want, ids)
	}
	if n := len(api.CallsTo("sendMessage")); n != 2 {
		t.Errorf("%d sendMessage calls, want the 2 echoes (no notice for a duplicate)", n)
	}
}

// TestUpdatePayload: what debouncing compares, read from telego's updates.
func TestUpdatePayload(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, update, want string
	}{
		{"text", `{"message":{"message_id":1,"date":1,"chat":{"id":7,"type":"private"},"from":{"id":7},"text":"/start now"}}`, "/start now"},
		{"caption", `{"message":{"message_id":1,"date":1,"chat":{"id":7,"type":"private"},"from":{"id":7},"caption":"a cat"}}`, "a cat"},
		{"album item", `{"message":{"message_id":1,"date":1,"chat":{"id":7,"type":"private"},"from":{"id":7},"caption":"holiday","media_group_id":"135"}}`, ""},
		{"business message", `{"business_message":{"message_id":1,"date":1,"business_connection_id":"bc","chat":{"id":7,"type":"private"},"from":{"id":7},"text":"hi"}}`, "hi"},
		{"callback data", `{"callback_query":{"id":"1","from":{"id":7},"chat_instance":"1","data":"page:2"}}`, "page:2"},
		{"inline query", `{"inline_query":{"id":"1","from":{"id":7},"query":"q","offset":""}}`, ""},
	} {
		if got := telegolimit.UpdateOf(decode(t, tc.update)).Payload; got != tc.want {
			t.Errorf("%s: Payload %q, want %q", tc.name, got, tc.want)
		}
	}
}
