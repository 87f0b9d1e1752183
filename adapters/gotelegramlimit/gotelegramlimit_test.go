package gotelegramlimit_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/adapters/gotelegramlimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/outbound"
	"github.com/floodgate-go/floodgate/store/memorystore"
	"github.com/floodgate-go/floodgate/telegramtest"
	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestEndToEnd(t *testing.T) {
	t.Parallel()
	api := telegramtest.Start(t)
	n := testutil.RunEndToEnd(t, api, startE2E(t, api))
	t.Logf("%d updates, %d Bot API calls", n, len(api.Calls()))
}

// TestEndToEndWebhook runs the bot as a webhook (bot.WebhookHandler and
// StartWebhook) with the guard in front: the same decisions as by polling.
func TestEndToEndWebhook(t *testing.T) {
	t.Parallel()
	api := telegramtest.Start(t)
	st := memorystore.New(memorystore.WithClock(testutil.NewClock().Now))
	t.Cleanup(func() { _ = st.Close() })
	g := newGuard(t, st, core.PerMinute(2))
	var passed testutil.Counter
	done := make(chan int64, 100)
	report := func(next bot.HandlerFunc) bot.HandlerFunc {
		return func(ctx context.Context, b *bot.Bot, u *models.Update) {
			defer func() { done <- u.ID }()
			next(ctx, b, u)
		}
	}
	b := newBot(t, api.URL(), bot.WithMiddlewares(report, gotelegramlimit.Middleware(g)),
		bot.WithDefaultHandler(recordingHandler(&passed)), bot.WithWebhookSecretToken("s3cret"))
	srv := httptest.NewServer(b.WebhookHandler())
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan struct{})
	go func() { defer close(ended); b.StartWebhook(ctx) }()
	t.Cleanup(func() { cancel(); <-ended })

	api.SetWebhookSecret("s3cret")
	api.DeliverToWebhooks(srv.URL)
	for range 5 {
		api.Push(telegramtest.Message(7, 7, "", "hi"))
	}
	for range 3 {
		api.Push(telegramtest.CallbackQuery(8, 8, "x"))
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	if err := api.WaitDelivered(wctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 8; i++ {
		select {
		case <-done:
		case <-wctx.Done():
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
			p := startPolling(t, api, func(context.Context, *bot.Bot, *models.Update) { passed.Add("any") },
				gotelegramlimit.Middleware(g))
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
// be reached at all, the update is still dropped, nothing panics, and the
// log line names the action without the token.
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
			handled := 0
			h := gotelegramlimit.Middleware(g)(func(context.Context, *bot.Bot, *models.Update) { handled++ })
			b := newBot(t, tc.url(api))
			for _, raw := range []map[string]any{
				telegramtest.Message(testutil.E2ESpammer, testutil.E2ESpammer, "", "1"),
				telegramtest.Message(testutil.E2ESpammer, testutil.E2ESpammer, "", "2"),
				telegramtest.CallbackQuery(testutil.E2EClicker, testutil.E2EClicker, "a"),
				telegramtest.CallbackQuery(testutil.E2EClicker, testutil.E2EClicker, "b"),
			} {
				h(context.Background(), b, decode(t, raw))
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

// TestNilBot: called without a bot, the middleware still decides, and logs
// each action it could not take.
func TestNilBot(t *testing.T) {
	t.Parallel()
	var logs testutil.SyncBuffer
	st := memorystore.New(memorystore.WithClock(testutil.NewClock().Now))
	t.Cleanup(func() { _ = st.Close() })
	g := testutil.NewGuard(t, st, core.Every(time.Hour), slog.New(slog.NewTextHandler(&logs, nil)), nil)
	handled := 0
	h := gotelegramlimit.Middleware(g)(func(context.Context, *bot.Bot, *models.Update) { handled++ })
	for _, raw := range []map[string]any{telegramtest.InlineQuery(testutil.E2EInliner, "a"), telegramtest.InlineQuery(testutil.E2EInliner, "b")} {
		h(context.Background(), nil, decode(t, raw))
	}
	h(context.Background(), nil, nil) // a nil update: unkeyed, passes
	if handled != 2 || !strings.Contains(logs.String(), "action=answerInlineQuery") {
		t.Errorf("handled = %d (want 2), log:\n%s", handled, logs.String())
	}
}

func TestMiddlewareNilGuardPanics(t *testing.T) {
	defer func() {
		r := recover()
		if s, _ := r.(string); !strings.Contains(s, "non-nil *guard.Guard") {
			t.Errorf("recovered %v, want the nil guard message", r)
		}
	}()
	gotelegramlimit.Middleware(nil)
}

func TestClientNilThrottlePanics(t *testing.T) {
	defer func() {
		r := recover()
		if s, _ := r.(string); !strings.Contains(s, "non-nil *outbound.Throttle") {
			t.Errorf("recovered %v, want the nil throttle message", r)
		}
	}()
	gotelegramlimit.Client(nil, nil)
}

// TestBusinessNotice: the notice for a business message goes out through
// the business connection the message came from.
func TestBusinessNotice(t *testing.T) {
	t.Parallel()
	api := telegramtest.Start(t)
	st := memorystore.New(memorystore.WithClock(testutil.NewClock().Now))
	t.Cleanup(func() { _ = st.Close() })
	g := newGuard(t, st, core.Every(time.Hour))
	h := gotelegramlimit.Middleware(g)(func(context.Context, *bot.Bot, *models.Update) {})
	b := newBot(t, api.URL())
	for range 2 {
		h(context.Background(), b, decode(t, telegramtest.BusinessMessage("bc-1", 42, 42, "hi")))
	}
	calls := api.CallsTo("sendMessage")
	if len(calls) != 1 || calls[0].Params["business_connection_id"] != "bc-1" || calls[0].Params["chat_id"] != "42" {
		t.Fatalf("sendMessage calls = %+v, want one notice to chat 42 through business connection bc-1", calls)
	}
}

// TestUpdateOfEveryKind: every kind of update the Bot API sends, decoded by
// go-telegram/bot, is described as guard expects.
func TestUpdateOfEveryKind(t *testing.T) {
	for _, chat := range []int64{-1001234567890, -5} {
		want := testutil.EveryKindWant(42, chat)
		for kind, raw := range telegramtest.EveryKind(42, chat) {
			if got := gotelegramlimit.UpdateOf(decode(t, raw)); got != want[kind] {
				t.Errorf("UpdateOf(%s in %d) = %+v, want %+v", kind, chat, got, want[kind])
			}
		}
	}
	// Shapes the builders do not make.
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
		var u models.Update
		if err := json.Unmarshal([]byte(tc.raw), &u); err != nil {
			t.Fatalf("decode %s: %v", tc.raw, err)
		}
		if got := gotelegramlimit.UpdateOf(&u); got != tc.want {
			t.Errorf("UpdateOf(%s) = %+v, want %+v", tc.raw, got, tc.want)
		}
	}
	if got := gotelegramlimit.UpdateOf(nil); got != (guard.Update{}) {
		t.Errorf("UpdateOf(nil) = %+v, want the zero Update", got)
	}
}

// TestClientPacesAndRetries: with Client as the bot's HTTP client, a burst
// of sends to one private chat stays within Telegram's limits on a server
// that enforces them (none is refused), and an injected 429 is retried,
// although go-telegram/bot streams its requests.
func TestClientPacesAndRetries(t *testing.T) {
	t.Parallel()
	api := telegramtest.Start(t, telegramtest.WithFloodLimits(telegramtest.TelegramLimits()))
	st := memorystore.New()
	t.Cleanup(func() { _ = st.Close() })
	th, err := outbound.New(st, outbound.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	b := newBot(t, api.URL(), bot.WithHTTPClient(pollTimeout, gotelegramlimit.Client(th, &http.Client{Timeout: time.Minute})))
	api.FailNext("sendMessage", 1, 1)
	const sends = 3
	for i := range sends {
		if _, err := b.SendMessage(context.Background(), &bot.SendMessageParams{ChatID: 42, Text: "m" + string(rune('0'+i))}); err != nil {
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

// decode turns a built update into go-telegram/bot's type.
func decode(t testing.TB, raw map[string]any) *models.Update {
	t.Helper()
	b, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	var u models.Update
	if err := json.Unmarshal(b, &u); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return &u
}

// newGuard builds a Guard over st with limit l, its log discarded.
func newGuard(t testing.TB, st core.Store, l core.Limit, opts ...guard.Option) *guard.Guard {
	t.Helper()
	return testutil.NewGuard(t, st, l, slog.New(slog.DiscardHandler), nil, opts...)
}
