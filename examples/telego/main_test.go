package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/telegramtest"
	"github.com/floodgate-go/floodgate/telegramtest/startertest"
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
	logs   *startertest.LogBuffer
}

func start(t *testing.T, e env) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{cancel: cancel, done: make(chan error, 1), logs: &startertest.LogBuffer{}}
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

// TestStarter runs the starters' conformance suite: configuration errors,
// polling, webhook mode, a flood, a 409 Conflict (see startertest.Run).
func TestStarter(t *testing.T) {
	startertest.Run(t, startertest.Starter{Run: run, Framework: "telego"})
}

// TestBadToken: telego refuses a token of the wrong shape before any call.
func TestBadToken(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), env{"TELEGRAM_BOT_TOKEN": "not-a-token"}.lookup, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "TELEGRAM_BOT_TOKEN: telego: invalid token format") {
		t.Fatalf("run = %v, want telego's invalid token format error", err)
	}
}

// TestGracefulStop: the updates fetched when the bot is stopped are all
// handled before run returns: a flood of 10 at 3/m gives 3 echoes and one
// notice, though the stop comes as soon as the last update was fetched.
func TestGracefulStop(t *testing.T) {
	t.Parallel()
	api := telegramtest.Start(t)
	bot := start(t, env{"TELEGRAM_BOT_TOKEN": testToken, "TELEGRAM_API_URL": api.URL(), "FLOODGATE_LIMIT": "3/m"})
	waitFor(t, api, "getUpdates", 1)

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
	if logs := bot.logs.String(); strings.Contains(logs, "level=ERROR") || strings.Contains(logs, testToken) {
		t.Errorf("log has errors or the token:\n%s", logs)
	}
}

// With METRICS_ADDR set, the bot serves /metrics and counts its decisions
// (each is counted before its handler runs, so two echoes mean two counts).
func TestMetricsAddr(t *testing.T) {
	t.Parallel()
	api := telegramtest.Start(t)
	addr := startertest.FreeAddr(t)
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
