package tgbotapilimit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/adapters/tgbotapilimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Chats and users of the end-to-end test.
const (
	spammer       int64 = 1001
	normalA       int64 = 2001
	normalB       int64 = 2002
	clicker       int64 = 3001 // callback spammer
	inliner       int64 = 4001 // inline-query spammer
	anonGroup     int64 = -1001000000050
	channel       int64 = -1001000000060
	noFromGroup   int64 = -1001000000070
	sentinelUser  int64 = 9000
	sentinelText        = "/done"
	noticePrefix        = "Too many requests"
	handledAnswer       = "handled"
)

// recorder is the bot's handler in the tests: it records every update that
// reached it, replies to messages with "echo: TEXT", answers callbacks with
// "handled" and inline queries with one result, and closes done when the
// sentinel message arrives (updates are checked in order, so everything
// pushed before it has been decided and acted on by then).
type recorder struct {
	bot    *tgbotapi.BotAPI
	seen   map[string]int // by sender: "u:ID", "s:ID" (sender chat), "nofrom", "other"
	texts  []string
	done   chan struct{}
	errors []error
}

func newRecorder(bot *tgbotapi.BotAPI) *recorder {
	return &recorder{bot: bot, seen: map[string]int{}, done: make(chan struct{})}
}

func (r *recorder) run(out <-chan tgbotapi.Update) {
	for u := range out {
		r.handle(u)
	}
}

func (r *recorder) handle(u tgbotapi.Update) {
	var err error
	switch {
	case u.Message != nil:
		m := u.Message
		if m.Text == sentinelText {
			close(r.done)
			return
		}
		switch {
		case m.SenderChat != nil:
			r.seen[fmt.Sprintf("s:%d", m.SenderChat.ID)]++
		case m.From != nil:
			r.seen[fmt.Sprintf("u:%d", m.From.ID)]++
		default:
			r.seen["nofrom"]++
		}
		r.texts = append(r.texts, m.Text)
		_, err = r.bot.Request(tgbotapi.NewMessage(m.Chat.ID, "echo: "+m.Text))
	case u.ChannelPost != nil:
		r.seen[fmt.Sprintf("s:%d", u.ChannelPost.SenderChat.ID)]++
	case u.CallbackQuery != nil:
		r.seen[fmt.Sprintf("u:%d", u.CallbackQuery.From.ID)]++
		_, err = r.bot.Request(tgbotapi.NewCallback(u.CallbackQuery.ID, handledAnswer))
	case u.InlineQuery != nil:
		r.seen[fmt.Sprintf("u:%d", u.InlineQuery.From.ID)]++
		_, err = r.bot.Request(tgbotapi.InlineConfig{InlineQueryID: u.InlineQuery.ID,
			Results: []any{tgbotapi.NewInlineQueryResultArticle("1", "hit", "hit")}})
	default:
		r.seen["other"]++
	}
	if err != nil {
		r.errors = append(r.errors, err)
	}
}

// wait blocks until the sentinel arrived.
func (r *recorder) wait(t *testing.T) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("the sentinel update never reached the handler; seen so far: %v", r.seen)
	}
}

// interleave pushes the queues round-robin, one update from each in turn.
func interleave(api *testutil.BotAPI, queues ...[]map[string]any) {
	for i := 0; ; i++ {
		pushed := false
		for _, q := range queues {
			if i < len(q) {
				api.Push(q[i])
				pushed = true
			}
		}
		if !pushed {
			return
		}
	}
}

func repeat(n int, f func(i int) map[string]any) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

func callbackID(u map[string]any) string { return u["callback_query"].(map[string]any)["id"].(string) }

// TestEndToEnd drives the real tgbotapi poller against the fake Bot API
// with a memory store and 3 updates per minute per key.
func TestEndToEnd(t *testing.T) {
	api := testutil.StartBotAPI(t)
	st := memorystore.New()
	defer st.Close()
	logs := &testutil.SyncBuffer{}
	g := newGuard(t, st, core.PerMinute(3), logs)

	callbacks := repeat(10, func(int) map[string]any { return testutil.CallbackQuery(clicker, clicker, "cb") })
	interleave(api,
		repeat(20, func(i int) map[string]any { return testutil.Message(spammer, spammer, "", fmt.Sprintf("spam %d", i)) }),
		repeat(2, func(i int) map[string]any { return testutil.Message(normalA, normalA, "", fmt.Sprintf("a %d", i)) }),
		repeat(2, func(i int) map[string]any { return testutil.Message(normalB, normalB, "", fmt.Sprintf("b %d", i)) }),
		callbacks,
		repeat(6, func(i int) map[string]any { return testutil.InlineQuery(inliner, fmt.Sprintf("q%d", i)) }),
		repeat(5, func(i int) map[string]any {
			return testutil.AnonymousAdminMessage(anonGroup, fmt.Sprintf("anon %d", i))
		}),
		[]map[string]any{testutil.ChannelPost(channel, "post")},
		[]map[string]any{testutil.MessageWithoutFrom(noFromGroup, "ghost")},
		[]map[string]any{testutil.UnknownUpdate("future_kind")},
	)
	api.Push(testutil.Message(sentinelUser, sentinelUser, "", sentinelText))

	p := startPolling(t, api, g)
	rec := newRecorder(p.bot)
	handled := make(chan struct{})
	go func() { defer close(handled); rec.run(p.out) }()
	rec.wait(t)
	settle(t, g) // every denial before the sentinel was acted on: let those calls finish
	p.stop()
	<-handled

	// Handler invocations per key: the limit (3) or everything below it.
	wantSeen := map[string]int{
		fmt.Sprintf("u:%d", spammer): 3, fmt.Sprintf("u:%d", normalA): 2, fmt.Sprintf("u:%d", normalB): 2,
		fmt.Sprintf("u:%d", clicker): 3, fmt.Sprintf("u:%d", inliner): 3,
		fmt.Sprintf("s:%d", anonGroup): 3, // keyed by the group, not GroupAnonymousBot
		fmt.Sprintf("s:%d", channel):   1,
		"nofrom":                       1, // unkeyed: passes (guard.WithUnkeyed default)
		"other":                        1, // unknown kind: unkeyed, passes
	}
	if !maps.Equal(rec.seen, wantSeen) {
		t.Errorf("handler saw %v\nwant %v", rec.seen, wantSeen)
	}
	if len(rec.errors) > 0 {
		t.Errorf("handler replies failed: %v", rec.errors)
	}

	// Replies only to passed messages, in order: the first three of each flood.
	var echoes []string
	notices := map[string]int{}
	for _, c := range api.CallsTo("sendMessage") {
		switch text := c.Params["text"]; {
		case strings.HasPrefix(text, "echo: "):
			echoes = append(echoes, strings.TrimPrefix(text, "echo: "))
		case strings.HasPrefix(text, noticePrefix):
			notices[c.Params["chat_id"]]++
		default:
			t.Errorf("unexpected sendMessage %q", text)
		}
	}
	slices.Sort(echoes)
	wantEchoes := []string{"a 0", "a 1", "anon 0", "anon 1", "anon 2", "b 0", "b 1", "ghost", "spam 0", "spam 1", "spam 2"}
	if !slices.Equal(echoes, wantEchoes) {
		t.Errorf("echoes %q\nwant %q", echoes, wantEchoes)
	}
	// Exactly one notice per throttled key that sends messages (default cooldown 1 min).
	wantNotices := map[string]int{fmt.Sprint(spammer): 1, fmt.Sprint(anonGroup): 1}
	if !maps.Equal(notices, wantNotices) {
		t.Errorf("notices by chat %v, want %v", notices, wantNotices)
	}

	// Every callback answered exactly once: 3 by the handler, 7 by the
	// adapter (the first of them with the notice, the rest with "").
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
	for _, cb := range callbacks {
		if n := answered[callbackID(cb)]; n != 1 {
			t.Errorf("callback %s answered %d times, want 1", callbackID(cb), n)
		}
	}
	if len(answered) != len(callbacks) {
		t.Errorf("answered %d distinct callbacks, want %d", len(answered), len(callbacks))
	}
	if want := map[string]int{handledAnswer: 3, noticePrefix: 1, "": 6}; !maps.Equal(byText, want) {
		t.Errorf("callback answers by text %v, want %v", byText, want)
	}

	// Inline queries: 3 answered by the handler, 3 by the adapter with no results.
	var handlerInline, emptyInline int
	for _, c := range api.CallsTo("answerInlineQuery") {
		if c.Params["results"] == "[]" {
			emptyInline++
			if c.Params["cache_time"] != "0" || c.Params["is_personal"] != "true" {
				t.Errorf("throttled inline answer %v: want cache_time 0 and is_personal true", c.Params)
			}
			continue
		}
		handlerInline++
	}
	if handlerInline != 3 || emptyInline != 3 {
		t.Errorf("inline answers: %d by the handler, %d empty; want 3 and 3", handlerInline, emptyInline)
	}
	if strings.Contains(logs.String(), "could not act") {
		t.Errorf("an action failed:\n%s", logs)
	}
}

// TestStoreErrors: a store that always fails, wrapped by core.Resilient as
// store.Open wraps Redis, never crashes the bot; the updates follow the
// failure policy (FailOpen passes them, FailClosed drops them).
func TestStoreErrors(t *testing.T) {
	for _, tc := range []struct {
		policy core.FailurePolicy
		seen   map[string]int
	}{
		{core.FailOpen, map[string]int{"u:1": 3, "u:2": 2, "u:3": 1, "s:-1001000000060": 1}},
		{core.FailClosed, map[string]int{}},
	} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			api := testutil.StartBotAPI(t)
			st, err := core.Resilient(testutil.FailingStore{}, core.Resilience{Policy: tc.policy, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			g := newGuard(t, st, core.PerMinute(3), nil, guard.WithBypass(sentinelUser))
			for i := range 3 {
				api.Push(testutil.Message(1, 1, "", fmt.Sprintf("m %d", i)))
			}
			api.Push(testutil.CallbackQuery(2, 2, "x"))
			api.Push(testutil.CallbackQuery(2, 2, "x"))
			api.Push(testutil.InlineQuery(3, "q"))
			api.Push(testutil.ChannelPost(channel, "post"))
			api.Push(testutil.Message(sentinelUser, sentinelUser, "", sentinelText))

			p := startPolling(t, api, g)
			rec := newRecorder(p.bot)
			handled := make(chan struct{})
			go func() { defer close(handled); rec.run(p.out) }()
			rec.wait(t)
			settle(t, g)
			p.stop()
			<-handled

			if !maps.Equal(rec.seen, tc.seen) {
				t.Errorf("handler saw %v, want %v", rec.seen, tc.seen)
			}
			var adapterAnswers, emptyInline int
			for _, c := range api.CallsTo("answerCallbackQuery") {
				if c.Params["text"] != handledAnswer {
					adapterAnswers++
				}
			}
			for _, c := range api.CallsTo("answerInlineQuery") {
				if c.Params["results"] == "[]" {
					emptyInline++
				}
			}
			notices := 0
			for _, c := range api.CallsTo("sendMessage") {
				if strings.HasPrefix(c.Params["text"], noticePrefix) {
					notices++
				}
			}
			wantAnswers, wantEmpty := 0, 0
			if tc.policy == core.FailClosed { // dropped updates still get their answers
				wantAnswers, wantEmpty = 2, 1
			}
			if adapterAnswers != wantAnswers || emptyInline != wantEmpty || notices != 0 {
				t.Errorf("adapter answered %d callbacks, %d inline queries, sent %d notices; want %d, %d, 0",
					adapterAnswers, emptyInline, notices, wantAnswers, wantEmpty)
			}
		})
	}
}

func TestUpdateOf(t *testing.T) {
	group := &tgbotapi.Chat{ID: -100123, Type: "supergroup"}
	user := &tgbotapi.User{ID: 42}
	for _, tc := range []struct {
		name string
		in   tgbotapi.Update
		want guard.Update
	}{
		{"empty", tgbotapi.Update{}, guard.Update{}},
		{"message", tgbotapi.Update{Message: &tgbotapi.Message{From: user, Chat: group, Text: "/Report@bot now"}},
			guard.Update{Kind: guard.KindMessage, UserID: 42, ChatID: -100123, ChatType: "supergroup", Command: "/report"}},
		{"message without chat or from", tgbotapi.Update{Message: &tgbotapi.Message{Text: "hi"}},
			guard.Update{Kind: guard.KindMessage}},
		{"anonymous admin", tgbotapi.Update{Message: &tgbotapi.Message{From: &tgbotapi.User{ID: testutil.GroupAnonymousBotID},
			SenderChat: group, Chat: group}},
			guard.Update{Kind: guard.KindMessage, UserID: testutil.GroupAnonymousBotID, ChatID: -100123, ChatType: "supergroup", SenderChatID: -100123}},
		{"edited", tgbotapi.Update{EditedMessage: &tgbotapi.Message{From: user, Chat: group}},
			guard.Update{Kind: guard.KindEditedMessage, UserID: 42, ChatID: -100123, ChatType: "supergroup"}},
		{"channel post", tgbotapi.Update{ChannelPost: &tgbotapi.Message{SenderChat: &tgbotapi.Chat{ID: -1009}, Chat: &tgbotapi.Chat{ID: -1009, Type: "channel"}}},
			guard.Update{Kind: guard.KindChannelPost, ChatID: -1009, ChatType: "channel", SenderChatID: -1009}},
		{"edited channel post", tgbotapi.Update{EditedChannelPost: &tgbotapi.Message{}}, guard.Update{Kind: guard.KindEditedChannelPost}},
		{"callback", tgbotapi.Update{CallbackQuery: &tgbotapi.CallbackQuery{From: user, Message: &tgbotapi.Message{Chat: group}}},
			guard.Update{Kind: guard.KindCallbackQuery, UserID: 42, ChatID: -100123, ChatType: "supergroup"}},
		{"callback on inline message", tgbotapi.Update{CallbackQuery: &tgbotapi.CallbackQuery{From: user, InlineMessageID: "x"}},
			guard.Update{Kind: guard.KindCallbackQuery, UserID: 42}},
		{"callback without anything", tgbotapi.Update{CallbackQuery: &tgbotapi.CallbackQuery{Message: &tgbotapi.Message{}}},
			guard.Update{Kind: guard.KindCallbackQuery}},
		{"inline query", tgbotapi.Update{InlineQuery: &tgbotapi.InlineQuery{From: user, ChatType: "private"}},
			guard.Update{Kind: guard.KindInlineQuery, UserID: 42}},
		{"chosen inline result", tgbotapi.Update{ChosenInlineResult: &tgbotapi.ChosenInlineResult{From: user}},
			guard.Update{Kind: guard.KindChosenInlineResult, UserID: 42}},
		{"shipping", tgbotapi.Update{ShippingQuery: &tgbotapi.ShippingQuery{}}, guard.Update{Kind: guard.KindShippingQuery}},
		{"pre-checkout", tgbotapi.Update{PreCheckoutQuery: &tgbotapi.PreCheckoutQuery{From: user}},
			guard.Update{Kind: guard.KindPreCheckoutQuery, UserID: 42}},
		{"poll", tgbotapi.Update{Poll: &tgbotapi.Poll{ID: "p"}}, guard.Update{Kind: guard.KindPoll}},
		{"poll answer", tgbotapi.Update{PollAnswer: &tgbotapi.PollAnswer{User: *user}},
			guard.Update{Kind: guard.KindPollAnswer, UserID: 42}},
		{"my chat member", tgbotapi.Update{MyChatMember: &tgbotapi.ChatMemberUpdated{From: *user, Chat: *group}},
			guard.Update{Kind: guard.KindMyChatMember, UserID: 42, ChatID: -100123, ChatType: "supergroup"}},
		{"chat member", tgbotapi.Update{ChatMember: &tgbotapi.ChatMemberUpdated{From: *user, Chat: *group}},
			guard.Update{Kind: guard.KindChatMember, UserID: 42, ChatID: -100123, ChatType: "supergroup"}},
		{"join request", tgbotapi.Update{ChatJoinRequest: &tgbotapi.ChatJoinRequest{From: *user, Chat: *group}},
			guard.Update{Kind: guard.KindChatJoinRequest, UserID: 42, ChatID: -100123, ChatType: "supergroup"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tgbotapilimit.UpdateOf(tc.in)
			got.Payload = "" // payload_test.go checks it
			if got != tc.want {
				t.Errorf("UpdateOf = %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestUpdateOfBuilders checks UpdateOf on the JSON the fake server sends.
func TestUpdateOfBuilders(t *testing.T) {
	for _, tc := range []struct {
		in   map[string]any
		want guard.Update
	}{
		{testutil.Message(7, -1001000000001, "", "/Start@floodgate_test_bot x"),
			guard.Update{Kind: guard.KindMessage, UserID: 7, ChatID: -1001000000001, ChatType: "supergroup", Command: "/start", LanguageCode: "en"}},
		{testutil.AnonymousAdminMessage(-1001000000002, "hi"),
			guard.Update{Kind: guard.KindMessage, UserID: testutil.GroupAnonymousBotID, ChatID: -1001000000002, ChatType: "supergroup", SenderChatID: -1001000000002}},
		{testutil.ChannelPost(-1001000000003, "p"),
			guard.Update{Kind: guard.KindChannelPost, ChatID: -1001000000003, ChatType: "channel", SenderChatID: -1001000000003}},
		{testutil.MessageWithoutFrom(-5, "x"), guard.Update{Kind: guard.KindMessage, ChatID: -5, ChatType: "group"}},
		{testutil.CallbackQuery(7, 7, "d"), guard.Update{Kind: guard.KindCallbackQuery, UserID: 7, ChatID: 7, ChatType: "private", LanguageCode: "en"}},
		{testutil.InlineQuery(7, "q"), guard.Update{Kind: guard.KindInlineQuery, UserID: 7, LanguageCode: "en"}},
		{testutil.UnknownUpdate("future_kind"), guard.Update{}},
	} {
		raw, _ := json.Marshal(tc.in)
		var u tgbotapi.Update
		if err := json.Unmarshal(raw, &u); err != nil {
			t.Fatal(err)
		}
		got := tgbotapilimit.UpdateOf(u)
		got.Payload = "" // payload_test.go checks it
		if got != tc.want {
			t.Errorf("UpdateOf(%s) = %+v\nwant %+v", raw, got, tc.want)
		}
	}
}

func TestFilterPanicsOnNil(t *testing.T) {
	api := testutil.StartBotAPI(t)
	bot := newBot(t, context.Background(), api)
	g := newGuard(t, testutil.AllowStore{}, core.PerMinute(3), nil)
	for _, tc := range []struct {
		name string
		bot  *tgbotapi.BotAPI
		g    *guard.Guard
	}{{"bot", nil, g}, {"guard", bot, nil}} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "tgbotapilimit: Filter needs a non-nil") {
					t.Errorf("recover() = %v, want the nil-argument panic", r)
				}
			}()
			tgbotapilimit.Filter(context.Background(), tc.bot, tc.g, make(chan tgbotapi.Update))
		})
	}
}

// TestFilterCloses: the output closes when the input closes, and when ctx
// is done even if the input stays open.
func TestFilterCloses(t *testing.T) {
	api := testutil.StartBotAPI(t)
	bot := newBot(t, context.Background(), api)
	g := newGuard(t, testutil.AllowStore{}, core.PerMinute(3), nil)

	in := make(chan tgbotapi.Update, 2)
	in <- tgbotapi.Update{UpdateID: 1}
	in <- tgbotapi.Update{UpdateID: 2}
	close(in)
	var ids []int
	for u := range tgbotapilimit.Filter(context.Background(), bot, g, in) {
		ids = append(ids, u.UpdateID)
	}
	if !slices.Equal(ids, []int{1, 2}) {
		t.Errorf("got %v, want [1 2] in order", ids)
	}

	ctx, cancel := context.WithCancel(context.Background())
	out := tgbotapilimit.Filter(ctx, bot, g, make(chan tgbotapi.Update)) // never written, never closed
	cancel()
	select {
	case _, ok := <-out:
		if ok {
			t.Fatal("an update from an empty input")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Filter did not close its channel after ctx was done")
	}
}

func TestCheckNilGuard(t *testing.T) {
	api := testutil.StartBotAPI(t)
	bot := newBot(t, context.Background(), api)
	for range 3 {
		if !tgbotapilimit.Check(context.Background(), bot, nil, tgbotapi.Update{CallbackQuery: &tgbotapi.CallbackQuery{ID: "1"}}) {
			t.Fatal("a nil Guard dropped an update; want it to pass")
		}
	}
	if n := len(api.CallsTo("answerCallbackQuery")); n != 0 {
		t.Errorf("%d answerCallbackQuery calls, want 0", n)
	}
}

func TestCheckNilBot(t *testing.T) {
	logs := &testutil.SyncBuffer{}
	g := newGuard(t, memorystore.New(memorystore.WithCleanupInterval(0)), core.Every(time.Hour), logs)
	cb := tgbotapi.Update{CallbackQuery: &tgbotapi.CallbackQuery{ID: "7", From: &tgbotapi.User{ID: 5}}}
	if !tgbotapilimit.Check(context.Background(), nil, g, cb) {
		t.Fatal("first callback dropped")
	}
	if tgbotapilimit.Check(context.Background(), nil, g, cb) {
		t.Fatal("second callback passed a 1/h limit")
	}
	settle(t, g)
	if s := logs.String(); !strings.Contains(s, "action=answerCallbackQuery") || !strings.Contains(s, "bot is nil") {
		t.Errorf("log does not report the missing bot:\n%s", s)
	}
}

// TestActionErrorsRedacted: failed actions are logged, without the token,
// and never stop the bot.
func TestActionErrorsRedacted(t *testing.T) {
	api := testutil.StartBotAPI(t)
	bot := newBot(t, context.Background(), api)
	logs := &testutil.SyncBuffer{}
	g := newGuard(t, memorystore.New(memorystore.WithCleanupInterval(0)), core.Every(time.Hour), logs)
	msg := func() tgbotapi.Update {
		return tgbotapi.Update{Message: &tgbotapi.Message{From: &tgbotapi.User{ID: 5}, Chat: &tgbotapi.Chat{ID: 5, Type: "private"}, Text: "x"}}
	}
	ctx := context.Background()
	tgbotapilimit.Check(ctx, bot, g, msg()) // uses the budget

	// A Telegram error (429) on the notice.
	api.FailNext("sendMessage", 1, 3)
	if tgbotapilimit.Check(ctx, bot, g, msg()) {
		t.Fatal("throttled message passed")
	}
	settle(t, g) // the notice goes out off the update path, through bot as it is now
	// A transport error, whose text carries the request URL and so the token.
	bot.SetAPIEndpoint("http://127.0.0.1:1/bot%s/%s")
	cb := tgbotapi.Update{CallbackQuery: &tgbotapi.CallbackQuery{ID: "9", From: &tgbotapi.User{ID: 5}}}
	if tgbotapilimit.Check(ctx, bot, g, cb) {
		t.Fatal("throttled callback passed")
	}
	settle(t, g)
	s := logs.String()
	for _, want := range []string{"action=sendMessage", "Too Many Requests", "action=answerCallbackQuery", "/botxxxxx/answerCallbackQuery"} {
		if !strings.Contains(s, want) {
			t.Errorf("log lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, testToken) {
		t.Errorf("log leaks the token:\n%s", s)
	}
}

// TestCheckDoneContext: a done ctx is a store error to the Guard, which
// follows WithErrorAction; Check does not block or panic.
func TestCheckDoneContext(t *testing.T) {
	g := newGuard(t, testutil.AllowStore{}, core.PerMinute(3), nil, guard.WithErrorAction(guard.Drop))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if tgbotapilimit.Check(ctx, nil, g, tgbotapi.Update{Message: &tgbotapi.Message{From: &tgbotapi.User{ID: 1}}}) {
		t.Error("passed with a done ctx under WithErrorAction(Drop)")
	}
}
