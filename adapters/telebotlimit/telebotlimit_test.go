package telebotlimit_test

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/adapters/telebotlimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
	"go.uber.org/goleak"
	tele "gopkg.in/telebot.v3"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Who sends what in the end-to-end tests.
const (
	spammer     int64 = 1001
	normalA     int64 = 1002
	normalB     int64 = 1003
	clicker     int64 = 1004
	inliner     int64 = 1005
	anonGroup   int64 = -1001000000006
	channel     int64 = -1001000000007
	noFromGroup int64 = -1001000000008
	sentinel    int64 = 1009
)

// handledAnswer is what the test's callback handler answers with.
const handledAnswer = "handled"

func key(prefix string, id int64) string { return prefix + ":" + strconv.FormatInt(id, 10) }

// pollUpdate is a "poll" update: no user, no chat.
const pollUpdate = `{"poll":{"id":"p1","question":"Lunch?","options":[{"text":"yes","voter_count":1}],` +
	`"total_voter_count":1,"is_closed":false,"is_anonymous":true,"type":"regular","allows_multiple_answers":false}}`

// flood pushes the scenario's updates to api, round-robin across the
// senders (each sender's own updates stay in order), then the sentinel
// "/done" from a fresh user. It returns the callback queries' ids.
func flood(api *testutil.BotAPI) (callbackIDs []string) {
	var streams [][]any
	add := func(n int, f func(i int) any) {
		s := make([]any, n)
		for i := range s {
			s[i] = f(i)
		}
		streams = append(streams, s)
	}
	add(20, func(i int) any { return testutil.Message(spammer, spammer, "", fmt.Sprintf("spam %d", i)) })
	add(2, func(i int) any { return testutil.Message(normalA, normalA, "", fmt.Sprintf("a %d", i)) })
	add(2, func(i int) any { return testutil.Message(normalB, normalB, "", fmt.Sprintf("b %d", i)) })
	add(10, func(int) any {
		cb := testutil.CallbackQuery(clicker, clicker, "ping")
		callbackIDs = append(callbackIDs, cb["callback_query"].(map[string]any)["id"].(string))
		return cb
	})
	add(6, func(i int) any { return testutil.InlineQuery(inliner, fmt.Sprintf("q%d", i)) })
	add(5, func(i int) any { return testutil.AnonymousAdminMessage(anonGroup, fmt.Sprintf("anon %d", i)) })
	add(1, func(int) any { return testutil.ChannelPost(channel, "post") })
	add(1, func(int) any { return testutil.MessageWithoutFrom(noFromGroup, "ghost") })
	add(1, func(int) any { return pollUpdate })
	add(1, func(int) any { return testutil.UnknownUpdate("future_kind") })
	for i := 0; ; i++ {
		pushed := false
		for _, s := range streams {
			if i < len(s) {
				api.Push(s[i])
				pushed = true
			}
		}
		if !pushed {
			break
		}
	}
	api.Push(testutil.Message(sentinel, sentinel, "", "/done"))
	return callbackIDs
}

// sendMessages splits the recorded sendMessage calls into echo texts
// (sorted) and notices per chat id; anything else fails the test.
func sendMessages(t *testing.T, api *testutil.BotAPI) (echoes []string, notices map[string]int) {
	t.Helper()
	notices = map[string]int{}
	for _, c := range api.CallsTo("sendMessage") {
		switch text := c.Params["text"]; {
		case strings.HasPrefix(text, "echo: "):
			echoes = append(echoes, strings.TrimPrefix(text, "echo: "))
		case strings.HasPrefix(text, noticePrefix):
			notices[c.Params["chat_id"]]++
			if _, ok := c.Params["parse_mode"]; ok {
				t.Errorf("notice sent with parse_mode %q, want plain text", c.Params["parse_mode"])
			}
		default:
			t.Errorf("unexpected sendMessage %q", text)
		}
	}
	slices.Sort(echoes)
	return echoes, notices
}

// callbackAnswers checks that each callback was answered exactly once and
// returns the answers counted by text (every notice text as noticePrefix).
func callbackAnswers(t *testing.T, api *testutil.BotAPI, ids []string) map[string]int {
	t.Helper()
	answered := map[string]int{}
	byText := map[string]int{}
	for _, c := range api.CallsTo("answerCallbackQuery") {
		answered[c.Params["callback_query_id"]]++
		text := c.Params["text"]
		if strings.HasPrefix(text, noticePrefix) {
			text = noticePrefix
		}
		byText[text]++
	}
	for _, id := range ids {
		if n := answered[id]; n != 1 {
			t.Errorf("callback %s answered %d times, want 1", id, n)
		}
	}
	if len(answered) != len(ids) {
		t.Errorf("answered %d distinct callbacks, want %d", len(answered), len(ids))
	}
	return byText
}

// inlineAnswers counts answerInlineQuery calls with results (the
// handler's) and without (the adapter's), checking the adapter's shape.
func inlineAnswers(t *testing.T, api *testutil.BotAPI) (withResults, empty int) {
	t.Helper()
	for _, c := range api.CallsTo("answerInlineQuery") {
		if c.Params["results"] != "[]" {
			withResults++
			continue
		}
		empty++
		if c.Params["cache_time"] != "0" || c.Params["is_personal"] != "true" {
			t.Errorf("throttled inline answer %v: want cache_time 0 and is_personal true", c.Params)
		}
	}
	return withResults, empty
}

// TestEndToEnd runs the real telebot poller and dispatcher against the fake
// Bot API, with Middleware registered by b.Use, a memory store on a frozen
// clock and 3 updates per minute per key.
func TestEndToEnd(t *testing.T) {
	api := testutil.StartBotAPI(t)
	st := memorystore.New(memorystore.WithClock(testutil.NewClock().Now))
	defer st.Close()
	logs := &testutil.SyncBuffer{}
	g := newGuard(t, st, core.PerMinute(3), logs)

	b := newBot(t, api.URL(), &tele.LongPoller{Timeout: 10 * time.Second})
	b.Use(telebotlimit.Middleware(g)) // before Handle: Handle copies the middleware list
	rec := newRecorder()
	done := make(chan struct{})
	b.Handle("/done", func(c tele.Context) error { rec.record(c); close(done); return nil })
	b.Handle(tele.OnText, func(c tele.Context) error { rec.record(c); return c.Send("echo: " + c.Text()) })
	b.Handle(tele.OnCallback, func(c tele.Context) error {
		rec.record(c)
		return c.Respond(&tele.CallbackResponse{Text: handledAnswer})
	})
	b.Handle(tele.OnQuery, func(c tele.Context) error {
		rec.record(c)
		return c.Answer(&tele.QueryResponse{CacheTime: 60,
			Results: tele.Results{&tele.ArticleResult{Title: "result", Text: c.Query().Text}}})
	})
	b.Handle(tele.OnChannelPost, func(c tele.Context) error { rec.record(c); return nil })
	b.Handle(tele.OnPoll, func(c tele.Context) error { rec.record(c); return nil })

	callbacks := flood(api)
	stop := startPolling(t, api, b)
	select {
	case <-done: // the bot is synchronous: everything pushed before /done is handled
	case <-time.After(30 * time.Second):
		t.Fatal("the bot did not handle /done within 30 s")
	}
	settle(t, g) // every denial before /done was acted on: let those calls finish
	stop()

	wantSeen := map[string]int{
		key("u", spammer): 3, key("u", normalA): 2, key("u", normalB): 2,
		key("u", clicker): 3, key("u", inliner): 3,
		key("s", anonGroup): 3, // keyed by the group, not by GroupAnonymousBot
		key("s", channel):   1,
		"unkeyed":           2, // the message without from, the poll: guard.WithUnkeyed's default, pass
		key("u", sentinel):  1,
	}
	if got := rec.snapshot(); !maps.Equal(got, wantSeen) {
		t.Errorf("handler invocations %v\nwant %v", got, wantSeen)
	}

	echoes, notices := sendMessages(t, api)
	wantEchoes := []string{"a 0", "a 1", "anon 0", "anon 1", "anon 2", "b 0", "b 1", "ghost", "spam 0", "spam 1", "spam 2"}
	if !slices.Equal(echoes, wantEchoes) {
		t.Errorf("echoes %q\nwant %q", echoes, wantEchoes)
	}
	// One notice per throttled key that sends messages (cooldown 1 min, frozen clock).
	if want := map[string]int{strconv.FormatInt(spammer, 10): 1, strconv.FormatInt(anonGroup, 10): 1}; !maps.Equal(notices, want) {
		t.Errorf("notices by chat %v, want %v", notices, want)
	}

	// 3 callbacks answered by the handler, 7 by the adapter: the first of
	// those with the notice, the rest with no text.
	if got, want := callbackAnswers(t, api, callbacks), map[string]int{handledAnswer: 3, noticePrefix: 1, "": 6}; !maps.Equal(got, want) {
		t.Errorf("callback answers by text %v, want %v", got, want)
	}
	if withResults, empty := inlineAnswers(t, api); withResults != 3 || empty != 3 {
		t.Errorf("inline answers: %d by the handler, %d empty by the adapter; want 3 and 3", withResults, empty)
	}
	if strings.Contains(logs.String(), "could not act") {
		t.Errorf("an action failed:\n%s", logs)
	}
	t.Logf("handlers %v; echoes %d, notices %v", rec.snapshot(), len(echoes), notices)
}

// TestEndToEndPoller runs the same flood through Poller, with handlers for
// text only: the Poller still counts callbacks and inline queries nobody
// handles, and answers the throttled ones.
func TestEndToEndPoller(t *testing.T) {
	api := testutil.StartBotAPI(t)
	st := memorystore.New(memorystore.WithClock(testutil.NewClock().Now))
	defer st.Close()
	logs := &testutil.SyncBuffer{}
	g := newGuard(t, st, core.PerMinute(3), logs)

	b := newBot(t, api.URL(), telebotlimit.Poller(g, &tele.LongPoller{Timeout: 10 * time.Second}))
	rec := newRecorder()
	done := make(chan struct{})
	b.Handle("/done", func(c tele.Context) error { rec.record(c); close(done); return nil })
	b.Handle(tele.OnText, func(c tele.Context) error { rec.record(c); return c.Send("echo: " + c.Text()) })

	callbacks := flood(api)
	stop := startPolling(t, api, b)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the bot did not handle /done within 30 s")
	}
	settle(t, g) // every denial before /done was acted on: let those calls finish
	stop()

	wantSeen := map[string]int{key("u", spammer): 3, key("u", normalA): 2, key("u", normalB): 2,
		key("s", anonGroup): 3, "unkeyed": 1, key("u", sentinel): 1}
	if got := rec.snapshot(); !maps.Equal(got, wantSeen) {
		t.Errorf("handler invocations %v\nwant %v", got, wantSeen)
	}
	echoes, notices := sendMessages(t, api)
	if len(echoes) != 11 {
		t.Errorf("echoes %q, want 11", echoes)
	}
	if want := map[string]int{strconv.FormatInt(spammer, 10): 1, strconv.FormatInt(anonGroup, 10): 1}; !maps.Equal(notices, want) {
		t.Errorf("notices by chat %v, want %v", notices, want)
	}
	// Only the 7 throttled callbacks are answered (nobody handles the 3 others).
	answers := 0
	for _, c := range api.CallsTo("answerCallbackQuery") {
		if !slices.Contains(callbacks[3:], c.Params["callback_query_id"]) {
			t.Errorf("answered callback %s, which was within the limit", c.Params["callback_query_id"])
		}
		answers++
	}
	if answers != 7 {
		t.Errorf("%d callbacks answered, want 7", answers)
	}
	if withResults, empty := inlineAnswers(t, api); withResults != 0 || empty != 3 {
		t.Errorf("inline answers: %d with results, %d empty; want 0 and 3", withResults, empty)
	}
	if strings.Contains(logs.String(), "could not act") {
		t.Errorf("an action failed:\n%s", logs)
	}
}

// process hands updates to b one after another, as its poller would.
func process(t *testing.T, b *tele.Bot, updates ...any) {
	t.Helper()
	for _, u := range updates {
		b.ProcessUpdate(decode(t, u))
	}
}

// TestStoreErrors: a store that always fails, wrapped by core.Resilient as
// store.Open wraps Redis, never crashes the bot; the updates follow the
// failure policy (FailOpen passes them, FailClosed drops them), and a
// dropped one is still answered.
func TestStoreErrors(t *testing.T) {
	for _, tc := range []struct {
		policy core.FailurePolicy
		pass   bool
	}{{core.FailOpen, true}, {core.FailClosed, false}} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			api := testutil.StartBotAPI(t)
			st, err := core.Resilient(testutil.FailingStore{}, core.Resilience{Policy: tc.policy, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			g := newGuard(t, st, core.PerMinute(1), nil)
			b := newBot(t, api.URL(), nil)
			b.Use(telebotlimit.Middleware(g))
			rec := newRecorder()
			b.Handle(tele.OnText, func(c tele.Context) error { rec.record(c); return nil })
			b.Handle(tele.OnCallback, func(c tele.Context) error { rec.record(c); return c.Respond() })
			b.Handle(tele.OnQuery, func(c tele.Context) error { rec.record(c); return nil })
			b.Handle(tele.OnChannelPost, func(c tele.Context) error { rec.record(c); return nil })

			cb := testutil.CallbackQuery(2, 2, "x")
			inlineCB := testutil.CallbackQuery(2, 2, "y")
			delete(inlineCB["callback_query"].(map[string]any), "message") // under an inline message
			process(t, b,
				testutil.Message(1, 1, "", "a"), testutil.Message(1, 1, "", "b"), cb, inlineCB,
				testutil.InlineQuery(3, "q"), testutil.ChannelPost(channel, "p"),
				testutil.AnonymousAdminMessage(anonGroup, "anon"), testutil.MessageWithoutFrom(noFromGroup, "ghost"))
			settle(t, g)

			want := map[string]int{}
			if tc.pass {
				want = map[string]int{"u:1": 2, "u:2": 2, "u:3": 1, key("s", channel): 1, key("s", anonGroup): 1, "unkeyed": 1}
			} else {
				want = map[string]int{"unkeyed": 1} // unkeyed: never reaches the store
			}
			if got := rec.snapshot(); !maps.Equal(got, want) {
				t.Errorf("handler invocations %v, want %v", got, want)
			}
			// Both callbacks are answered once, by the handler or the adapter.
			if n := len(api.CallsTo("answerCallbackQuery")); n != 2 {
				t.Errorf("%d answerCallbackQuery calls, want 2", n)
			}
			wantEmpty := 0
			if !tc.pass {
				wantEmpty = 1
			}
			if _, empty := inlineAnswers(t, api); empty != wantEmpty {
				t.Errorf("%d empty inline answers, want %d", empty, wantEmpty)
			}
			if n := len(api.CallsTo("sendMessage")); n != 0 {
				t.Errorf("%d sendMessage calls, want none (no notice after a store error)", n)
			}
		})
	}
}

// TestMiddlewareScopes: the middleware works for the whole bot, for a
// group, and for one endpoint with its own, tighter Guard.
func TestMiddlewareScopes(t *testing.T) {
	api := testutil.StartBotAPI(t)
	st := memorystore.New(memorystore.WithClock(testutil.NewClock().Now))
	defer st.Close()
	g := newGuard(t, st, core.PerMinute(3), nil, guard.WithNotice(0, nil))
	lim, err := g.Limiter().Rule("report", core.Every(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	report, err := guard.New(lim, guard.WithNotice(0, nil))
	if err != nil {
		t.Fatal(err)
	}

	b := newBot(t, api.URL(), nil)
	rec := newRecorder()
	count := func(name string) tele.HandlerFunc {
		return func(tele.Context) error {
			rec.mu.Lock()
			rec.seen[name]++
			rec.mu.Unlock()
			return nil
		}
	}
	b.Handle("/free", count("free"))                                      // no middleware at all
	b.Handle("/report", count("report"), telebotlimit.Middleware(report)) // one endpoint, 1 per hour
	grp := b.Group()
	grp.Use(telebotlimit.Middleware(g))
	grp.Handle(tele.OnText, count("text")) // 3 per minute, shared with nothing else

	for i := 0; i < 5; i++ {
		process(t, b, testutil.Message(7, 7, "", "/free"), testutil.Message(7, 7, "", "/report"),
			testutil.Message(7, 7, "", "hi"))
	}
	if want := map[string]int{"free": 5, "report": 1, "text": 3}; !maps.Equal(rec.snapshot(), want) {
		t.Errorf("handler invocations %v, want %v", rec.snapshot(), want)
	}
}

func TestMiddlewareNilGuardPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"Middleware":  func() { telebotlimit.Middleware(nil) },
		"Poller":      func() { telebotlimit.Poller(nil, &tele.LongPoller{}) },
		"Poller(nil)": func() { telebotlimit.Poller(newGuard(t, testutil.AllowStore{}, core.PerSecond(1), nil), nil) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "telebotlimit:") {
					t.Errorf("recovered %v, want a telebotlimit panic", r)
				}
			}()
			f()
		})
	}
}

// TestNoBot: a nil context is passed on; a context without a bot is still
// decided, and the actions it could not take are logged.
func TestNoBot(t *testing.T) {
	st := memorystore.New()
	defer st.Close()
	logs := &testutil.SyncBuffer{}
	g := newGuard(t, st, core.Every(time.Hour), logs)
	calls := 0
	h := telebotlimit.Middleware(g)(func(tele.Context) error { calls++; return nil })
	if err := h(nil); err != nil || calls != 1 {
		t.Fatalf("nil context: err %v, handler calls %d; want nil, 1", err, calls)
	}
	var nobot *tele.Bot
	for _, u := range []any{testutil.Message(5, 5, "", "a"), testutil.Message(5, 5, "", "b"),
		testutil.CallbackQuery(5, 5, "c"), testutil.InlineQuery(5, "q")} {
		if err := h(nobot.NewContext(decode(t, u))); err != nil {
			t.Errorf("handler error %v", err)
		}
	}
	settle(t, g)
	if calls != 2 {
		t.Errorf("handler calls %d, want 2", calls)
	}
	for _, action := range []string{"sendMessage", "answerCallbackQuery", "answerInlineQuery"} {
		if !strings.Contains(logs.String(), "action="+action) {
			t.Errorf("no log for %s:\n%s", action, logs)
		}
	}
}

// TestActionErrorsRedacted: failed Bot API calls are logged, token removed,
// and the bot goes on.
func TestActionErrorsRedacted(t *testing.T) {
	api := testutil.StartBotAPI(t)
	url := api.URL()
	api.Close() // every call now fails with an error naming the URL, token included
	st := memorystore.New()
	defer st.Close()
	logs := &testutil.SyncBuffer{}
	g := newGuard(t, st, core.Every(time.Hour), logs)
	b := newBot(t, url, nil)
	b.Use(telebotlimit.Middleware(g))
	b.Handle(tele.OnText, func(tele.Context) error { return nil })
	b.Handle(tele.OnCallback, func(tele.Context) error { return nil })
	process(t, b, testutil.Message(5, 5, "", "a"), testutil.Message(5, 5, "", "b"),
		testutil.CallbackQuery(6, 6, "c"), testutil.CallbackQuery(6, 6, "c"))
	settle(t, g)
	out := logs.String()
	if strings.Contains(out, testToken) || strings.Contains(out, strings.Split(testToken, ":")[1]) {
		t.Errorf("log holds the token:\n%s", out)
	}
	for _, action := range []string{"sendMessage", "answerCallbackQuery"} {
		if !strings.Contains(out, "action="+action) {
			t.Errorf("no log for %s:\n%s", action, out)
		}
	}
}

func TestUpdateOf(t *testing.T) {
	inlineCB := testutil.CallbackQuery(11, 11, "x")
	delete(inlineCB["callback_query"].(map[string]any), "message")
	user := map[string]any{"id": 11, "is_bot": false, "first_name": "A"}
	group := map[string]any{"id": -100, "type": "group", "title": "G"}
	member := map[string]any{"chat": group, "from": user, "date": 1,
		"old_chat_member": map[string]any{"status": "left", "user": user},
		"new_chat_member": map[string]any{"status": "member", "user": user}}
	for _, tc := range []struct {
		name   string
		update any
		want   guard.Update
	}{
		{"message", testutil.Message(11, -100, "group", "/Report@bot now"),
			guard.Update{Kind: guard.KindMessage, UserID: 11, ChatID: -100, ChatType: "group", Command: "/report", LanguageCode: "en"}},
		{"edited", map[string]any{"edited_message": testutil.Message(11, 11, "", "x")["message"]},
			guard.Update{Kind: guard.KindEditedMessage, UserID: 11, ChatID: 11, ChatType: "private", LanguageCode: "en"}},
		{"channel post", testutil.ChannelPost(channel, "p"),
			guard.Update{Kind: guard.KindChannelPost, ChatID: channel, ChatType: "channel", SenderChatID: channel}},
		{"edited channel post", map[string]any{"edited_channel_post": testutil.ChannelPost(channel, "p")["channel_post"]},
			guard.Update{Kind: guard.KindEditedChannelPost, ChatID: channel, ChatType: "channel", SenderChatID: channel}},
		{"anonymous admin", testutil.AnonymousAdminMessage(anonGroup, "a"),
			guard.Update{Kind: guard.KindMessage, UserID: testutil.GroupAnonymousBotID, ChatID: anonGroup,
				ChatType: "supergroup", SenderChatID: anonGroup}},
		{"no from", testutil.MessageWithoutFrom(noFromGroup, "g"),
			guard.Update{Kind: guard.KindMessage, ChatID: noFromGroup, ChatType: "supergroup"}},
		{"callback", testutil.CallbackQuery(11, -100, "x"),
			guard.Update{Kind: guard.KindCallbackQuery, UserID: 11, ChatID: -100, ChatType: "group", LanguageCode: "en"}},
		{"callback on inline message", inlineCB, guard.Update{Kind: guard.KindCallbackQuery, UserID: 11, LanguageCode: "en"}},
		{"inline query", testutil.InlineQuery(11, "q"), guard.Update{Kind: guard.KindInlineQuery, UserID: 11, LanguageCode: "en"}},
		{"chosen inline result", map[string]any{"chosen_inline_result": map[string]any{"result_id": "r", "from": user, "query": "q"}},
			guard.Update{Kind: guard.KindChosenInlineResult, UserID: 11}},
		{"shipping query", map[string]any{"shipping_query": map[string]any{"id": "s", "from": user}},
			guard.Update{Kind: guard.KindShippingQuery, UserID: 11}},
		{"pre-checkout query", map[string]any{"pre_checkout_query": map[string]any{"id": "s", "from": user}},
			guard.Update{Kind: guard.KindPreCheckoutQuery, UserID: 11}},
		{"poll", pollUpdate, guard.Update{Kind: guard.KindPoll}},
		{"poll answer", map[string]any{"poll_answer": map[string]any{"poll_id": "p", "user": user, "option_ids": []int{0}}},
			guard.Update{Kind: guard.KindPollAnswer, UserID: 11}},
		{"anonymous poll answer", map[string]any{"poll_answer": map[string]any{"poll_id": "p", "voter_chat": group}},
			guard.Update{Kind: guard.KindPollAnswer, SenderChatID: -100}},
		{"my chat member", map[string]any{"my_chat_member": member},
			guard.Update{Kind: guard.KindMyChatMember, UserID: 11, ChatID: -100, ChatType: "group"}},
		{"chat member", map[string]any{"chat_member": member},
			guard.Update{Kind: guard.KindChatMember, UserID: 11, ChatID: -100, ChatType: "group"}},
		{"join request", map[string]any{"chat_join_request": map[string]any{"chat": group, "from": user, "user_chat_id": 11, "date": 1}},
			guard.Update{Kind: guard.KindChatJoinRequest, UserID: 11, ChatID: -100, ChatType: "group"}},
		{"reaction", map[string]any{"message_reaction": map[string]any{"chat": group, "message_id": 1, "user": user}},
			guard.Update{Kind: guard.KindMessageReaction, UserID: 11, ChatID: -100, ChatType: "group"}},
		{"anonymous reaction", map[string]any{"message_reaction": map[string]any{"chat": group, "message_id": 1, "actor_chat": group}},
			guard.Update{Kind: guard.KindMessageReaction, ChatID: -100, ChatType: "group", SenderChatID: -100}},
		{"boost (no core kind)", map[string]any{"chat_boost": map[string]any{"chat": group}}, guard.Update{}},
		{"unknown", testutil.UnknownUpdate("future_kind"), guard.Update{}},
		{"empty", map[string]any{}, guard.Update{}},
		{"nulls", `{"message":null,"callback_query":{"id":"1","from":null,"message":null}}`,
			guard.Update{Kind: guard.KindCallbackQuery}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := decode(t, tc.update)
			got := telebotlimit.UpdateOf(&u)
			got.Payload = "" // payload_test.go checks it
			if got != tc.want {
				t.Errorf("UpdateOf = %+v\nwant       %+v", got, tc.want)
			}
		})
	}
	if got := telebotlimit.UpdateOf(nil); got != (guard.Update{}) {
		t.Errorf("UpdateOf(nil) = %+v, want the zero Update", got)
	}
}
