package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/telegramtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testToken matches telego's token format (^\d+:[\w-]{35}$).
const testToken = "123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// env is a lookup function over a map.
type env map[string]string

func (e env) lookup(name string) (string, bool) { v, ok := e[name]; return v, ok }

// instance is one run() in a goroutine.
type instance struct {
	cancel context.CancelFunc
	done   chan error
	logs   *logBuffer
}

func start(t *testing.T, e env) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{cancel: cancel, done: make(chan error, 1), logs: &logBuffer{}}
	log := slog.New(slog.NewTextHandler(in.logs, nil))
	go func() { in.done <- run(ctx, e.lookup, log) }()
	t.Cleanup(func() { in.stop(t) })
	return in
}

// stop cancels run's context and returns how long run took to return. It
// may be called from a goroutine other than the test's.
func (in *instance) stop(t *testing.T) time.Duration {
	t.Helper()
	if in.cancel == nil {
		return 0
	}
	in.cancel()
	in.cancel = nil
	begin := time.Now()
	select {
	case err := <-in.done:
		if err != nil {
			t.Errorf("run returned %v after cancel, want nil", err)
		}
	case <-time.After(20 * time.Second):
		t.Errorf("run did not return within 20s of cancel; log:\n%s", in.logs) // not Fatal: may run in a goroutine
	}
	return time.Since(begin)
}

// waitFor blocks until api received n calls to method.
func waitFor(t *testing.T, api *telegramtest.Server, method string, n int) []telegramtest.Call {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	calls, err := api.WaitCalls(ctx, method, n)
	if err != nil {
		t.Fatal(err)
	}
	return calls
}

// waitFetched blocks until the bot confirmed every update up to lastID: it
// asked getUpdates for a higher offset, which telego does only after it has
// queued the previous batch for its handlers.
func waitFetched(t *testing.T, api *telegramtest.Server, lastID int64) {
	t.Helper()
	for n := 1; ; n++ {
		for _, c := range waitFor(t, api, "getUpdates", n) {
			if off, _ := strconv.ParseInt(c.Params["offset"], 10, 64); off > lastID {
				return
			}
		}
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  env
		want string
	}{
		{"no token", env{}, "TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and export its token"},
		{"blank token", env{"TELEGRAM_BOT_TOKEN": "  "}, "TELEGRAM_BOT_TOKEN is not set"},
		{"bad token", env{"TELEGRAM_BOT_TOKEN": "not-a-token"}, "TELEGRAM_BOT_TOKEN: telego: invalid token format"},
		{"webhook url alone", env{"TELEGRAM_BOT_TOKEN": testToken, "WEBHOOK_URL": "https://x.example/hook"},
			"WEBHOOK_URL and LISTEN_ADDR must be set together"},
		{"listen addr alone", env{"TELEGRAM_BOT_TOKEN": testToken, "LISTEN_ADDR": ":8443"},
			"WEBHOOK_URL and LISTEN_ADDR must be set together"},
		{"bad limit", env{"TELEGRAM_BOT_TOKEN": testToken, "FLOODGATE_LIMIT": "lots"}, "FLOODGATE_LIMIT"},
		{"webhook without a secret", env{"TELEGRAM_BOT_TOKEN": testToken, "WEBHOOK_URL": "https://x.example/hook", "LISTEN_ADDR": ":8443"},
			"no secret token: set one (WEBHOOK_SECRET"},
		{"secret Telegram refuses", env{"TELEGRAM_BOT_TOKEN": testToken, "WEBHOOK_URL": "https://x.example/hook", "LISTEN_ADDR": ":8443",
			"WEBHOOK_SECRET": "not allowed!"}, "secret token may only hold"},
		{"bad WEBHOOK_INSECURE", env{"TELEGRAM_BOT_TOKEN": testToken, "WEBHOOK_INSECURE": "maybe"}, "WEBHOOK_INSECURE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.env.lookup, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("run = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestUnreachableAPI: a start-up failure is an error without the token.
func TestUnreachableAPI(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // connection refused from now on
	err = run(context.Background(), env{"TELEGRAM_BOT_TOKEN": testToken, "TELEGRAM_API_URL": "http://" + addr}.lookup,
		slog.New(slog.DiscardHandler))
	if err == nil || strings.Contains(err.Error(), testToken) || !strings.Contains(err.Error(), "deleteWebhook") {
		t.Fatalf("run = %v, want a deleteWebhook error without the token", err)
	}
}

func TestPolling(t *testing.T) {
	t.Parallel()
	api := telegramtest.Start(t)
	bot := start(t, env{"TELEGRAM_BOT_TOKEN": testToken, "TELEGRAM_API_URL": api.URL() + "/", "FLOODGATE_LIMIT": "3/m"})
	waitFor(t, api, "getUpdates", 1)

	api.Push(telegramtest.Message(1, 1, "", "/ping"))
	if c := waitFor(t, api, "sendMessage", 1)[0]; c.Params["text"] != "pong" || c.Params["chat_id"] != "1" {
		t.Errorf("/ping answered %v, want pong to chat 1", c.Params)
	}
	api.Push(telegramtest.Message(2, 2, "", "hello there"))
	if c := waitFor(t, api, "sendMessage", 2)[1]; c.Params["text"] != "hello there" || c.Params["chat_id"] != "2" {
		t.Errorf("echo answered %v, want hello there to chat 2", c.Params)
	}
	api.Push(telegramtest.Message(3, 3, "", "/start"))
	if c := waitFor(t, api, "sendMessage", 3)[2]; !strings.Contains(c.Params["reply_markup"], `"callback_data":"ping"`) {
		t.Errorf("/start answered %v, want a button with callback data ping", c.Params)
	}
	api.Push(telegramtest.CallbackQuery(3, 3, "ping"))
	if c := waitFor(t, api, "answerCallbackQuery", 1)[0]; c.Params["text"] != "pong" {
		t.Errorf("button answered %v, want pong", c.Params)
	}
	api.Push(telegramtest.Message(4, 4, "", "/help"))
	if c := waitFor(t, api, "sendMessage", 4)[3]; !strings.Contains(c.Params["text"], "/ping") {
		t.Errorf("/help answered %v", c.Params)
	}

	// The limit: 3 of 10 messages from one user are echoed, one notice.
	var last int64
	for i := 1; i <= 10; i++ {
		last = api.Push(telegramtest.Message(5, 5, "", fmt.Sprintf("flood %d", i)))
	}
	waitFetched(t, api, last)
	took := bot.stop(t) // graceful: returns once every fetched update is handled
	t.Logf("run returned %v after cancel", took)
	// The handlers finish first: 3 echoes and a notice to one private
	// chat, which the outbound throttle spaces a second apart (3 s).
	if took > 6*time.Second {
		t.Errorf("run took %v to return after cancel", took)
	}
	echoes, notices := 0, 0
	for _, c := range api.CallsTo("sendMessage") {
		if c.Params["chat_id"] != "5" {
			continue
		}
		switch text := c.Params["text"]; {
		case strings.HasPrefix(text, "flood "):
			echoes++
		case strings.HasPrefix(text, "Too many requests"):
			notices++
		default:
			t.Errorf("unexpected message to the flooder: %q", text)
		}
	}
	if echoes != 3 || notices != 1 {
		t.Errorf("flood of 10: %d echoes, %d notices; want 3 and 1", echoes, notices)
	}
	logs := bot.logs.String()
	if want := `msg="floodgate bot started" framework=telego mode=polling config="backend=memory prefix=floodgate limit=3/m"`; !strings.Contains(logs, want) {
		t.Errorf("log lacks %s:\n%s", want, logs)
	}
	if strings.Contains(logs, "level=ERROR") || strings.Contains(logs, testToken) {
		t.Errorf("log has errors or the token:\n%s", logs)
	}
}

// With METRICS_ADDR set, the bot serves /metrics and counts its decisions
// (each is counted before its handler runs, so two echoes mean two counts).
func TestMetricsAddr(t *testing.T) {
	t.Parallel()
	api := telegramtest.Start(t)
	addr := freeAddr(t)
	bot := start(t, env{"TELEGRAM_BOT_TOKEN": testToken, "TELEGRAM_API_URL": api.URL(), "FLOODGATE_LIMIT": "5/m", "METRICS_ADDR": addr})
	waitFor(t, api, "getUpdates", 1)
	api.Push(telegramtest.Message(40, 40, "", "one"))
	api.Push(telegramtest.Message(40, 40, "", "two"))
	waitFor(t, api, "sendMessage", 2)
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`floodgate_decisions_total{prefix="floodgate",result="allowed",rule="msg",source="store"} 2`, "go_goroutines"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	bot.stop(t)
}

// TestWebhookHardening: the webhook refuses what Telegram never sends (a
// body over 1 MiB gets 413, malformed JSON 400), and with WEBHOOK_INSECURE
// it starts without a secret, warning that forged updates get through.
func TestWebhookHardening(t *testing.T) {
	t.Parallel()
	api := telegramtest.Start(t)
	addr := freeAddr(t)
	url := "http://" + addr + "/hook"
	bot := start(t, env{"TELEGRAM_BOT_TOKEN": testToken, "TELEGRAM_API_URL": api.URL(),
		"WEBHOOK_URL": url, "LISTEN_ADDR": addr, "WEBHOOK_INSECURE": "true"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := api.WaitCalls(ctx, "setWebhook", 1); err != nil {
		t.Fatal(err)
	}
	telegramtest.CheckWebhookHardened(t, url, "")
	if logs := bot.logs.String(); !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "forged updates") {
		t.Errorf("no warning about the missing secret:\n%s", logs)
	}
}

// TestPollingConflict: when another process polls the token, getUpdates
// answers 409 Conflict and the bot stops, saying why and that several
// instances need webhook mode.
func TestPollingConflict(t *testing.T) {
	t.Parallel()
	api := telegramtest.Start(t)
	api.FailNextError("getUpdates", 1, http.StatusConflict,
		"Conflict: terminated by other getUpdates request; make sure that only one bot instance is running")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e := env{"TELEGRAM_BOT_TOKEN": testToken, "TELEGRAM_API_URL": api.URL()}
	err := run(ctx, e.lookup, slog.New(slog.DiscardHandler))
	if ctx.Err() != nil || err == nil || !strings.Contains(err.Error(), "409 Conflict: another instance is polling") ||
		!strings.Contains(err.Error(), "webhook mode") {
		t.Fatalf("run = %v (ctx: %v), want it to stop at once on the conflict, saying so", err, ctx.Err())
	}
}

// logBuffer collects the bot's log, written from several goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}
func (b *logBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
