package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
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
	startertest.Run(t, startertest.Starter{Run: run, Framework: "tgbotapi"})
}

const testToken = "123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

func lookupIn(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// instance is one run() in a goroutine.
type instance struct {
	cancel context.CancelFunc
	done   chan error
	logs   *startertest.LogBuffer
}

func start(t *testing.T, env map[string]string) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{cancel: cancel, done: make(chan error, 1), logs: &startertest.LogBuffer{}}
	log := slog.New(slog.NewTextHandler(in.logs, nil))
	go func() { in.done <- run(ctx, lookupIn(env), log) }()
	t.Cleanup(func() { _ = in.stop(t) })
	return in
}

// stop cancels run's ctx and waits for it to return, at most 5 s.
func (in *instance) stop(t *testing.T) error {
	t.Helper()
	in.cancel()
	select {
	case err, ok := <-in.done:
		if ok {
			close(in.done)
		}
		return err
	case <-time.After(5 * time.Second):
		buf := make([]byte, 1<<20)
		t.Log(string(buf[:runtime.Stack(buf, true)]))
		t.Fatal("run did not return within 5 s of ctx cancel")
		return nil
	}
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestRunGetMeErrorHidesToken: an unreachable API fails at start-up, and
// the error does not show the token.
func TestRunGetMeErrorHidesToken(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	err = run(context.Background(), lookupIn(map[string]string{"TELEGRAM_BOT_TOKEN": testToken, "TELEGRAM_API_URL": dead}),
		slog.New(slog.DiscardHandler))
	if err == nil || strings.Contains(err.Error(), testToken) || !strings.Contains(err.Error(), "xxxxx") {
		t.Errorf("run() = %v, want a getMe error with the token masked", err)
	}
}

// TestRunPolling drives run() by long polling: the commands, the button,
// the echo, and a limit of 3 per minute with one notice.
func TestRunPolling(t *testing.T) {
	t.Parallel()
	api := telegramtest.Start(t)
	bot := start(t, map[string]string{"TELEGRAM_BOT_TOKEN": testToken, "TELEGRAM_API_URL": api.URL(),
		"FLOODGATE_LIMIT": "3/m"})

	api.Push(telegramtest.Message(11, 11, "private", "/ping"))
	api.Push(telegramtest.Message(12, 12, "private", "hello there"))
	api.Push(telegramtest.Message(13, 13, "private", "/start"))
	api.Push(telegramtest.CallbackQuery(14, 14, "ping"))
	api.Push(telegramtest.Message(15, 15, "private", "/help@floodgate_test_bot"))
	for i := range 10 {
		api.Push(telegramtest.Message(20, 20, "private", fmt.Sprintf("flood %d", i)))
	}
	api.Push(telegramtest.Message(99, 99, "private", "/ping")) // last: handled after everything above

	// pong, echo, greeting, help, 3 flood echoes, 1 notice, pong.
	if _, err := api.WaitCalls(waitCtx(t), "sendMessage", 9); err != nil {
		t.Fatal(err)
	}
	if _, err := api.WaitCalls(waitCtx(t), "answerCallbackQuery", 1); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if err := bot.stop(t); err != nil {
		t.Fatalf("run() = %v after ctx cancel, want nil", err)
	}
	if d := time.Since(began); d > time.Second {
		t.Errorf("run took %v to return after ctx cancel, want it prompt", d)
	}

	byChat := map[string][]string{}
	for _, c := range api.CallsTo("sendMessage") {
		byChat[c.Params["chat_id"]] = append(byChat[c.Params["chat_id"]], c.Params["text"])
	}
	if got := byChat["11"]; len(got) != 1 || got[0] != "pong" {
		t.Errorf("/ping got %q, want pong", got)
	}
	if got := byChat["12"]; len(got) != 1 || got[0] != "hello there" {
		t.Errorf("echo got %q", got)
	}
	if got := byChat["13"]; len(got) != 1 || got[0] != greeting {
		t.Errorf("/start got %q", got)
	}
	if got := byChat["15"]; len(got) != 1 || got[0] != helpText {
		t.Errorf("/help got %q", got)
	}
	for _, c := range api.CallsTo("sendMessage") {
		if c.Params["chat_id"] == "13" && !strings.Contains(c.Params["reply_markup"], `"callback_data":"ping"`) {
			t.Errorf("/start reply_markup %q lacks the ping button", c.Params["reply_markup"])
		}
	}
	cb := api.CallsTo("answerCallbackQuery")
	if len(cb) != 1 || cb[0].Params["text"] != "pong" {
		t.Errorf("button answers %v, want one pong", cb)
	}
	var echoes, notices int
	for _, text := range byChat["20"] {
		switch {
		case strings.HasPrefix(text, "flood "):
			echoes++
		case strings.HasPrefix(text, "Too many requests"):
			notices++
		default:
			t.Errorf("unexpected reply to the flooder: %q", text)
		}
	}
	if echoes != 3 || notices != 1 {
		t.Errorf("flood of 10 under 3/m: %d echoes and %d notices, want 3 and 1", echoes, notices)
	}
	if len(api.CallsTo("sendMessage")) != 9 {
		t.Errorf("%d sendMessage calls, want 9", len(api.CallsTo("sendMessage")))
	}
	wantLog := `msg="floodgate bot started" framework=tgbotapi mode=polling config="backend=memory prefix=floodgate limit=3/m"`
	if !strings.Contains(bot.logs.String(), wantLog) {
		t.Errorf("log lacks %s:\n%s", wantLog, bot.logs)
	}
}

// TestWebhookSecret: with WEBHOOK_SECRET the bot passes it to setWebhook
// and refuses deliveries that do not carry it.
func TestWebhookSecret(t *testing.T) {
	t.Parallel()
	api := telegramtest.Start(t)
	addr := startertest.FreeAddr(t)
	hook := "http://" + addr + "/hook"
	bot := start(t, map[string]string{"TELEGRAM_BOT_TOKEN": testToken, "TELEGRAM_API_URL": api.URL(),
		"WEBHOOK_URL": hook, "LISTEN_ADDR": addr, "WEBHOOK_SECRET": "s3cret"})
	calls, err := api.WaitCalls(waitCtx(t), "setWebhook", 1)
	if err != nil {
		t.Fatal(err)
	}
	if p := calls[0].Params; p["url"] != hook || p["secret_token"] != "s3cret" {
		t.Fatalf("setWebhook params %v", p)
	}
	api.Push(telegramtest.Message(1, 1, "private", "/ping"))
	api.DeliverToWebhooks() // to setWebhook's URL, with its secret
	if err := api.WaitDelivered(waitCtx(t)); err != nil {
		t.Fatal(err)
	}

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	body := `{"update_id":99,"message":{"message_id":1,"from":{"id":2},"chat":{"id":2,"type":"private"},"date":1,"text":"/ping"}}`
	for _, secret := range []string{"", "wrong"} {
		req, _ := http.NewRequest(http.MethodPost, hook, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if secret != "" {
			req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
		}
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("delivery with secret %q: status %d, want 401", secret, resp.StatusCode)
		}
	}
	if err := bot.stop(t); err != nil {
		t.Fatal(err)
	}
	if got := api.CallsTo("sendMessage"); len(got) != 1 || got[0].Params["chat_id"] != "1" || got[0].Params["text"] != "pong" {
		t.Errorf("sendMessage calls %v, want one pong to chat 1", got)
	}
}

// With METRICS_ADDR set, the bot serves /metrics and counts its decisions.
func TestMetricsAddr(t *testing.T) {
	t.Parallel()
	api := telegramtest.Start(t)
	addr := startertest.FreeAddr(t)
	bot := start(t, map[string]string{"TELEGRAM_BOT_TOKEN": testToken, "TELEGRAM_API_URL": api.URL(),
		"FLOODGATE_LIMIT": "2/m", "METRICS_ADDR": addr})
	for i := range 4 {
		api.Push(telegramtest.Message(30, 30, "private", fmt.Sprintf("m %d", i)))
	}
	// Filter decides updates one at a time, in order: once the last /ping is
	// answered, every decision before it has been counted. The notice goes
	// out on a goroutine of its own and is counted once its call returns.
	api.Push(telegramtest.Message(99, 99, "private", "/ping"))
	// two echoes, one notice, one pong
	if _, err := api.WaitCalls(waitCtx(t), "sendMessage", 4); err != nil {
		t.Fatal(err)
	}
	const noticeCounted = `floodgate_actions_total{action="sendMessage",kind="message",result="ok"} 1`
	var body []byte
	for ctx := waitCtx(t); ctx.Err() == nil && !strings.Contains(string(body), noticeCounted); {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{
		`floodgate_decisions_total{prefix="floodgate",result="allowed",rule="msg",source="store"} 3`,
		`floodgate_decisions_total{prefix="floodgate",result="denied",rule="msg",source="store"} 2`,
		`floodgate_actions_total{action="sendMessage",kind="message",result="ok"} 1`,
		"go_goroutines",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if err := bot.stop(t); err != nil {
		t.Fatalf("run() = %v", err)
	}
}
