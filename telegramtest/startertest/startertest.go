// Package startertest is the conformance suite of floodgate's starter
// bots (examples/gotelegram, examples/gotgbot): every starter reads the
// same environment, answers the same commands and fails the same way, and
// Run checks that against telegramtest's fake Bot API, with no token and
// no network. A starter copied out of the repository keeps its tests: they
// call this public package.
//
// A starter's main_test.go:
//
//	func TestStarter(t *testing.T) {
//		startertest.Run(t, startertest.Starter{Run: run, Framework: "gotgbot"})
//	}
package startertest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/telegramtest"
)

// Starter is the starter bot under test.
type Starter struct {
	// Run is the starter's run function: it serves until ctx ends (then
	// returns nil), reading its configuration (TELEGRAM_BOT_TOKEN,
	// TELEGRAM_API_URL, WEBHOOK_URL, LISTEN_ADDR, WEBHOOK_SECRET,
	// WEBHOOK_INSECURE, FLOODGATE_LIMIT, ...) through lookup and logging to
	// log; a bad configuration or a failed start is an error.
	Run func(ctx context.Context, lookup func(string) (string, bool), log *slog.Logger) error
	// Framework is the name the starter logs in its start-up line
	// ("framework=<Framework>").
	Framework string
}

// Run runs the suite against s as parallel subtests: configuration errors
// that name the variable at fault, a start-up failure without the token,
// polling (commands, echo, the button, another bot's command, a flood of
// 10 at 3/m: 3 echoes and one notice, a graceful stop), webhook mode (the
// secret required, the same flood), the hardened webhook handler, and a
// 409 Conflict that stops the bot saying why.
func Run(t *testing.T, s Starter) {
	t.Helper()
	for _, c := range []struct {
		name string
		test func(*testing.T)
	}{
		{"ConfigErrors", s.configErrors}, {"UnreachableAPI", s.unreachableAPI}, {"Polling", s.polling},
		{"Webhook", s.webhook}, {"WebhookHardening", s.webhookHardening}, {"PollingConflict", s.pollingConflict},
	} {
		t.Run(c.name, c.test)
	}
}

// testToken is a bot token of the shape every framework accepts.
const testToken = "123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// env is a lookup function over a map.
type env map[string]string

func (e env) lookup(name string) (string, bool) { v, ok := e[name]; return v, ok }

// LogBuffer collects a bot's log, written from several goroutines: pass
// it to slog.NewTextHandler and read it with String. The zero value is
// ready to use.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p; it never fails.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

// instance is one run() in a goroutine.
type instance struct {
	cancel context.CancelFunc
	done   chan error
	logs   *LogBuffer
}

// start runs the bot with e as its environment until the test ends.
func (s Starter) start(t *testing.T, e env) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{cancel: cancel, done: make(chan error, 1), logs: &LogBuffer{}}
	go func() { in.done <- s.Run(ctx, e.lookup, slog.New(slog.NewTextHandler(in.logs, nil))) }()
	t.Cleanup(func() { in.stop(t) })
	return in
}

// stop cancels run's context and waits for it to return nil.
func (in *instance) stop(t *testing.T) {
	t.Helper()
	if in.cancel == nil {
		return
	}
	in.cancel()
	in.cancel = nil
	select {
	case err := <-in.done:
		if err != nil {
			t.Errorf("run returned %v after cancel, want nil", err)
		}
	case <-time.After(20 * time.Second):
		t.Errorf("run did not return within 20s of cancel; log:\n%s", in.logs)
	}
}

// waitFor blocks until api received n calls to method and returns them.
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

// FreeAddr returns a loopback address ("127.0.0.1:port") that was free a
// moment ago, for a starter's LISTEN_ADDR or METRICS_ADDR; another process
// may take it before the bot binds it.
func FreeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// countFlood counts the echoes of "flood N" texts and the notices sent to
// chatID.
func countFlood(t *testing.T, api *telegramtest.Server, chatID string) (echoes, notices int) {
	t.Helper()
	for _, c := range api.CallsTo("sendMessage") {
		if c.Params["chat_id"] != chatID {
			continue
		}
		switch text := c.Params["text"]; {
		case strings.HasPrefix(text, "flood "):
			echoes++
		case strings.HasPrefix(text, "Too many requests"):
			notices++
		default:
			t.Errorf("unexpected message to chat %s: %q", chatID, text)
		}
	}
	return echoes, notices
}

func (s Starter) configErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  env
		want string
	}{
		{"no token", env{}, "TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and export its token"},
		{"blank token", env{"TELEGRAM_BOT_TOKEN": "  "}, "TELEGRAM_BOT_TOKEN is not set"},
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
			err := s.Run(context.Background(), tc.env.lookup, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("run = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// unreachableAPI: a start-up failure is an error without the token.
func (s Starter) unreachableAPI(t *testing.T) {
	t.Parallel()
	addr := FreeAddr(t) // nothing listens there
	err := s.Run(context.Background(), env{"TELEGRAM_BOT_TOKEN": testToken, "TELEGRAM_API_URL": "http://" + addr}.lookup,
		slog.New(slog.DiscardHandler))
	if err == nil || strings.Contains(err.Error(), testToken[10:]) || !strings.Contains(err.Error(), "getMe") {
		t.Fatalf("run = %v, want a getMe error without the token", err)
	}
}

func (s Starter) polling(t *testing.T) {
	t.Parallel()
	api := telegramtest.Start(t)
	bot := s.start(t, env{"TELEGRAM_BOT_TOKEN": testToken, "TELEGRAM_API_URL": api.URL() + "/", "FLOODGATE_LIMIT": "3/m"})
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
	api.Push(telegramtest.Message(4, 4, "", "/help@"+telegramtest.DefaultBotUsername))
	if c := waitFor(t, api, "sendMessage", 4)[3]; !strings.Contains(c.Params["text"], "/ping") {
		t.Errorf("/help answered %v", c.Params)
	}
	// Another bot's command is not answered (it may be echoed as text, or
	// ignored): what follows it is the next thing the bot says to chat 6.
	api.Push(telegramtest.Message(6, 6, "", "/ping@OtherBot"))
	api.Push(telegramtest.Message(6, 6, "", "after"))
	for n := 5; ; n++ {
		c := waitFor(t, api, "sendMessage", n)[n-1]
		if c.Params["chat_id"] != "6" {
			continue
		}
		if c.Params["text"] == "pong" {
			t.Errorf("/ping@OtherBot answered pong: another bot's command")
		}
		if c.Params["text"] == "after" {
			break
		}
	}
	sent := len(api.CallsTo("sendMessage"))

	// The limit: 3 of 10 messages from one user are echoed, one notice.
	for i := 1; i <= 10; i++ {
		api.Push(telegramtest.Message(5, 5, "", fmt.Sprintf("flood %d", i)))
	}
	waitFor(t, api, "sendMessage", sent+3+1) // the 3 echoes and the notice
	bot.stop(t)                              // graceful: nothing fetched is left unhandled
	if echoes, notices := countFlood(t, api, "5"); echoes != 3 || notices != 1 {
		t.Errorf("flood of 10: %d echoes, %d notices; want 3 and 1", echoes, notices)
	}
	logs := bot.logs.String()
	if want := `msg="floodgate bot started" framework=` + s.Framework + ` mode=polling config="backend=memory prefix=floodgate limit=3/m"`; !strings.Contains(logs, want) {
		t.Errorf("log lacks %s:\n%s", want, logs)
	}
	if strings.Contains(logs, "level=ERROR") || strings.Contains(logs, testToken[10:]) {
		t.Errorf("log has errors or the token:\n%s", logs)
	}
}

// webhook: in webhook mode the bot registers its URL with the secret,
// refuses requests without it, and limits what Telegram delivers.
func (s Starter) webhook(t *testing.T) {
	t.Parallel()
	api := telegramtest.Start(t)
	addr := FreeAddr(t)
	hook := "http://" + addr + "/telegram"
	bot := s.start(t, env{"TELEGRAM_BOT_TOKEN": testToken, "TELEGRAM_API_URL": api.URL(),
		"WEBHOOK_URL": hook, "LISTEN_ADDR": addr, "WEBHOOK_SECRET": "s3cret", "FLOODGATE_LIMIT": "3/m"})
	if c := waitFor(t, api, "setWebhook", 1)[0]; c.Params["url"] != hook || c.Params["secret_token"] != "s3cret" {
		t.Errorf("setWebhook %v, want %s with secret_token s3cret", c.Params, hook)
	}
	resp, err := http.Post(hook, "application/json", strings.NewReader(`{"update_id":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("webhook without the secret answered %d, want 401", resp.StatusCode)
	}

	api.DeliverToWebhooks() // to the URL the bot set, with its secret
	for i := 1; i <= 10; i++ {
		api.Push(telegramtest.Message(5, 5, "", fmt.Sprintf("flood %d", i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := api.WaitDelivered(ctx); err != nil {
		t.Fatal(err)
	}
	bot.stop(t) // graceful: every delivered update is handled before run returns
	if echoes, notices := countFlood(t, api, "5"); echoes != 3 || notices != 1 {
		t.Errorf("flood of 10: %d echoes, %d notices; want 3 and 1", echoes, notices)
	}
	if logs := bot.logs.String(); !strings.Contains(logs, "mode=webhook") || strings.Contains(logs, "level=ERROR") {
		t.Errorf("log:\n%s", logs)
	}
}

// webhookHardening: the webhook refuses what Telegram never sends (a
// body over 1 MiB gets 413, malformed JSON 400), and with WEBHOOK_INSECURE
// it starts without a secret, warning that forged updates get through.
func (s Starter) webhookHardening(t *testing.T) {
	t.Parallel()
	api := telegramtest.Start(t)
	addr := FreeAddr(t)
	url := "http://" + addr + "/hook"
	bot := s.start(t, env{"TELEGRAM_BOT_TOKEN": testToken, "TELEGRAM_API_URL": api.URL(),
		"WEBHOOK_URL": url, "LISTEN_ADDR": addr, "WEBHOOK_INSECURE": "true"})
	waitFor(t, api, "setWebhook", 1)
	telegramtest.CheckWebhookHardened(t, url, "")
	if logs := bot.logs.String(); !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "forged updates") {
		t.Errorf("no warning about the missing secret:\n%s", logs)
	}
}

// pollingConflict: when another process polls the token, getUpdates
// answers 409 Conflict and the bot stops, saying why and that several
// instances need webhook mode.
func (s Starter) pollingConflict(t *testing.T) {
	t.Parallel()
	api := telegramtest.Start(t)
	api.FailNextError("getUpdates", 1, http.StatusConflict,
		"Conflict: terminated by other getUpdates request; make sure that only one bot instance is running")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e := env{"TELEGRAM_BOT_TOKEN": testToken, "TELEGRAM_API_URL": api.URL()}
	err := s.Run(ctx, e.lookup, slog.New(slog.DiscardHandler))
	if ctx.Err() != nil || err == nil || !strings.Contains(err.Error(), "409 Conflict: another instance is polling") ||
		!strings.Contains(err.Error(), "webhook mode") {
		t.Fatalf("run = %v (ctx: %v), want it to stop at once on the conflict, saying so", err, ctx.Err())
	}
}
