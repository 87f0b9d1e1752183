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

	"github.com/floodgate-go/floodgate/telegramtest"
	"github.com/floodgate-go/floodgate/telegramtest/startertest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestStarter runs the starters' conformance suite: configuration errors,
// polling, webhook mode, a flood, a 409 Conflict (see startertest.Run).
func TestStarter(t *testing.T) {
	startertest.Run(t, startertest.Starter{Run: run, Framework: "telebot"})
}

// testToken matches the format of real tokens.
const testToken = "123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// instance is one run() in the background.
type instance struct {
	cancel context.CancelFunc
	done   chan error
	logs   *startertest.LogBuffer
}

// start runs run(ctx, env, logger) in the background. Its stop function
// (also run at cleanup) cancels ctx and returns run's result and how long
// it took to return.
func start(t *testing.T, env map[string]string) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{cancel: cancel, done: make(chan error, 1), logs: &startertest.LogBuffer{}}
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

// TestPolling runs the bot by long polling against the fake Bot API with
// 3 updates per minute per user.
func TestPolling(t *testing.T) {
	t.Parallel()
	api := telegramtest.Start(t)
	const alice, bob, spammer = 501, 502, 503
	api.Push(telegramtest.Message(alice, alice, "", "/start"))
	api.Push(telegramtest.CallbackQuery(alice, alice, "ping"))
	api.Push(telegramtest.Message(alice, alice, "", "/ping"))
	api.Push(telegramtest.Message(bob, bob, "", "/help"))
	api.Push(telegramtest.Message(bob, bob, "", "hello there"))
	for i := range 10 {
		api.Push(telegramtest.Message(spammer, spammer, "", fmt.Sprintf("spam %d", i)))
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
	t.Parallel()
	api := telegramtest.Start(t)
	addr := startertest.FreeAddr(t)
	bot := start(t, map[string]string{"TELEGRAM_BOT_TOKEN": testToken, "TELEGRAM_API_URL": api.URL(),
		"FLOODGATE_LIMIT": "5/m", "METRICS_ADDR": addr})
	api.Push(telegramtest.Message(40, 40, "", "one"))
	api.Push(telegramtest.Message(40, 40, "", "two"))
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
