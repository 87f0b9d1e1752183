package tgbotapilimit_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/adapters/tgbotapilimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
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
func startPolling(t testing.TB, api *testutil.BotAPI, g *guard.Guard) *poller {
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

// newGuard builds a Guard over st with limit l, logging into log (nil:
// discarded).
// settle waits for the answers and notices g is sending off the update
// path (guard.Guard.Respond) to be done.
func settle(t testing.TB, g *guard.Guard) { t.Helper(); testutil.Settle(t, g) }

func newGuard(t testing.TB, st core.Store, l core.Limit, log io.Writer, opts ...guard.Option) *guard.Guard {
	t.Helper()
	var logger *slog.Logger
	if log != nil {
		logger = slog.New(slog.NewTextHandler(log, nil))
	}
	return testutil.NewGuard(t, st, l, logger, nil, opts...)
}

func waitCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
