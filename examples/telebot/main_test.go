package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/internal/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testToken matches the format of real tokens.
const testToken = "123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// instance is one run() in the background.
type instance struct {
	cancel context.CancelFunc
	done   chan error
	logs   *testutil.SyncBuffer
}

// start runs run(ctx, env, logger) in the background. Its stop function
// (also run at cleanup) cancels ctx and returns run's result and how long
// it took to return.
func start(t *testing.T, env map[string]string) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{cancel: cancel, done: make(chan error, 1), logs: &testutil.SyncBuffer{}}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	go func() { in.done <- run(ctx, lookup, slog.New(slog.NewTextHandler(in.logs, nil))) }()
	t.Cleanup(func() { in.stop(t) })
	return in
}

func (in *instance) stop(t *testing.T) (time.Duration, error) {
	t.Helper()
	in.cancel()
	began := time.Now()
	select {
	case err := <-in.done:
		in.done <- err // a later stop (cleanup) sees it too
		return time.Since(began), err
	case <-time.After(20 * time.Second):
		t.Fatalf("run did not return within 20 s of ctx cancel; log:\n%s", in.logs)
		return 0, nil
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no token", map[string]string{}, "TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather"},
		{"blank token", map[string]string{"TELEGRAM_BOT_TOKEN": "  "}, "TELEGRAM_BOT_TOKEN is not set"},
		{"webhook url only", map[string]string{"TELEGRAM_BOT_TOKEN": testToken, "WEBHOOK_URL": "https://example.com/hook"},
			"WEBHOOK_URL and LISTEN_ADDR must be set together"},
		{"listen addr only", map[string]string{"TELEGRAM_BOT_TOKEN": testToken, "LISTEN_ADDR": ":8443"},
			"WEBHOOK_URL and LISTEN_ADDR must be set together"},
		{"bad limit", map[string]string{"TELEGRAM_BOT_TOKEN": testToken, "FLOODGATE_LIMIT": "lots"}, "FLOODGATE_LIMIT"},
		{"webhook without a secret", map[string]string{"TELEGRAM_BOT_TOKEN": testToken, "WEBHOOK_URL": "https://x.example/hook", "LISTEN_ADDR": ":8443"},
			"no secret token: set one (WEBHOOK_SECRET"},
		{"secret Telegram refuses", map[string]string{"TELEGRAM_BOT_TOKEN": testToken, "WEBHOOK_URL": "https://x.example/hook", "LISTEN_ADDR": ":8443",
			"WEBHOOK_SECRET": "not allowed!"}, "secret token may only hold"},
		{"bad WEBHOOK_INSECURE", map[string]string{"TELEGRAM_BOT_TOKEN": testToken, "WEBHOOK_INSECURE": "maybe"}, "WEBHOOK_INSECURE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			err := run(t.Context(), lookup, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("run = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestPolling runs the bot by long polling against the fake Bot API with
// 3 updates per minute per user.
func TestPolling(t *testing.T) {
	api := testutil.StartBotAPI(t)
	const alice, bob, spammer = 501, 502, 503
	api.Push(testutil.Message(alice, alice, "", "/start"))
	api.Push(testutil.CallbackQuery(alice, alice, "ping"))
	api.Push(testutil.Message(alice, alice, "", "/ping"))
	api.Push(testutil.Message(bob, bob, "", "/help"))
	api.Push(testutil.Message(bob, bob, "", "hello there"))
	for i := range 10 {
		api.Push(testutil.Message(spammer, spammer, "", fmt.Sprintf("spam %d", i)))
	}

	in := start(t, map[string]string{"TELEGRAM_BOT_TOKEN": testToken, "TELEGRAM_API_URL": api.URL(),
		"FLOODGATE_LIMIT": "3/m"})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	// greeting, pong, help, echo, 3 spam echoes, 1 notice
	if _, err := api.WaitCalls(ctx, "sendMessage", 8); err != nil {
		t.Fatalf("%v; log:\n%s", err, in.logs)
	}
	if _, err := api.WaitCalls(ctx, "answerCallbackQuery", 1); err != nil {
		t.Fatal(err)
	}
	took, err := in.stop(t)
	if err != nil {
		t.Fatalf("run = %v, want nil", err)
	}
	t.Logf("run returned %v after ctx cancel", took)
	if took > 2*time.Second {
		t.Errorf("run took %v to return after cancel, want well under the 25 s poll timeout", took)
	}

	byChat := map[string][]string{}
	for _, c := range api.CallsTo("sendMessage") {
		byChat[c.Params["chat_id"]] = append(byChat[c.Params["chat_id"]], c.Params["text"])
		if c.Params["text"] == "Hello! I echo what you write. Try /ping, or the button." &&
			!strings.Contains(c.Params["reply_markup"], `"callback_data":"ping"`) {
			t.Errorf("greeting's reply_markup %s has no button with callback data ping", c.Params["reply_markup"])
		}
	}
	// Handlers run concurrently, so replies may come in any order.
	if got := slices.Sorted(slices.Values(byChat[strconv.Itoa(alice)])); !slices.Equal(got,
		[]string{"Hello! I echo what you write. Try /ping, or the button.", "pong"}) {
		t.Errorf("alice got %q", got)
	}
	if got := slices.Sorted(slices.Values(byChat[strconv.Itoa(bob)])); len(got) != 2 ||
		!strings.HasPrefix(got[0], "/start - ") || got[1] != "hello there" {
		t.Errorf("bob got %q", got)
	}
	echoes, notices := 0, 0
	for _, text := range byChat[strconv.Itoa(spammer)] {
		switch {
		case strings.HasPrefix(text, "spam "):
			echoes++
		case strings.HasPrefix(text, "Too many requests"):
			notices++
		default:
			t.Errorf("spammer got %q", text)
		}
	}
	if echoes != 3 || notices != 1 {
		t.Errorf("spammer: %d echoes and %d notices, want 3 and 1", echoes, notices)
	}
	if answers := api.CallsTo("answerCallbackQuery"); len(answers) != 1 || answers[0].Params["text"] != "pong" {
		t.Errorf("callback answers %v, want one with text pong", answers)
	}
	for _, want := range []string{`msg="floodgate bot started" framework=telebot mode=polling`,
		`config="backend=memory prefix=floodgate limit=3/m"`} {
		if !strings.Contains(in.logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, in.logs)
		}
	}
	if strings.Contains(in.logs.String(), "level=ERROR") || strings.Contains(in.logs.String(), testToken) {
		t.Errorf("log:\n%s", in.logs)
	}
}

// TestThreeInstancesOneLimit runs three instances of the bot in webhook
// mode over one Redis, and floods them with one user's messages spread
// round-robin: the limit and the notice hold across instances.
func TestThreeInstancesOneLimit(t *testing.T) {
	srv := testutil.StartRedis(t)
	api := testutil.StartBotAPI(t)
	const secret = "s3cret-token"
	var urls []string
	var instances []*instance
	for range 3 {
		addr := testutil.FreeAddr(t)
		url := "http://" + addr + "/telegram"
		urls = append(urls, url)
		instances = append(instances, start(t, map[string]string{
			"TELEGRAM_BOT_TOKEN": testToken, "TELEGRAM_API_URL": api.URL(),
			"WEBHOOK_URL": url, "LISTEN_ADDR": addr, "WEBHOOK_SECRET": secret,
			"FLOODGATE_STORE": "redis", "REDIS_URL": srv.URL(), "FLOODGATE_LIMIT": "5/h burst 5",
			// Exactness is the point here: under -race on a loaded CI machine a
			// Redis call can exceed the 50 ms default, and FailLocal would then
			// decide that update locally (docs/stores.md#failure-policy).
			"FLOODGATE_TIMEOUT": "2s",
		}))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	// Each instance listens before it calls setWebhook.
	if _, err := api.WaitCalls(ctx, "setWebhook", 3); err != nil {
		t.Fatalf("%v; logs:\n%s\n%s\n%s", err, instances[0].logs, instances[1].logs, instances[2].logs)
	}
	for _, c := range api.CallsTo("setWebhook") {
		if !slices.Contains(urls, c.Params["url"]) || c.Params["secret_token"] != secret {
			t.Errorf("setWebhook %v", c.Params)
		}
	}

	// Requests without the secret, or not POST, are refused.
	for _, tc := range []struct {
		method, secret string
		want           int
	}{{http.MethodPost, "", http.StatusUnauthorized}, {http.MethodPost, "wrong", http.StatusUnauthorized},
		{http.MethodGet, secret, http.StatusMethodNotAllowed}} {
		req, _ := http.NewRequestWithContext(ctx, tc.method, urls[0], strings.NewReader(`{"update_id":1}`))
		if tc.secret != "" {
			req.Header.Set("X-Telegram-Bot-Api-Secret-Token", tc.secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s with secret %q: status %d, want %d", tc.method, tc.secret, resp.StatusCode, tc.want)
		}
	}
	http.DefaultClient.CloseIdleConnections()

	const user, flood = 777, 60
	updateText := map[int64]string{}
	for i := range flood {
		text := fmt.Sprintf("flood %d", i)
		updateText[api.Push(testutil.Message(user, user, "", text))] = text
	}
	api.DeliverToWebhooks(urls...)
	if err := api.WaitDelivered(ctx); err != nil {
		t.Fatal(err)
	}
	// Handlers run inside the webhook request, so every reply is recorded by
	// now; the notice goes out off the update path: wait for it (5 echoes
	// and 1 notice; more would be counted below).
	if _, err := api.WaitCalls(ctx, "sendMessage", 6); err != nil {
		t.Fatal(err)
	}

	echoed := map[string]bool{}
	notices := 0
	for _, c := range api.CallsTo("sendMessage") {
		switch text := c.Params["text"]; {
		case strings.HasPrefix(text, "flood "):
			echoed[text] = true
		case strings.HasPrefix(text, "Too many requests"):
			notices++
		default:
			t.Errorf("unexpected sendMessage %q", text)
		}
	}
	if len(api.CallsTo("sendMessage")) != len(echoed)+notices {
		t.Errorf("some text was echoed twice")
	}
	if len(echoed) != 5 || notices != 1 {
		t.Errorf("total echoes %d and notices %d across 3 instances, want exactly 5 and 1", len(echoed), notices)
	}

	delivered, passed := map[string]int{}, map[string]int{}
	for _, d := range api.Deliveries() {
		if d.OK() {
			delivered[d.URL]++
			if echoed[updateText[d.UpdateID]] {
				passed[d.URL]++
			}
		}
	}
	if n := delivered[urls[0]] + delivered[urls[1]] + delivered[urls[2]]; n != flood {
		t.Errorf("%d updates delivered, want %d", n, flood)
	}
	for i, u := range urls {
		t.Logf("instance %d (%s): %d updates delivered, %d passed", i+1, u, delivered[u], passed[u])
	}
	t.Logf("total: %d echoes, %d notice(s)", len(echoed), notices)

	for i, in := range instances {
		took, err := in.stop(t)
		if err != nil {
			t.Errorf("instance %d: run = %v, want nil", i+1, err)
		}
		if took > 5*time.Second {
			t.Errorf("instance %d took %v to stop", i+1, took)
		}
		logs := in.logs.String()
		if !strings.Contains(logs, "mode=webhook") || !strings.Contains(logs, "backend=redis") ||
			strings.Contains(logs, "level=ERROR") {
			t.Errorf("instance %d log:\n%s", i+1, logs)
		}
	}
}

// scrapeMetrics GETs http://addr/metrics.
func scrapeMetrics(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// With METRICS_ADDR set, the bot serves /metrics and counts its decisions
// (each is counted before its handler runs, so two echoes mean two counts).
func TestMetricsAddr(t *testing.T) {
	api := testutil.StartBotAPI(t)
	addr := testutil.FreeAddr(t)
	bot := start(t, map[string]string{"TELEGRAM_BOT_TOKEN": testToken, "TELEGRAM_API_URL": api.URL(),
		"FLOODGATE_LIMIT": "5/m", "METRICS_ADDR": addr})
	api.Push(testutil.Message(40, 40, "", "one"))
	api.Push(testutil.Message(40, 40, "", "two"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := api.WaitCalls(ctx, "sendMessage", 2); err != nil {
		t.Fatal(err)
	}
	body := scrapeMetrics(t, addr)
	for _, want := range []string{`floodgate_decisions_total{prefix="floodgate",result="allowed",rule="msg",source="store"} 2`, "go_goroutines"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if _, err := bot.stop(t); err != nil {
		t.Fatalf("run() = %v", err)
	}
}

// TestWebhookHardening: the webhook refuses what Telegram never sends (a
// body over 1 MiB gets 413, malformed JSON 400), and with WEBHOOK_INSECURE
// it starts without a secret, warning that forged updates get through.
func TestWebhookHardening(t *testing.T) {
	api := testutil.StartBotAPI(t)
	addr := testutil.FreeAddr(t)
	url := "http://" + addr + "/hook"
	bot := start(t, map[string]string{"TELEGRAM_BOT_TOKEN": testToken, "TELEGRAM_API_URL": api.URL(),
		"WEBHOOK_URL": url, "LISTEN_ADDR": addr, "WEBHOOK_INSECURE": "true"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := api.WaitCalls(ctx, "setWebhook", 1); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		body string
		want int
	}{{strings.Repeat("x", 2<<20), http.StatusRequestEntityTooLarge}, {`{"update_id":`, http.StatusBadRequest},
		{`{"update_id":1}`, http.StatusOK}} {
		resp, err := http.Post(url, "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%.20q...: status %d, want %d", tc.body, resp.StatusCode, tc.want)
		}
	}
	http.DefaultClient.CloseIdleConnections()
	if logs := bot.logs.String(); !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "forged updates") {
		t.Errorf("no warning about the missing secret:\n%s", logs)
	}
}

// TestPollingConflict: when another process polls the token, getUpdates
// answers 409 Conflict and the bot stops, saying why and that several
// instances need webhook mode.
func TestPollingConflict(t *testing.T) {
	api := testutil.StartBotAPI(t)
	api.FailNextError("getUpdates", 1, http.StatusConflict,
		"Conflict: terminated by other getUpdates request; make sure that only one bot instance is running")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e := map[string]string{"TELEGRAM_BOT_TOKEN": testToken, "TELEGRAM_API_URL": api.URL()}
	err := run(ctx, func(k string) (string, bool) { v, ok := e[k]; return v, ok }, slog.New(slog.DiscardHandler))
	if ctx.Err() != nil || err == nil || !strings.Contains(err.Error(), "409 Conflict: another instance is polling") ||
		!strings.Contains(err.Error(), "webhook mode") {
		t.Fatalf("run = %v (ctx: %v), want it to stop at once on the conflict, saying so", err, ctx.Err())
	}
}
