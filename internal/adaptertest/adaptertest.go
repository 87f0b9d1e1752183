// Package adaptertest holds the scenarios shared by the adapters' tests
// (gotelegramlimit, gotgbotlimit): each adapter supplies the
// framework-specific part, a function that runs its real bot or its
// middleware, and the scenario pushes the updates to the fake Bot API and
// checks the calls. It is apart from internal/testutil because it imports
// memorystore, whose own tests import testutil.
package adaptertest

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/outbound"
	"github.com/floodgate-go/floodgate/store/memorystore"
	"github.com/floodgate-go/floodgate/telegramtest"
)

// Decode turns a built update (telegramtest's builders) into a framework's
// update type T through JSON, as the framework would receive it.
func Decode[T any](t testing.TB, raw map[string]any) *T {
	t.Helper()
	b, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	u := new(T)
	if err := json.Unmarshal(b, u); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return u
}

// WaitN blocks until n values arrived on done, failing the test after 30 s.
func WaitN[T any](t testing.TB, done <-chan T, n int) {
	t.Helper()
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for i := 0; i < n; i++ {
		select {
		case <-done:
		case <-timeout.C:
			t.Fatalf("waited for %d updates to be handled, %d were", n, i)
		}
	}
}

// FuzzSetup prepares an adapter's FuzzUpdateOf: it adds one update of
// every kind (telegramtest.EveryKind) to f's seed corpus, as JSON, and
// returns a fake Bot API server and a Guard with a tight limit (one update
// an hour per key, a notice every millisecond), so that both the pass path
// and the action path run. Call ran after each input: it keeps the
// server's call log small.
func FuzzSetup(f *testing.F) (api *telegramtest.Server, g *guard.Guard, ran func()) {
	for _, u := range telegramtest.EveryKind(42, -1001234567890) {
		b, err := json.Marshal(u)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	api = telegramtest.Start(f)
	st := memorystore.New()
	f.Cleanup(func() { _ = st.Close() })
	g = testutil.NewGuard(f, st, core.Every(time.Hour), nil, nil, guard.WithNotice(time.Millisecond, nil))
	var runs atomic.Int64
	return api, g, func() {
		if runs.Add(1)%1000 == 0 {
			api.Reset()
		}
	}
}

// RunStoreErrors checks, for FailOpen and FailClosed, that a store that
// always fails (wrapped by core.Resilient as store.Open wraps Redis) never
// crashes the bot: the updates follow the policy, and dropped callbacks
// and inline queries are still answered, never with a notice. start runs
// the bot on api with g in front of a handler that counts every update it
// gets under any label.
func RunStoreErrors(t *testing.T, start func(t *testing.T, api *telegramtest.Server, g *guard.Guard) E2EBot) {
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
			g := testutil.NewGuard(t, st, core.PerMinute(1), nil, nil)
			bot := start(t, api, g)
			for range 3 {
				api.Push(telegramtest.Message(E2ESpammer, E2ESpammer, "", "hi"))
			}
			api.Push(telegramtest.CallbackQuery(E2EClicker, E2EClicker, "ping"))
			api.Push(telegramtest.CallbackQuery(E2EClicker, E2EClicker, "ping"))
			api.Push(telegramtest.InlineQuery(E2EInliner, "q"))
			bot.Wait(t, 6)
			testutil.Settle(t, g) // the guard's answers, made off the update path
			passed := 0
			for _, n := range bot.Passed.Snapshot() {
				passed += n
			}
			if passed != tc.passed {
				t.Errorf("passed = %d, want %d", passed, tc.passed)
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

// Process hands one update to an adapter's middleware in front of a
// handler, with a bot on apiURL ("" for no bot at all), and reports
// whether the update reached the handler. An adapter's test builds it from
// g with its framework's own types.
type Process func(update map[string]any) (handled bool)

// RunActionErrors checks that when the Bot API refuses the guard's calls
// (429) or cannot be reached, the update is still dropped, nothing panics,
// and the log line names the action without token. newProcess builds the
// adapter's Process for g and a bot on apiURL with token.
func RunActionErrors(t *testing.T, token string, newProcess func(t *testing.T, g *guard.Guard, apiURL string) Process) {
	dead := httptest.NewServer(nil)
	deadURL := dead.URL
	dead.Close() // connection refused from now on
	for _, tc := range []struct {
		name string
		url  func(api *telegramtest.Server) string
	}{
		{"429", func(api *telegramtest.Server) string {
			api.FailNext("answerCallbackQuery", 10, 7)
			api.FailNext("answerInlineQuery", 10, 7)
			api.FailNext("sendMessage", 10, 7)
			return api.URL()
		}},
		{"unreachable", func(*telegramtest.Server) string { return deadURL }},
		{"no bot", func(*telegramtest.Server) string { return "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := telegramtest.Start(t)
			var logs testutil.SyncBuffer
			st := memorystore.New(memorystore.WithClock(testutil.NewClock().Now))
			t.Cleanup(func() { _ = st.Close() })
			g := testutil.NewGuard(t, st, core.Every(time.Hour), slog.New(slog.NewTextHandler(&logs, nil)), nil)
			process := newProcess(t, g, tc.url(api))
			handled := 0
			for _, raw := range []map[string]any{
				telegramtest.Message(E2ESpammer, E2ESpammer, "", "1"), telegramtest.Message(E2ESpammer, E2ESpammer, "", "2"),
				telegramtest.CallbackQuery(E2EClicker, E2EClicker, "a"), telegramtest.CallbackQuery(E2EClicker, E2EClicker, "b"),
				telegramtest.InlineQuery(E2EInliner, "a"), telegramtest.InlineQuery(E2EInliner, "b"),
			} {
				if process(raw) {
					handled++
				}
			}
			if handled != 3 {
				t.Errorf("handled = %d, want 3", handled)
			}
			testutil.Settle(t, g) // the failed calls are made, and logged, off the update path
			out := logs.String()
			for _, action := range []string{"action=sendMessage", "action=answerCallbackQuery", "action=answerInlineQuery"} {
				if !strings.Contains(out, action) {
					t.Errorf("log lacks %s:\n%s", action, out)
				}
			}
			if _, secret, _ := strings.Cut(token, ":"); strings.Contains(out, secret) {
				t.Errorf("log leaks the token:\n%s", out)
			}
		})
	}
}

// RunActions runs RunActionErrors and RunBusinessNotice as subtests.
func RunActions(t *testing.T, token string, newProcess func(t *testing.T, g *guard.Guard, apiURL string) Process) {
	t.Run("errors", func(t *testing.T) { RunActionErrors(t, token, newProcess) })
	t.Run("business", func(t *testing.T) { RunBusinessNotice(t, newProcess) })
}

// RunBusinessNotice checks that the notice for a business message goes
// out through the business connection the message came from.
func RunBusinessNotice(t *testing.T, newProcess func(t *testing.T, g *guard.Guard, apiURL string) Process) {
	api := telegramtest.Start(t)
	st := memorystore.New(memorystore.WithClock(testutil.NewClock().Now))
	t.Cleanup(func() { _ = st.Close() })
	g := testutil.NewGuard(t, st, core.Every(time.Hour), nil, nil)
	process := newProcess(t, g, api.URL())
	for _, raw := range []map[string]any{
		telegramtest.BusinessMessage("bc-1", 42, 42, "hi"), telegramtest.EditedBusinessMessage("bc-1", 42, 42, "hi!"),
	} {
		process(raw)
	}
	testutil.Settle(t, g)
	calls := api.CallsTo("sendMessage")
	if len(calls) != 1 || calls[0].Params["business_connection_id"] != "bc-1" || calls[0].Params["chat_id"] != "42" {
		t.Fatalf("sendMessage calls = %+v, want one notice to chat 42 through business connection bc-1", calls)
	}
}

// RunWebhook runs a bot behind its framework's webhook handler with the
// guard in front (2 per minute), as the fake server delivers to it with a
// secret: the same decisions as by polling. start serves the webhook with
// secret "s3cret" for g and returns its URL and the bot.
func RunWebhook(t *testing.T, api *telegramtest.Server, start func(g *guard.Guard) (string, E2EBot)) {
	st := memorystore.New(memorystore.WithClock(testutil.NewClock().Now))
	t.Cleanup(func() { _ = st.Close() })
	g := testutil.NewGuard(t, st, core.PerMinute(2), nil, nil)
	url, bot := start(g)
	api.SetWebhookSecret("s3cret")
	api.DeliverToWebhooks(url)
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
	bot.Wait(t, 8)
	testutil.Settle(t, g)
	if got, want := bot.Passed.Snapshot(), map[string]int{"message:7": 2, "callback_query:8": 2}; !EqualCounts(got, want) {
		t.Errorf("passed = %v, want %v", got, want)
	}
	if got := len(api.CallsTo("answerCallbackQuery")); got != 3 {
		t.Errorf("answerCallbackQuery calls = %d, want 3 (2 by the handler, 1 by the guard)", got)
	}
}

// RunOutbound checks an adapter's outbound wiring: with the throttle
// handed to newSend as the framework's HTTP client, three sends to one
// private chat on a server that enforces Telegram's limits are never
// refused for flooding, and an injected 429 is retried. newSend builds a
// bot on apiURL whose sends go through th and returns its send function.
func RunOutbound(t *testing.T, newSend func(t *testing.T, th *outbound.Throttle, apiURL string) func(chatID int64, text string) error) {
	api := telegramtest.Start(t, telegramtest.WithFloodLimits(telegramtest.TelegramLimits()))
	st := memorystore.New()
	t.Cleanup(func() { _ = st.Close() })
	th, err := outbound.New(st, outbound.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	send := newSend(t, th, api.URL())
	api.FailNext("sendMessage", 1, 1)
	const sends = 3
	for i := range sends {
		if err := send(42, "m"+string(rune('0'+i))); err != nil {
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

// RunUpdateOf checks an adapter's UpdateOf on every kind of update
// (telegramtest.EveryKind, in a supergroup and in a basic group, against
// EveryKindWant) and on shapes the builders do not make: a callback under
// an inline message or an inaccessible one, an anonymous poll vote and
// reaction, a command addressed to a bot, an unknown kind. updateOf
// decodes the JSON into the framework's type and describes it.
func RunUpdateOf(t *testing.T, updateOf func(t *testing.T, raw map[string]any) guard.Update) {
	for _, chat := range []int64{-1001234567890, -5} {
		want := EveryKindWant(42, chat)
		for kind, raw := range telegramtest.EveryKind(42, chat) {
			if got := updateOf(t, raw); got != want[kind] {
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
		var raw map[string]any
		if err := json.Unmarshal([]byte(tc.raw), &raw); err != nil {
			t.Fatal(err)
		}
		if got := updateOf(t, raw); got != tc.want {
			t.Errorf("UpdateOf(%s) = %+v, want %+v", tc.raw, got, tc.want)
		}
	}
}
