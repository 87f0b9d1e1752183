package tgbotapilimit_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/adapters/tgbotapilimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// testToken matches the format of real tokens.
const testToken = "123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// pollingClient ties getUpdates to ctx and, once ctx is done, answers it
// with no updates at once. tgbotapi's poller then sees StopReceivingUpdates
// without waiting out its long poll, and without the 3 s sleep that follows
// a failed request. Other methods go through unchanged.
type pollingClient struct {
	ctx context.Context
	c   *http.Client
}

func (p pollingClient) Do(req *http.Request) (*http.Response, error) {
	if !strings.HasSuffix(req.URL.Path, "/getUpdates") {
		return p.c.Do(req)
	}
	body, err := func() ([]byte, error) {
		resp, err := p.c.Do(req.WithContext(p.ctx))
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return io.ReadAll(resp.Body) // read here, so a late cancel cannot break the decoding
	}()
	if err != nil {
		if p.ctx.Err() == nil {
			return nil, err
		}
		body = []byte(`{"ok":true,"result":[]}`)
	}
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(body)), Request: req}, nil
}

// newBot returns a tgbotapi bot talking to api (NewBotAPIWithClient calls
// getMe at once), over its own transport, closed when the test ends. Its
// long polls end as soon as ctx is done.
func newBot(t testing.TB, ctx context.Context, api *testutil.BotAPI) *tgbotapi.BotAPI {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	client := pollingClient{ctx: ctx, c: &http.Client{Transport: tr, Timeout: 40 * time.Second}}
	bot, err := tgbotapi.NewBotAPIWithClient(testToken, api.URL()+"/bot%s/%s", client)
	if err != nil {
		t.Fatalf("NewBotAPIWithClient: %v", err)
	}
	return bot
}

// poller is a bot reading api by long polling through Filter.
type poller struct {
	bot     *tgbotapi.BotAPI
	updates tgbotapi.UpdatesChannel
	out     <-chan tgbotapi.Update
	cancel  context.CancelFunc
	once    sync.Once
}

// startPolling starts polling api through Filter with g. The test reads
// p.out; p.stop (also run at cleanup) shuts everything down.
func startPolling(t testing.TB, api *testutil.BotAPI, g *core.Guard) *poller {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &poller{bot: newBot(t, ctx, api), cancel: cancel}
	p.updates = p.bot.GetUpdatesChan(tgbotapi.UpdateConfig{Timeout: 30})
	p.out = tgbotapilimit.Filter(ctx, p.bot, g, p.updates)
	t.Cleanup(p.stop)
	return p
}

// stop is the documented shutdown: cancel the Filter, stop the poller once,
// drain both channels until they close.
func (p *poller) stop() {
	p.once.Do(func() {
		p.cancel()
		for range p.out {
		}
		p.bot.StopReceivingUpdates()
		for range p.updates {
		}
	})
}

// syncBuffer is an io.Writer for a slog handler that tests read.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// failingStore is a core.Store whose every call fails, like Redis down.
type failingStore struct{}

var errStoreDown = errors.New("failingstore: down")

func (failingStore) Take(context.Context, string, core.Limit, int) (core.Result, error) {
	return core.Result{}, errStoreDown
}

func (failingStore) Peek(context.Context, string, core.Limit) (core.Result, error) {
	return core.Result{}, errStoreDown
}

func (failingStore) Reset(context.Context, string) error { return errStoreDown }

// allowStore is a core.Store that admits everything at once, to measure
// the adapter without the store.
type allowStore struct{}

func (allowStore) Take(_ context.Context, _ string, l core.Limit, _ int) (core.Result, error) {
	return core.Result{Allowed: true, Remaining: l.Burst - 1, Limit: l}, nil
}

func (allowStore) Peek(_ context.Context, _ string, l core.Limit) (core.Result, error) {
	return core.Result{Allowed: true, Remaining: l.Burst, Limit: l}, nil
}

func (allowStore) Reset(context.Context, string) error { return nil }

// newGuard builds a Guard over st with limit l, logging into log (nil:
// discarded).
func newGuard(t testing.TB, st core.Store, l core.Limit, log io.Writer, opts ...core.GuardOption) *core.Guard {
	t.Helper()
	lim, err := core.New(st, l)
	if err != nil {
		t.Fatal(err)
	}
	if log == nil {
		log = io.Discard
	}
	opts = append([]core.GuardOption{core.WithLogger(slog.New(slog.NewTextHandler(log, nil)))}, opts...)
	g, err := core.NewGuard(lim, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func waitCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
