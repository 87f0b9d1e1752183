package telebotlimit_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/adapters/telebotlimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	tele "gopkg.in/telebot.v3"
)

// testToken matches the format of real tokens.
const testToken = "123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// noticePrefix starts guard.DefaultNoticeText.
const noticePrefix = "Too many requests"

// newBot returns a synchronous telebot bot talking to url (getMe is not
// called), over its own transport, closed when the test ends: handlers run
// one after another on the goroutine that processes the update, so a test
// knows everything an update caused is done once the next one is handled.
func newBot(t testing.TB, url string, poller tele.Poller) *tele.Bot {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	b, err := tele.NewBot(tele.Settings{
		URL: url, Token: testToken, Poller: poller, Synchronous: true, Offline: true,
		Client:  &http.Client{Transport: tr, Timeout: 20 * time.Second},
		OnError: func(err error, _ tele.Context) { t.Errorf("telebot: %v", err) },
	})
	if err != nil {
		t.Fatalf("NewBot: %v", err)
	}
	return b
}

// startPolling starts b (polling the fake server api) and returns a
// function that stops it: it closes api first, so the poller's next
// getUpdates fails at once instead of waiting out its long poll, then calls
// b.Stop and waits for Start to return. The stop function also runs at
// cleanup; calling it twice is harmless.
func startPolling(t testing.TB, api *testutil.BotAPI, b *tele.Bot) (stop func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); b.Start() }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			api.Close()
			b.Stop()
			<-done
		})
	}
	t.Cleanup(stop)
	return stop
}

// newGuard returns a Guard over st with limit l, logging to logs (nil:
// discard).
// settle waits for the answers and notices g is sending off the update
// path (guard.Guard.Respond) to be done.
func settle(t testing.TB, g *guard.Guard) { t.Helper(); testutil.Settle(t, g) }

func newGuard(t testing.TB, st core.Store, l core.Limit, logs *testutil.SyncBuffer, opts ...guard.Option) *guard.Guard {
	t.Helper()
	var logger *slog.Logger
	if logs != nil {
		logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	return testutil.NewGuard(t, st, l, logger, nil, opts...)
}

// keyOf names the scope guard.ByUser counts an update against, or
// "unkeyed".
func keyOf(c tele.Context) string {
	u := c.Update()
	if s, ok := guard.ByUser(telebotlimit.UpdateOf(&u)); ok {
		return s.String()
	}
	return "unkeyed"
}

// recorder counts handler invocations per key.
type recorder struct {
	mu   sync.Mutex
	seen map[string]int
}

func newRecorder() *recorder { return &recorder{seen: map[string]int{}} }

func (r *recorder) record(c tele.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen[keyOf(c)]++
}

func (r *recorder) snapshot() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.seen))
	for k, v := range r.seen {
		out[k] = v
	}
	return out
}

// decode turns a testutil builder's map (or any JSON object) into a
// tele.Update, as telebot's poller would.
func decode(t testing.TB, v any) tele.Update {
	t.Helper()
	var u tele.Update
	if err := jsonRoundTrip(v, &u); err != nil {
		t.Fatalf("decode update: %v", err)
	}
	return u
}

func jsonRoundTrip(in, out any) error {
	if s, ok := in.(string); ok { // JSON text already
		return json.Unmarshal([]byte(s), out)
	}
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}
