package telegolimit_test

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/mymmrac/telego"
	th "github.com/mymmrac/telego/telegohandler"
)

// testToken matches telego's token format (^\d+:[\w-]{35}$).
const testToken = "123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// newBot returns a telego bot that talks to baseURL over net/http (which,
// unlike telego's default fasthttp, honours context cancellation), with its
// own transport, closed when the test ends. telego's own log is discarded.
func newBot(t testing.TB, baseURL string) *telego.Bot {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	bot, err := telego.NewBot(testToken, telego.WithAPIServer(baseURL),
		telego.WithHTTPClient(&http.Client{Transport: tr, Timeout: 40 * time.Second}),
		telego.WithDiscardLogger())
	if err != nil {
		t.Fatalf("NewBot: %v", err)
	}
	return bot
}

// polling is a real telego bot handler reading the fake server by long
// polling. Its outermost middleware reports each update on done once
// everything inside (the guard, its Bot API calls, the handlers) returned,
// so tests wait for completion instead of sleeping.
type polling struct {
	bot     *telego.Bot
	bh      *th.BotHandler
	done    chan int
	cancel  context.CancelFunc
	started chan error
	once    sync.Once
}

// startPolling starts a bot handler on api; setup registers the guard and
// the handlers. stop (also run at cleanup) shuts it down.
func startPolling(t testing.TB, api *testutil.BotAPI, setup func(bh *th.BotHandler)) *polling {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &polling{bot: newBot(t, api.URL()), done: make(chan int, 4096), cancel: cancel, started: make(chan error, 1)}
	updates, err := p.bot.UpdatesViaLongPolling(ctx, &telego.GetUpdatesParams{Timeout: 30},
		telego.WithLongPollingRetryTimeout(10*time.Millisecond))
	if err != nil {
		cancel()
		t.Fatalf("UpdatesViaLongPolling: %v", err)
	}
	p.bh, err = th.NewBotHandler(p.bot, updates)
	if err != nil {
		cancel()
		t.Fatalf("NewBotHandler: %v", err)
	}
	p.bh.Use(func(ctx *th.Context, u telego.Update) error {
		defer func() { p.done <- u.UpdateID }()
		return ctx.Next(u)
	})
	setup(p.bh)
	go func() { p.started <- p.bh.Start() }()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// wait blocks until n more updates went through the whole chain.
func (p *polling) wait(t testing.TB, n int) {
	t.Helper()
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for i := 0; i < n; i++ {
		select {
		case <-p.done:
		case <-timeout.C:
			t.Fatalf("waited for %d updates to be handled, %d were", n, i)
		}
	}
}

// stop ends long polling (ctx cancel aborts the pending getUpdates), waits
// for Start to drain the closed channel and return, then stops the handler.
func (p *polling) stop(t testing.TB) {
	p.once.Do(func() {
		p.cancel()
		if err := <-p.started; err != nil {
			t.Errorf("BotHandler.Start: %v", err)
		}
		if err := p.bh.Stop(); err != nil {
			t.Errorf("BotHandler.Stop: %v", err)
		}
	})
}

// counter counts labelled events, safe for concurrent use.
type counter struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counter) add(label string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[label]++
}

func (c *counter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.m))
	for k, v := range c.m {
		out[k] = v
	}
	return out
}

// newGuard builds a Guard over st with limit l, failing the test on error.
// settle waits for the answers and notices g is sending off the update
// path (guard.Guard.Respond) to be done.
func settle(t testing.TB, g *guard.Guard) { t.Helper(); testutil.Settle(t, g) }

func newGuard(t testing.TB, st core.Store, l core.Limit, opts ...guard.Option) *guard.Guard {
	t.Helper()
	return newGuardLog(t, st, l, slog.New(slog.DiscardHandler), opts...)
}

// newGuardLog is newGuard with the Guard logging to logger.
func newGuardLog(t testing.TB, st core.Store, l core.Limit, logger *slog.Logger, opts ...guard.Option) *guard.Guard {
	t.Helper()
	return testutil.NewGuard(t, st, l, logger, nil, opts...)
}
