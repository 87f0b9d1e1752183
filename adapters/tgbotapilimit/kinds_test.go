package tgbotapilimit_test

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/adapters/tgbotapilimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/setup"
	"github.com/floodgate-go/floodgate/store/memorystore"
	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

const kindsUser int64 = 6001

func mustLimit(t testing.TB, s string) core.Limit {
	t.Helper()
	l, err := core.ParseLimit(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// webhookBot is one bot instance in webhook mode: a real tgbotapi bot
// whose HTTP handler reads the update (bot.HandleUpdate), checks it with
// tgbotapilimit.Check, and then echoes text or answers a button with
// "handled". It records what its handlers saw and when each update arrived.
type webhookBot struct {
	url string
	mu  sync.Mutex
	// seen counts handler runs by "callback <data>" or "message <text>".
	seen map[string]int
	// arrived is when each callback query's update reached this instance,
	// by callback query id.
	arrived map[string]time.Time
}

func startWebhookBot(t *testing.T, api *testutil.BotAPI, g *guard.Guard) *webhookBot {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	bot := newBot(t, ctx, api)
	w := &webhookBot{seen: map[string]int{}, arrived: map[string]time.Time{}}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		u, err := bot.HandleUpdate(r)
		if err != nil {
			http.Error(rw, "bad update", http.StatusBadRequest)
			return
		}
		if q := u.CallbackQuery; q != nil {
			w.mu.Lock()
			w.arrived[q.ID] = time.Now()
			w.mu.Unlock()
		}
		if !tgbotapilimit.Check(r.Context(), bot, g, *u) {
			return
		}
		var reply tgbotapi.Chattable
		switch {
		case u.CallbackQuery != nil:
			w.add("callback " + u.CallbackQuery.Data)
			reply = tgbotapi.NewCallback(u.CallbackQuery.ID, handledAnswer)
		case u.Message != nil:
			w.add("message " + u.Message.Text)
			reply = tgbotapi.NewMessage(u.Message.Chat.ID, "echo: "+u.Message.Text)
		default:
			return
		}
		if _, err := bot.Request(reply); err != nil {
			t.Errorf("reply: %v", err)
		}
	}))
	t.Cleanup(srv.Close)
	w.url = srv.URL
	return w
}

func (w *webhookBot) add(k string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen[k]++
}

// seenBy sums what the handlers of bots saw.
func seenBy(bots ...*webhookBot) map[string]int {
	out := map[string]int{}
	for _, w := range bots {
		w.mu.Lock()
		for k, n := range w.seen {
			out[k] += n
		}
		w.mu.Unlock()
	}
	return out
}

// TestKindBudgets: 20 button presses and 10 messages from one user in
// 4.8 s (one update every 160 ms of the store's clock), delivered to a
// webhook, under a callback budget of 20/10s and a message budget of
// 5/10s: every press passes, the messages are cut to 7 (a burst of 5, then
// one per 2 s), each dropped one told (notice cooldown 1 ms).
func TestKindBudgets(t *testing.T) {
	api := testutil.StartBotAPI(t, testutil.WithWebhookConcurrency(1))
	clock := testutil.NewClock()
	st := memorystore.New(memorystore.WithClock(clock.Now))
	defer st.Close()
	g := newGuard(t, st, core.PerMinute(1), nil, guard.WithNotice(time.Millisecond, nil),
		guard.WithKindLimits(guard.KindLimits{Message: mustLimit(t, "5/10s"), Callback: mustLimit(t, "20/10s")}))
	w := startWebhookBot(t, api, g)
	api.DeliverToWebhooks(w.url)
	presses, messages := 0, 0
	for i := range 30 {
		if i%3 == 2 {
			messages++
			api.Push(testutil.Message(kindsUser, kindsUser, "", fmt.Sprintf("text %d", messages)))
		} else {
			presses++
			api.Push(testutil.CallbackQuery(kindsUser, kindsUser, fmt.Sprintf("page:%d", presses)))
		}
		// The webhook answers once the update is decided, answered and
		// handled: the clock moves on after that.
		if err := api.WaitDelivered(waitCtx(t)); err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
		clock.Advance(160 * time.Millisecond)
	}
	settle(t, g)

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
	for k, n := range seenBy(w) {
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
	t.Logf("tgbotapi, in 4.8 s: callback_query %d/20 passed (budget 20/10s), message %d/10 passed (budget 5/10s), %d notices",
		pressesSeen, messagesSeen, notices)
}

// debounceRounds pushes rounds of three button presses from one user: the
// same data twice ("buy:<r>", a double tap), then other data ("gift:<r>").
// Round-robin delivery to n webhooks hands the two taps to instances 0 and
// 1 when n = 3. It returns every callback query id, by round.
func debounceRounds(api *testutil.BotAPI, rounds int) [][3]string {
	var ids [][3]string
	for r := range rounds {
		var round [3]string
		for i, data := range []string{"buy:" + strconv.Itoa(r), "buy:" + strconv.Itoa(r), "gift:" + strconv.Itoa(r)} {
			cb := testutil.CallbackQuery(kindsUser, kindsUser, data)
			round[i] = cb["callback_query"].(map[string]any)["id"].(string)
			api.Push(cb)
		}
		ids = append(ids, round)
	}
	return ids
}

// checkDebounced checks the outcome of debounceRounds: each round's
// handlers ran once for "buy" and once for "gift", and each press was
// answered exactly once: two by the handler, the duplicate by floodgate
// with no text.
func checkDebounced(t *testing.T, api *testutil.BotAPI, ids [][3]string, bots ...*webhookBot) {
	t.Helper()
	want := map[string]int{}
	for r := range ids {
		want["callback buy:"+strconv.Itoa(r)] = 1
		want["callback gift:"+strconv.Itoa(r)] = 1
	}
	if got := seenBy(bots...); !maps.Equal(got, want) {
		t.Errorf("handler runs %v\nwant %v", got, want)
	}
	answers := map[string][]string{}
	for _, c := range api.CallsTo("answerCallbackQuery") {
		answers[c.Params["callback_query_id"]] = append(answers[c.Params["callback_query_id"]], c.Params["text"])
	}
	for r, round := range ids {
		var texts []string
		for _, id := range round {
			if len(answers[id]) != 1 {
				t.Errorf("round %d: callback %s answered %d times, want once", r, id, len(answers[id]))
			}
			texts = append(texts, answers[id]...)
		}
		slices.Sort(texts)
		if !slices.Equal(texts, []string{"", handledAnswer, handledAnswer}) {
			t.Errorf("round %d: answers %q, want one empty (the duplicate) and two %q", r, texts, handledAnswer)
		}
	}
}

// TestDebounceOneInstanceMemory: double taps delivered concurrently to
// one webhook instance on the memory store.
func TestDebounceOneInstanceMemory(t *testing.T) {
	api := testutil.StartBotAPI(t) // 8 deliveries at once
	fg, err := setup.Open(t.Context(), setup.Options{Logger: quietLog(), Lookup: lookupIn(map[string]string{
		"FLOODGATE_LIMIT": "100/m", "FLOODGATE_DEBOUNCE": "2s"})})
	if err != nil {
		t.Fatal(err)
	}
	defer fg.Close()
	w := startWebhookBot(t, api, fg.Guard)
	ids := debounceRounds(api, 10)
	api.DeliverToWebhooks(w.url)
	if err := api.WaitDelivered(waitCtx(t)); err != nil {
		t.Fatal(err)
	}
	settle(t, fg.Guard)
	checkDebounced(t, api, ids, w)
	t.Logf("memory, 1 instance: %d rounds of a double tap and another button: handler runs %d, answers %d",
		len(ids), sum(seenBy(w)), len(api.CallsTo("answerCallbackQuery")))
}

// TestDebounceThreeInstancesRedis: three webhook instances, each its own
// bot and setup.Open on one real Redis; the two taps of each double tap
// reach two different instances at once. Exactly one runs the handler,
// and both are answered; the other button is not debounced.
func TestDebounceThreeInstancesRedis(t *testing.T) {
	redis := testutil.StartRedis(t)
	api := testutil.StartBotAPI(t) // 8 deliveries at once
	vars := map[string]string{
		"REDIS_URL": redis.URL(), "FLOODGATE_PREFIX": "debounce-test", "FLOODGATE_LIMIT": "100/m",
		"FLOODGATE_DEBOUNCE": "2s",
		// Generous: past the timeout a decision falls back to the local
		// store, which knows nothing of the other instances.
		"FLOODGATE_TIMEOUT": "2s",
	}
	var bots []*webhookBot
	var urls []string
	var guards []*guard.Guard
	for range 3 {
		fg, err := setup.Open(t.Context(), setup.Options{Logger: quietLog(), Lookup: lookupIn(vars)})
		if err != nil {
			t.Fatal(err)
		}
		defer fg.Close()
		w := startWebhookBot(t, api, fg.Guard)
		guards = append(guards, fg.Guard)
		bots = append(bots, w)
		urls = append(urls, w.url)
	}
	ids := debounceRounds(api, 20)
	api.DeliverToWebhooks(urls...)
	if err := api.WaitDelivered(waitCtx(t)); err != nil {
		t.Fatal(err)
	}
	for _, g := range guards {
		settle(t, g)
	}
	checkDebounced(t, api, ids, bots...)

	// Where the taps went, and how far apart they arrived.
	var gaps []time.Duration
	for r, round := range ids {
		a, okA := bots[0].arrivedAt(round[0])
		b, okB := bots[1].arrivedAt(round[1])
		if !okA || !okB {
			t.Errorf("round %d: the two taps did not reach instances 0 and 1", r)
			continue
		}
		gaps = append(gaps, max(a.Sub(b), b.Sub(a)))
	}
	slices.Sort(gaps)
	if len(gaps) > 0 {
		t.Logf("redis, 3 instances: %d double taps, each split across instances 0 and 1 (arrival gap median %v, max %v); "+
			"handler runs %d (want %d), answers %d (want %d)", len(gaps), gaps[len(gaps)/2], gaps[len(gaps)-1],
			sum(seenBy(bots...)), 2*len(ids), len(api.CallsTo("answerCallbackQuery")), 3*len(ids))
	}
	if n := testutil.AssertEveryKeyHasTTL(t, redis.Client(t)); n == 0 {
		t.Errorf("no keys in Redis")
	}
}

func (w *webhookBot) arrivedAt(id string) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	at, ok := w.arrived[id]
	return at, ok
}

func sum(m map[string]int) (n int) {
	for _, v := range m {
		n += v
	}
	return n
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func lookupIn(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

// TestUpdatePayload: what debouncing compares, read from tgbotapi's
// updates.
func TestUpdatePayload(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   tgbotapi.Update
		want string
	}{
		{"text", tgbotapi.Update{Message: &tgbotapi.Message{Text: "/start now"}}, "/start now"},
		{"caption", tgbotapi.Update{Message: &tgbotapi.Message{Caption: "a cat"}}, "a cat"},
		{"album item", tgbotapi.Update{Message: &tgbotapi.Message{Caption: "holiday", MediaGroupID: "135"}}, ""},
		{"callback data", tgbotapi.Update{CallbackQuery: &tgbotapi.CallbackQuery{Data: "page:2"}}, "page:2"},
		{"inline query", tgbotapi.Update{InlineQuery: &tgbotapi.InlineQuery{Query: "q"}}, ""},
	} {
		if got := tgbotapilimit.UpdateOf(tc.in).Payload; got != tc.want {
			t.Errorf("%s: Payload %q, want %q", tc.name, got, tc.want)
		}
	}
}
