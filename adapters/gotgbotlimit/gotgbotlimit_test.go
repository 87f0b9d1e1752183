package gotgbotlimit_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/PaulSonOfLars/gotgbot/v2"
	"github.com/PaulSonOfLars/gotgbot/v2/ext"
	"github.com/floodgate-go/floodgate/adapters/gotgbotlimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/outbound"
	"github.com/floodgate-go/floodgate/store/memorystore"
	"github.com/floodgate-go/floodgate/telegramtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestEndToEnd(t *testing.T) {
	t.Parallel()
	api := telegramtest.Start(t)
	n := testutil.RunEndToEnd(t, api, startE2E(t, api))
	t.Logf("%d updates, %d Bot API calls", n, len(api.Calls()))
}

// TestEndToEndHandler: the guard as a handler in a group before the bot's
// decides the same.
func TestEndToEndHandler(t *testing.T) {
	t.Parallel()
	api := telegramtest.Start(t)
	testutil.RunEndToEnd(t, api, startE2EHandler(t, api))
}

// TestHandlerFilter: a Handler with a filter counts only the updates it
// matches (here commands); the others pass uncounted.
func TestHandlerFilter(t *testing.T) {
	t.Parallel()
	api := telegramtest.Start(t)
	st := memorystore.New(memorystore.WithClock(testutil.NewClock().Now))
	t.Cleanup(func() { _ = st.Close() })
	g := newGuard(t, st, core.PerMinute(2))
	var passed testutil.Counter
	commands := func(ctx *ext.Context) bool {
		return ctx.Message != nil && strings.HasPrefix(ctx.Message.Text, "/")
	}
	p := startPolling(t, api, nil, funcHandler(func(_ *gotgbot.Bot, ctx *ext.Context) error {
		if commands(ctx) {
			passed.Add("command")
		} else {
			passed.Add("text")
		}
		return nil
	}), func(d *ext.Dispatcher) { d.AddHandlerToGroup(gotgbotlimit.Handler(g, commands), -1) })
	for range 5 {
		api.Push(telegramtest.Message(testutil.E2ESpammer, testutil.E2ESpammer, "", "/report"))
		api.Push(telegramtest.Message(testutil.E2ESpammer, testutil.E2ESpammer, "", "just text"))
	}
	p.wait(t, 10)
	if got, want := passed.Snapshot(), map[string]int{"command": 2, "text": 5}; !testutil.EqualCounts(got, want) {
		t.Errorf("passed = %v, want %v", got, want)
	}
	if got := len(api.CallsTo("sendMessage")); got != 1 {
		t.Errorf("sendMessage calls = %d, want 1 notice", got)
	}
}

// TestEndToEndWebhook runs the bot behind gotgbot's webhook server
// (Updater.AddWebhook, GetHandlerFunc) with the guard as its processor.
func TestEndToEndWebhook(t *testing.T) {
	t.Parallel()
	api := telegramtest.Start(t)
	st := memorystore.New(memorystore.WithClock(testutil.NewClock().Now))
	t.Cleanup(func() { _ = st.Close() })
	g := newGuard(t, st, core.PerMinute(2))
	var passed testutil.Counter
	done := make(chan int64, 100)
	d := ext.NewDispatcher(&ext.DispatcherOpts{Processor: reporter{next: gotgbotlimit.Processor(g, nil), done: done},
		ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)})
	d.AddHandler(recordingHandler(&passed))
	u := ext.NewUpdater(d, nil)
	if err := u.AddWebhook(newBot(t, api.URL()), "hook", &ext.AddWebhookOpts{SecretToken: "s3cret"}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(u.GetHandlerFunc("/"))
	t.Cleanup(func() {
		srv.Close()
		if err := u.Stop(); err != nil {
			t.Error(err)
		}
	})
	api.SetWebhookSecret("s3cret")
	api.DeliverToWebhooks(srv.URL + "/hook")
	for range 5 {
		api.Push(telegramtest.Message(7, 7, "", "hi"))
	}
	for range 3 {
		api.Push(telegramtest.CallbackQuery(8, 8, "x"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := api.WaitDelivered(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 8; i++ {
		select {
		case <-done:
		case <-ctx.Done():
			t.Fatalf("%d of 8 updates handled", i)
		}
	}
	if got, want := passed.Snapshot(), map[string]int{"message:7": 2, "callback_query:8": 2}; !testutil.EqualCounts(got, want) {
		t.Errorf("passed = %v, want %v", got, want)
	}
	if got := len(api.CallsTo("answerCallbackQuery")); got != 3 {
		t.Errorf("answerCallbackQuery calls = %d, want 3 (2 by the handler, 1 by the guard)", got)
	}
}

// TestStoreErrors: a store that always fails, wrapped by core.Resilient as
// store.Open wraps Redis, never crashes the bot; the updates follow the
// failure policy, and dropped callbacks and inline queries are still
// answered (never with a notice).
func TestStoreErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		policy core.FailurePolicy
		passed int
	}{{core.FailOpen, 6}, {core.FailClosed, 0}} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			api := telegramtest.Start(t)
			st, err := core.Resilient(testutil.FailingStore{}, core.Resilience{Policy: tc.policy, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			g := newGuard(t, st, core.PerMinute(1))
			var passed testutil.Counter
			p := startPolling(t, api, gotgbotlimit.Processor(g, nil),
				funcHandler(func(*gotgbot.Bot, *ext.Context) error { passed.Add("any"); return nil }), nil)
			for range 3 {
				api.Push(telegramtest.Message(testutil.E2ESpammer, testutil.E2ESpammer, "", "hi"))
			}
			api.Push(telegramtest.CallbackQuery(testutil.E2EClicker, testutil.E2EClicker, "ping"))
			api.Push(telegramtest.CallbackQuery(testutil.E2EClicker, testutil.E2EClicker, "ping"))
			api.Push(telegramtest.InlineQuery(testutil.E2EInliner, "q"))
			p.wait(t, 6)
			if got := passed.Snapshot()["any"]; got != tc.passed {
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
// reaches the dispatcher, and the log line names the action without the
// token.
func TestActionErrors(t *testing.T) {
	t.Parallel()
	dead := httptest.NewServer(nil)
	deadURL := dead.URL
	dead.Close() // connection refused from now on
	for _, tc := range []struct {
		name string
		url  func(api *telegramtest.Server) string
	}{
		{"429", func(api *telegramtest.Server) string {
			api.FailNext("answerCallbackQuery", 10, 7)
			api.FailNext("sendMessage", 10, 7)
			return api.URL()
		}},
		{"unreachable", func(*telegramtest.Server) string { return deadURL }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := telegramtest.Start(t)
			var logs testutil.SyncBuffer
			st := memorystore.New(memorystore.WithClock(testutil.NewClock().Now))
			t.Cleanup(func() { _ = st.Close() })
			g := testutil.NewGuard(t, st, core.Every(time.Hour), slog.New(slog.NewTextHandler(&logs, nil)), nil)
			d := ext.NewDispatcher(&ext.DispatcherOpts{Processor: gotgbotlimit.Processor(g, nil)})
			handled := 0
			d.AddHandler(funcHandler(func(*gotgbot.Bot, *ext.Context) error { handled++; return nil }))
			b := newBot(t, tc.url(api))
			for _, raw := range []map[string]any{
				telegramtest.Message(testutil.E2ESpammer, testutil.E2ESpammer, "", "1"),
				telegramtest.Message(testutil.E2ESpammer, testutil.E2ESpammer, "", "2"),
				telegramtest.CallbackQuery(testutil.E2EClicker, testutil.E2EClicker, "a"),
				telegramtest.CallbackQuery(testutil.E2EClicker, testutil.E2EClicker, "b"),
			} {
				if err := d.ProcessUpdate(b, decode(t, raw), nil); err != nil {
					t.Errorf("ProcessUpdate returned %v, want nil", err)
				}
			}
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

// TestNilBot: given no bot, the processor still decides, and logs each
// action it could not take.
func TestNilBot(t *testing.T) {
	t.Parallel()
	var logs testutil.SyncBuffer
	st := memorystore.New(memorystore.WithClock(testutil.NewClock().Now))
	t.Cleanup(func() { _ = st.Close() })
	g := testutil.NewGuard(t, st, core.Every(time.Hour), slog.New(slog.NewTextHandler(&logs, nil)), nil)
	// Not through Dispatcher.ProcessUpdate: gotgbot's ext.NewContext
	// itself panics on a nil bot.
	d := ext.NewDispatcher(nil)
	handled := 0
	d.AddHandler(funcHandler(func(*gotgbot.Bot, *ext.Context) error { handled++; return nil }))
	proc := gotgbotlimit.Processor(g, nil)
	for _, raw := range []map[string]any{telegramtest.InlineQuery(testutil.E2EInliner, "a"), telegramtest.InlineQuery(testutil.E2EInliner, "b")} {
		if err := proc.ProcessUpdate(d, nil, &ext.Context{Update: decode(t, raw)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := proc.ProcessUpdate(d, nil, nil); err != nil { // no context at all: dropped
		t.Fatal(err)
	}
	if handled != 1 || !strings.Contains(logs.String(), "action=answerInlineQuery") {
		t.Errorf("handled = %d (want 1), log:\n%s", handled, logs.String())
	}
}

func TestNilGuardPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"Processor": func() { gotgbotlimit.Processor(nil, nil) },
		"Handler":   func() { gotgbotlimit.Handler(nil, nil) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, "non-nil *guard.Guard") {
					t.Errorf("recovered %v, want the nil guard message", r)
				}
			}()
			f()
		})
	}
}

// TestBusinessNotice: the notice for a business message goes out through
// the business connection the message came from.
func TestBusinessNotice(t *testing.T) {
	t.Parallel()
	api := telegramtest.Start(t)
	st := memorystore.New(memorystore.WithClock(testutil.NewClock().Now))
	t.Cleanup(func() { _ = st.Close() })
	g := newGuard(t, st, core.Every(time.Hour))
	d := ext.NewDispatcher(&ext.DispatcherOpts{Processor: gotgbotlimit.Processor(g, nil)})
	b := newBot(t, api.URL())
	for range 2 {
		if err := d.ProcessUpdate(b, decode(t, telegramtest.BusinessMessage("bc-1", 42, 42, "hi")), nil); err != nil {
			t.Fatal(err)
		}
	}
	calls := api.CallsTo("sendMessage")
	if len(calls) != 1 || calls[0].Params["business_connection_id"] != "bc-1" || calls[0].Params["chat_id"] != "42" {
		t.Fatalf("sendMessage calls = %+v, want one notice to chat 42 through business connection bc-1", calls)
	}
}

// TestUpdateOfEveryKind: every kind of update the Bot API sends, decoded by
// gotgbot, is described as guard expects.
func TestUpdateOfEveryKind(t *testing.T) {
	for _, chat := range []int64{-1001234567890, -5} {
		want := testutil.EveryKindWant(42, chat)
		for kind, raw := range telegramtest.EveryKind(42, chat) {
			if got := gotgbotlimit.UpdateOf(decode(t, raw)); got != want[kind] {
				t.Errorf("UpdateOf(%s in %d) = %+v, want %+v", kind, chat, got, want[kind])
			}
		}
	}
	for _, tc := range []struct {
		raw  string
		want guard.Update
	}{
		{`{"callback_query":{"id":"1","from":{"id":42},"inline_message_id":"AA","chat_instance":"1"}}`,
			guard.Update{Kind: guard.KindCallbackQuery, UserID: 42}},
		{`{"callback_query":{"id":"1","from":{"id":42},"message":{"message_id":1,"date":0,"chat":{"id":-5,"type":"group"}}}}`,
			guard.Update{Kind: guard.KindCallbackQuery, UserID: 42, ChatID: -5, ChatType: "group"}},
		{`{"poll_answer":{"poll_id":"p","voter_chat":{"id":-7,"type":"channel"},"option_ids":[0]}}`,
			guard.Update{Kind: guard.KindPollAnswer, SenderChatID: -7}},
		{`{"message_reaction":{"chat":{"id":-5,"type":"group"},"message_id":1,"actor_chat":{"id":-7,"type":"channel"},"date":1,"old_reaction":[],"new_reaction":[]}}`,
			guard.Update{Kind: guard.KindMessageReaction, ChatID: -5, ChatType: "group", SenderChatID: -7}},
		{`{"message":{"message_id":1,"date":1,"chat":{"id":-5,"type":"group"},"from":{"id":42},"text":"/Report@Bot now"}}`,
			guard.Update{Kind: guard.KindMessage, UserID: 42, ChatID: -5, ChatType: "group", Command: "/report"}},
		{`{"future_kind":{"id":1}}`, guard.Update{Kind: guard.KindOther}},
	} {
		var u gotgbot.Update
		if err := json.Unmarshal([]byte(tc.raw), &u); err != nil {
			t.Fatalf("decode %s: %v", tc.raw, err)
		}
		if got := gotgbotlimit.UpdateOf(&u); got != tc.want {
			t.Errorf("UpdateOf(%s) = %+v, want %+v", tc.raw, got, tc.want)
		}
	}
	// Pointer messages and typed nils, which only Go code can build.
	var nilMsg *gotgbot.Message
	var nilInacc *gotgbot.InaccessibleMessage
	for _, m := range []gotgbot.MaybeInaccessibleMessage{nilMsg, nilInacc,
		&gotgbot.Message{Chat: gotgbot.Chat{Id: -5, Type: "group"}}, &gotgbot.InaccessibleMessage{Chat: gotgbot.Chat{Id: -5, Type: "group"}}} {
		u := &gotgbot.Update{CallbackQuery: &gotgbot.CallbackQuery{From: gotgbot.User{Id: 42}, Message: m}}
		want := guard.Update{Kind: guard.KindCallbackQuery, UserID: 42}
		if m != nilMsg && m != nilInacc {
			want.ChatID, want.ChatType = -5, "group"
		}
		if got := gotgbotlimit.UpdateOf(u); got != want {
			t.Errorf("UpdateOf(callback with %#v) = %+v, want %+v", m, got, want)
		}
	}
	if got := gotgbotlimit.UpdateOf(nil); got != (guard.Update{}) {
		t.Errorf("UpdateOf(nil) = %+v, want the zero Update", got)
	}
}

// TestOutbound: the throttle as the bot's HTTP client (what the starter
// does) keeps a burst of sends to one private chat within Telegram's
// limits on a server that enforces them, and retries an injected 429.
func TestOutbound(t *testing.T) {
	t.Parallel()
	api := telegramtest.Start(t, telegramtest.WithFloodLimits(telegramtest.TelegramLimits()))
	st := memorystore.New()
	t.Cleanup(func() { _ = st.Close() })
	th, err := outbound.New(st, outbound.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	b, err := gotgbot.NewBot(testToken, &gotgbot.BotOpts{DisableTokenCheck: true, BotClient: &gotgbot.BaseBotClient{
		Client:             *th.Client(&http.Client{Transport: tr}),
		DefaultRequestOpts: &gotgbot.RequestOpts{APIURL: api.URL(), Timeout: time.Minute}}})
	if err != nil {
		t.Fatal(err)
	}
	api.FailNext("sendMessage", 1, 1)
	const sends = 3
	for i := range sends {
		if _, err := b.SendMessage(42, "m"+string(rune('0'+i)), nil); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	calls := api.CallsTo("sendMessage")
	flooded, injected := 0, 0
	for _, c := range calls {
		if c.Flooded {
			flooded++
		} else if c.RateLimited {
			injected++
		}
	}
	if flooded != 0 || injected != 1 || len(calls) != sends+1 {
		t.Errorf("%d calls, %d flooded, %d injected 429s; want %d, 0, 1 (the 429 retried)", len(calls), flooded, injected, sends+1)
	}
}
