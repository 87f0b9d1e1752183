package telegolimit_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/adapters/telegolimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
	"github.com/mymmrac/telego"
	th "github.com/mymmrac/telego/telegohandler"
	tu "github.com/mymmrac/telego/telegoutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// telegohandler clones the update (a JSON round trip) for every route
	// with predicates. telego's JSON library builds its codec for Update on
	// first use: about 0.3 s, several seconds under -race, and every
	// goroutine that needs it before it is ready builds it again (10 updates
	// arriving at once: 2 s). Build it here, once.
	_ = telego.Update{Message: &telego.Message{}}.Clone()
	goleak.VerifyTestMain(m)
}

// Ids used by the end-to-end test.
const (
	spammer       int64 = 101
	normalA       int64 = 201
	normalB       int64 = 202
	clicker       int64 = 301
	inliner       int64 = 401
	anonGroup     int64 = -1001234567890
	channel       int64 = -1009876543210
	noFromChat    int64 = -555
	noticePrefix        = "Too many requests"
	echoPrefix          = "echo: "
	callbackReply       = "ok"
)

// recordingHandlers registers, after the guard, one handler per update
// kind that counts what reached it under a label "kind:who" and answers the
// way a bot would: messages are echoed, callbacks answered "ok", inline
// queries answered with one article, channel posts and the rest counted
// only. A throttled update's Bot API calls are then told apart from a
// handler's by their text or results.
func recordingHandlers(bh *th.BotHandler, passed *counter) {
	bh.Handle(func(ctx *th.Context, u telego.Update) error {
		cu := telegolimit.UpdateOf(u)
		who := strconv.FormatInt(cu.UserID, 10)
		if cu.SenderChatID != 0 {
			who = "s" + strconv.FormatInt(cu.SenderChatID, 10)
		} else if cu.UserID == 0 {
			who = "c" + strconv.FormatInt(cu.ChatID, 10)
		}
		passed.add(cu.Kind.String() + ":" + who)
		switch {
		case u.Message != nil:
			_, err := ctx.Bot().SendMessage(ctx, tu.Message(tu.ID(u.Message.Chat.ID), echoPrefix+u.Message.Text))
			return err
		case u.CallbackQuery != nil:
			return ctx.Bot().AnswerCallbackQuery(ctx, tu.CallbackQuery(u.CallbackQuery.ID).WithText(callbackReply))
		case u.InlineQuery != nil:
			return ctx.Bot().AnswerInlineQuery(ctx, tu.InlineQuery(u.InlineQuery.ID,
				tu.ResultArticle("1", "pong", tu.TextMessage("pong"))))
		}
		return nil
	})
}

func TestEndToEnd(t *testing.T) {
	t.Parallel()
	api := testutil.StartBotAPI(t)
	clock := testutil.NewClock()
	st := memorystore.New(memorystore.WithClock(clock.Now))
	t.Cleanup(func() { _ = st.Close() })
	g := newGuardLog(t, st, core.PerMinute(3), slog.New(slog.DiscardHandler))

	var passed counter
	p := startPolling(t, api, func(bh *th.BotHandler) {
		bh.Use(telegolimit.Middleware(g))
		recordingHandlers(bh, &passed)
	})

	n := 0
	push := func(times int, update func(i int) map[string]any) {
		for i := 0; i < times; i++ {
			api.Push(update(i))
			n++
		}
	}
	push(20, func(i int) map[string]any { return testutil.Message(spammer, spammer, "", "spam "+strconv.Itoa(i)) })
	push(2, func(int) map[string]any { return testutil.Message(normalA, normalA, "", "hello") })
	push(2, func(int) map[string]any { return testutil.Message(normalB, normalB, "", "/start") })
	push(10, func(int) map[string]any { return testutil.CallbackQuery(clicker, clicker, "ping") })
	push(6, func(i int) map[string]any { return testutil.InlineQuery(inliner, "q"+strconv.Itoa(i)) })
	push(5, func(int) map[string]any { return testutil.AnonymousAdminMessage(anonGroup, "from the admins") })
	push(5, func(int) map[string]any { return testutil.ChannelPost(channel, "news") })
	push(1, func(int) map[string]any { return testutil.MessageWithoutFrom(noFromChat, "who am I") })
	push(1, func(int) map[string]any { return testutil.UnknownUpdate("future_kind") })
	p.wait(t, n)
	settle(t, g)

	wantPassed := map[string]int{
		"message:101": 3, "message:201": 2, "message:202": 2, // spammer 3 of 20; normal users all
		"callback_query:301": 3, "inline_query:401": 3, // 3 of 10, 3 of 6
		"message:s-1001234567890":      3, // anonymous admins: keyed by the group, 3 of 5
		"channel_post:s-1009876543210": 3, // the channel, 3 of 5
		"message:c-555":                1, // no sender: unkeyed, passes (default)
		"other:c0":                     1, // unknown kind: unkeyed, passes
	}
	if got := passed.snapshot(); !equalCounts(got, wantPassed) {
		t.Errorf("passed to handlers = %v, want %v", got, wantPassed)
	}

	// sendMessage: one echo per passed message, one notice per throttled
	// key that has a chat to tell (spammer, anonymous group), none into the
	// channel.
	echoes, notices := map[string]int{}, map[string]int{}
	for _, c := range api.CallsTo("sendMessage") {
		switch text := c.Params["text"]; {
		case strings.HasPrefix(text, echoPrefix):
			echoes[c.Params["chat_id"]]++
		case strings.HasPrefix(text, noticePrefix):
			notices[c.Params["chat_id"]]++
		default:
			t.Errorf("unexpected sendMessage %q", text)
		}
	}
	wantEchoes := map[string]int{"101": 3, "201": 2, "202": 2, "-1001234567890": 3, "-555": 1}
	if !equalCounts(echoes, wantEchoes) {
		t.Errorf("echoes per chat = %v, want %v", echoes, wantEchoes)
	}
	wantNotices := map[string]int{"101": 1, "-1001234567890": 1}
	if !equalCounts(notices, wantNotices) {
		t.Errorf("notices per chat = %v, want %v", notices, wantNotices)
	}

	// answerCallbackQuery: every callback answered exactly once: 3 by the
	// handler ("ok"), 7 by the guard (the notice once, then "").
	cb := api.CallsTo("answerCallbackQuery")
	ids := map[string]int{}
	texts := map[string]int{}
	for _, c := range cb {
		ids[c.Params["callback_query_id"]]++
		text := c.Params["text"]
		if strings.HasPrefix(text, noticePrefix) {
			text = "notice"
		}
		texts[text]++
	}
	if len(cb) != 10 || len(ids) != 10 {
		t.Errorf("answerCallbackQuery: %d calls for %d callbacks, want 10 for 10", len(cb), len(ids))
	}
	if want := map[string]int{callbackReply: 3, "notice": 1, "": 6}; !equalCounts(texts, want) {
		t.Errorf("callback answers by text = %v, want %v", texts, want)
	}

	// answerInlineQuery: 3 by the handler (one result), 3 by the guard (no
	// results, personal, cached for 1 s).
	var handled, empty int
	for _, c := range api.CallsTo("answerInlineQuery") {
		if c.Params["results"] == "[]" {
			empty++
			if c.Params["is_personal"] != "true" || c.Params["cache_time"] != "1" {
				t.Errorf("throttled inline query answered with %v, want is_personal true, cache_time 1", c.Params)
			}
		} else {
			handled++
		}
	}
	if handled != 3 || empty != 3 {
		t.Errorf("answerInlineQuery: %d with results, %d empty, want 3 and 3", handled, empty)
	}

	p.stop(t)
	api.Close()
}

func equalCounts(got, want map[string]int) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// TestGroup limits only the commands: a guard used in a handler group sees
// only the updates that match the group's predicates.
func TestGroup(t *testing.T) {
	t.Parallel()
	api := testutil.StartBotAPI(t)
	st := memorystore.New(memorystore.WithClock(testutil.NewClock().Now))
	t.Cleanup(func() { _ = st.Close() })
	g := newGuardLog(t, st, core.PerMinute(2), slog.New(slog.DiscardHandler))

	var passed counter
	p := startPolling(t, api, func(bh *th.BotHandler) {
		commands := bh.Group(th.AnyCommand())
		commands.Use(telegolimit.Middleware(g))
		commands.HandleMessage(func(*th.Context, telego.Message) error { passed.add("command"); return nil })
		bh.HandleMessage(func(*th.Context, telego.Message) error { passed.add("text"); return nil })
	})
	for i := 0; i < 5; i++ {
		api.Push(testutil.Message(spammer, spammer, "", "/report"))
		api.Push(testutil.Message(spammer, spammer, "", "just text"))
	}
	p.wait(t, 10)
	settle(t, g)
	if got, want := passed.snapshot(), map[string]int{"command": 2, "text": 5}; !equalCounts(got, want) {
		t.Errorf("passed = %v, want %v", got, want)
	}
	if got := len(api.CallsTo("sendMessage")); got != 1 {
		t.Errorf("sendMessage calls = %d, want 1 notice", got)
	}
}

// TestStoreErrors: a store that always fails, wrapped by core.Resilient as
// store.Open wraps Redis, never crashes the bot; the updates follow the
// failure policy (FailOpen passes them, FailClosed drops them), and
// dropped callbacks and inline queries are still answered (never with a
// notice).
func TestStoreErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		policy core.FailurePolicy
		passed int
	}{{core.FailOpen, 6}, {core.FailClosed, 0}} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			api := testutil.StartBotAPI(t)
			st, err := core.Resilient(testutil.FailingStore{}, core.Resilience{Policy: tc.policy, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			g := newGuard(t, st, core.PerMinute(1))
			var passed counter
			p := startPolling(t, api, func(bh *th.BotHandler) {
				bh.Use(telegolimit.Middleware(g))
				bh.Handle(func(*th.Context, telego.Update) error { passed.add("any"); return nil })
			})
			for i := 0; i < 3; i++ {
				api.Push(testutil.Message(spammer, spammer, "", "hi"))
			}
			api.Push(testutil.CallbackQuery(clicker, clicker, "ping"))
			api.Push(testutil.CallbackQuery(clicker, clicker, "ping"))
			api.Push(testutil.InlineQuery(inliner, "q"))
			p.wait(t, 6)
			settle(t, g)
			if got := passed.snapshot()["any"]; got != tc.passed {
				t.Errorf("passed = %d, want %d", got, tc.passed)
			}
			wantAnswers := 0
			if tc.policy == core.FailClosed {
				wantAnswers = 1
			}
			cb := api.CallsTo("answerCallbackQuery")
			if len(cb) != 2*wantAnswers {
				t.Errorf("answerCallbackQuery calls = %d, want %d", len(cb), 2*wantAnswers)
			}
			for _, c := range cb {
				if c.Params["text"] != "" {
					t.Errorf("callback answered with %q after a store error, want no text", c.Params["text"])
				}
			}
			if got := len(api.CallsTo("answerInlineQuery")); got != wantAnswers {
				t.Errorf("answerInlineQuery calls = %d, want %d", got, wantAnswers)
			}
			if got := len(api.CallsTo("sendMessage")); got != 0 {
				t.Errorf("sendMessage calls = %d, want 0 (no notice after a store error)", got)
			}
		})
	}
}

// TestActionErrors: when the Bot API refuses the guard's calls, or cannot
// be reached at all, the update is still dropped, nothing panics, no error
// reaches telego, and the log line names the action without the token.
func TestActionErrors(t *testing.T) {
	t.Parallel()
	dead := httptest.NewServer(nil)
	deadURL := dead.URL
	dead.Close() // connection refused from now on
	for _, tc := range []struct {
		name string
		url  func(api *testutil.BotAPI) string
	}{
		{"429", func(api *testutil.BotAPI) string {
			api.FailNext("answerCallbackQuery", 10, 7)
			api.FailNext("sendMessage", 10, 7)
			return api.URL()
		}},
		{"unreachable", func(*testutil.BotAPI) string { return deadURL }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := testutil.StartBotAPI(t)
			var logs testutil.SyncBuffer
			st := memorystore.New(memorystore.WithClock(testutil.NewClock().Now))
			t.Cleanup(func() { _ = st.Close() })
			g := newGuardLog(t, st, core.Every(time.Hour), slog.New(slog.NewTextHandler(&logs, nil)))

			group := &th.HandlerGroup{}
			group.Use(telegolimit.Middleware(g))
			handled := 0
			group.Handle(func(*th.Context, telego.Update) error { handled++; return nil })
			bot := newBot(t, tc.url(api))
			for _, raw := range []map[string]any{
				testutil.Message(spammer, spammer, "", "1"), testutil.Message(spammer, spammer, "", "2"),
				testutil.CallbackQuery(clicker, clicker, "a"), testutil.CallbackQuery(clicker, clicker, "b"),
			} {
				if err := group.HandleUpdate(context.Background(), bot, decode(t, raw)); err != nil {
					t.Errorf("HandleUpdate returned %v, want nil", err)
				}
			}
			settle(t, g)
			if handled != 2 {
				t.Errorf("handled = %d, want 2", handled)
			}
			out := logs.String()
			for _, action := range []string{"action=sendMessage", "action=answerCallbackQuery"} {
				if !strings.Contains(out, action) {
					t.Errorf("log lacks %s:\n%s", action, out)
				}
			}
			if strings.Contains(out, testToken) || strings.Contains(out, strings.SplitN(testToken, ":", 2)[1]) {
				t.Errorf("log leaks the token:\n%s", out)
			}
		})
	}
}

// TestNilBot: through HandlerGroup.HandleUpdate with a nil bot, the guard
// still decides and logs each action it could not take.
func TestNilBot(t *testing.T) {
	t.Parallel()
	var logs testutil.SyncBuffer
	st := memorystore.New(memorystore.WithClock(testutil.NewClock().Now))
	t.Cleanup(func() { _ = st.Close() })
	g := newGuardLog(t, st, core.Every(time.Hour), slog.New(slog.NewTextHandler(&logs, nil)))
	group := &th.HandlerGroup{}
	group.Use(telegolimit.Middleware(g))
	handled := 0
	group.Handle(func(*th.Context, telego.Update) error { handled++; return nil })
	for _, raw := range []map[string]any{testutil.InlineQuery(inliner, "a"), testutil.InlineQuery(inliner, "b")} {
		if err := group.HandleUpdate(context.Background(), nil, decode(t, raw)); err != nil {
			t.Fatal(err)
		}
	}
	settle(t, g)
	if handled != 1 || !strings.Contains(logs.String(), "action=answerInlineQuery") {
		t.Errorf("handled = %d (want 1), log:\n%s", handled, logs.String())
	}
}

func TestMiddlewareNilGuardPanics(t *testing.T) {
	defer func() {
		r := recover()
		if s, _ := r.(string); !strings.Contains(s, "non-nil *guard.Guard") {
			t.Errorf("recovered %v, want the nil guard message", r)
		}
	}()
	telegolimit.Middleware(nil)
}

// TestBusinessNotice: the notice for a business message goes out through
// the business connection the message came from.
func TestBusinessNotice(t *testing.T) {
	t.Parallel()
	api := testutil.StartBotAPI(t)
	st := memorystore.New(memorystore.WithClock(testutil.NewClock().Now))
	t.Cleanup(func() { _ = st.Close() })
	g := newGuardLog(t, st, core.Every(time.Hour), slog.New(slog.DiscardHandler))
	group := &th.HandlerGroup{}
	group.Use(telegolimit.Middleware(g))
	group.Handle(func(*th.Context, telego.Update) error { return nil })
	bot := newBot(t, api.URL())
	const raw = `{"business_message":{"message_id":1,"date":1,"business_connection_id":"bc-1",` +
		`"chat":{"id":42,"type":"private"},"from":{"id":42},"text":"hi"}}`
	for range 2 {
		if err := group.HandleUpdate(context.Background(), bot, decode(t, raw)); err != nil {
			t.Fatal(err)
		}
	}
	settle(t, g)
	calls := api.CallsTo("sendMessage")
	if len(calls) != 1 || calls[0].Params["business_connection_id"] != "bc-1" || calls[0].Params["chat_id"] != "42" {
		t.Fatalf("sendMessage calls = %+v, want one notice to chat 42 through business connection bc-1", calls)
	}
}
