package telebotlimit_test

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/adapters/telebotlimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
	tele "gopkg.in/telebot.v3"
)

func mustLimit(t testing.TB, s string) core.Limit {
	t.Helper()
	l, err := core.ParseLimit(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// kindsBot runs a real telebot bot with Middleware(g) against api, an echo
// for text and "handled" for buttons. finish pushes "/done" from the
// sentinel, waits until the bot (synchronous: everything before it is
// handled) has answered it, stops the bot and returns what its handlers
// saw by update kind and payload, the sentinel's "/done" left out.
func kindsBot(t *testing.T, api *testutil.BotAPI, g *guard.Guard) (finish func() map[string]int) {
	t.Helper()
	b := newBot(t, api.URL(), &tele.LongPoller{Timeout: 10 * time.Second})
	b.Use(telebotlimit.Middleware(g))
	rec := newRecorder()
	done := make(chan struct{})
	b.Handle("/done", func(c tele.Context) error { close(done); return nil })
	b.Handle(tele.OnText, func(c tele.Context) error {
		rec.mu.Lock()
		rec.seen["message "+c.Text()]++
		rec.mu.Unlock()
		return c.Send("echo: " + c.Text())
	})
	b.Handle(tele.OnCallback, func(c tele.Context) error {
		rec.mu.Lock()
		rec.seen["callback "+c.Callback().Data]++
		rec.mu.Unlock()
		return c.Respond(&tele.CallbackResponse{Text: handledAnswer})
	})
	stop := startPolling(t, api, b)
	return func() map[string]int {
		api.Push(testutil.Message(sentinel, sentinel, "", "/done"))
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("the bot did not handle /done within 30 s")
		}
		settle(t, g) // the answers and notices Respond sends beside the update path
		stop()
		return rec.snapshot()
	}
}

// TestKindBudgets: 20 button presses and 10 messages from one user in
// 4.8 s (one update every 160 ms of the store's clock), under a callback
// budget of 20/10s and a message budget of 5/10s: every press passes,
// the messages are cut to 7 (a burst of 5, then one per 2 s), each dropped
// one told (notice cooldown 1 ms).
func TestKindBudgets(t *testing.T) {
	api := testutil.StartBotAPI(t)
	clock := testutil.NewClock()
	st := memorystore.New(memorystore.WithClock(clock.Now))
	defer st.Close()
	g := newGuard(t, st, core.PerMinute(1), nil, guard.WithNotice(time.Millisecond, nil),
		guard.WithKindLimits(guard.KindLimits{Message: mustLimit(t, "5/10s"), Callback: mustLimit(t, "20/10s")}))
	finish := kindsBot(t, api, g)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	presses, messages := 0, 0
	for i := range 30 {
		// Every update makes one call (an answer, an echo or a notice):
		// wait for it before the clock moves on.
		var err error
		if i%3 == 2 {
			messages++
			api.Push(testutil.Message(clicker, clicker, "", fmt.Sprintf("text %d", messages)))
			_, err = api.WaitCalls(ctx, "sendMessage", messages)
		} else {
			presses++
			api.Push(testutil.CallbackQuery(clicker, clicker, fmt.Sprintf("page:%d", presses)))
			_, err = api.WaitCalls(ctx, "answerCallbackQuery", presses)
		}
		if err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
		clock.Advance(160 * time.Millisecond)
	}
	seen := finish()

	echoes, notices := 0, 0
	for _, c := range api.CallsTo("sendMessage") {
		switch text := c.Params["text"]; {
		case strings.HasPrefix(text, "echo: "):
			echoes++
		case strings.HasPrefix(text, noticePrefix):
			notices++
		}
	}
	handled := 0
	for _, c := range api.CallsTo("answerCallbackQuery") {
		if c.Params["text"] == handledAnswer {
			handled++
		}
	}
	pressesSeen, messagesSeen := 0, 0
	for k, n := range seen {
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
	t.Logf("telebot, in 4.8 s: callback_query %d/20 passed (budget 20/10s), message %d/10 passed (budget 5/10s), %d notices",
		pressesSeen, messagesSeen, notices)
}

// TestDebounce: a double tap reaches the handler once and both presses
// are answered; a resent message is echoed once; another button passes.
func TestDebounce(t *testing.T) {
	api := testutil.StartBotAPI(t)
	st := memorystore.New(memorystore.WithClock(testutil.NewClock().Now))
	defer st.Close()
	g := newGuard(t, st, core.PerMinute(100), nil, guard.WithDebounce(2*time.Second))
	finish := kindsBot(t, api, g)

	var ids []string
	for _, data := range []string{"buy:1", "buy:1", "buy:2"} {
		cb := testutil.CallbackQuery(clicker, clicker, data)
		ids = append(ids, cb["callback_query"].(map[string]any)["id"].(string))
		api.Push(cb)
	}
	api.Push(testutil.Message(clicker, clicker, "", "hello"))
	api.Push(testutil.Message(clicker, clicker, "", "hello"))
	api.Push(testutil.Message(clicker, clicker, "", "bye"))
	seen := finish()

	if want := map[string]int{"callback buy:1": 1, "callback buy:2": 1, "message hello": 1, "message bye": 1}; !maps.Equal(seen, want) {
		t.Errorf("handlers saw %v, want %v", seen, want)
	}
	if got, want := callbackAnswers(t, api, ids), map[string]int{handledAnswer: 2, "": 1}; !maps.Equal(got, want) {
		t.Errorf("callback answers by text %v, want %v", got, want)
	}
	if n := len(api.CallsTo("sendMessage")); n != 2 {
		t.Errorf("%d sendMessage calls, want the 2 echoes (no notice for a duplicate)", n)
	}
}

// TestUpdatePayload: what debouncing compares, read from telebot's
// updates.
func TestUpdatePayload(t *testing.T) {
	album := testutil.Message(11, 11, "", "")
	m := album["message"].(map[string]any)
	delete(m, "text")
	m["caption"], m["media_group_id"] = "holiday", "13579"
	photo := testutil.Message(11, 11, "", "")
	delete(photo["message"].(map[string]any), "text")
	photo["message"].(map[string]any)["caption"] = "a cat"
	unique := testutil.CallbackQuery(11, 11, "\fbuy|42")
	for _, tc := range []struct {
		name   string
		update any
		want   string
	}{
		{"text", testutil.Message(11, 11, "", "/start now"), "/start now"},
		{"caption", photo, "a cat"},
		{"album item", album, ""},
		{"callback data", testutil.CallbackQuery(11, 11, "page:2"), "page:2"},
		{"inline query", testutil.InlineQuery(11, "q"), ""},
	} {
		u := decode(t, tc.update)
		if got := telebotlimit.UpdateOf(&u).Payload; got != tc.want {
			t.Errorf("%s: Payload %q, want %q", tc.name, got, tc.want)
		}
	}
	// telebot splits "\f<unique>|<data>" when it processes an update; the
	// raw and the split callback give the same payload.
	raw := decode(t, unique)
	split := decode(t, unique)
	split.Callback.Unique, split.Callback.Data = "buy", "42"
	if a, b := telebotlimit.UpdateOf(&raw).Payload, telebotlimit.UpdateOf(&split).Payload; a != b || a == "" {
		t.Errorf("payload of a unique button: raw %q, split %q; want equal, not empty", a, b)
	}
}
