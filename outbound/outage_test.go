package outbound_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/outbound"
	"github.com/floodgate-go/floodgate/store/memorystore"
	"github.com/floodgate-go/floodgate/store/redisstore"
	"github.com/redis/go-redis/v9"
)

// decisions records the throttle's decisions (core.Observer).
type decisions struct {
	mu  sync.Mutex
	all []core.DecisionEvent
}

func (d *decisions) Decision(e core.DecisionEvent) {
	d.mu.Lock()
	d.all = append(d.all, e)
	d.mu.Unlock()
}
func (d *decisions) Fault(core.FaultEvent)     {}
func (d *decisions) Breaker(core.BreakerEvent) {}

func (d *decisions) events() []core.DecisionEvent {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]core.DecisionEvent(nil), d.all...)
}

// resilient wraps st as store.Open wraps Redis: FailLocal decides with a
// memorystore of its own.
func resilient(t testing.TB, st core.Store, r core.Resilience) core.Store {
	t.Helper()
	if r.Policy == core.FailLocal {
		fb := memorystore.New()
		t.Cleanup(func() { _ = fb.Close() })
		r.Fallback = fb
	}
	if r.Logger == nil {
		r.Logger = discard()
	}
	rs, err := core.Resilient(st, r)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// TestStoreDown: with the store down, each failure policy decides the
// lanes. A private chat's lane admits one send per 10 s and the maximum
// wait is 1 s, so a second send to the chat can only be refused if
// something paced it. Unthrottled methods pass under every policy.
func TestStoreDown(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		policy    core.FailurePolicy
		delivered int         // of the two sends to chat 1
		source    core.Source // of the first decision
	}{
		// Each instance paces alone, with its fallback.
		{core.FailLocal, 1, core.SourceFallback},
		// Unpaced.
		{core.FailOpen, 2, core.SourcePolicy},
		// Throttled requests are refused at once: no waiting on, or
		// polling, a store that is out.
		{core.FailClosed, 0, core.SourcePolicy},
	} {
		t.Run(c.policy.String(), func(t *testing.T) {
			t.Parallel()
			api := testutil.StartBotAPI(t)
			obs := &decisions{}
			st := resilient(t, testutil.FailingStore{}, core.Resilience{Policy: c.policy})
			th := newThrottle(t, st, nil, nil, outbound.WithObserver(obs), outbound.WithMaxWait(time.Second),
				outbound.WithLimits(outbound.Limits{Private: core.Window(1, 10*time.Second)}))
			cl := client(t, th)
			refused := 0
			for range 2 {
				s, err := post(cl, api, "sendMessage", msg("1"))
				switch {
				case errors.Is(err, outbound.ErrWaitTooLong):
					refused++
				case err != nil || s != http.StatusOK:
					t.Fatalf("send: %d %v", s, err)
				}
			}
			if n := len(api.CallsTo("sendMessage")); n != c.delivered || refused != 2-c.delivered {
				t.Errorf("%d of 2 sends delivered, %d refused; want %d delivered, the rest refused", n, refused, c.delivered)
			}
			if s := send(t, cl, api, "getMe", nil); s != http.StatusOK {
				t.Errorf("getMe: %d", s)
			}
			ds := obs.events()
			if len(ds) == 0 {
				t.Fatal("no decision reached the observer")
			}
			if d := ds[0]; d.Source != c.source || d.Rule != "outbound" || d.Prefix != core.DefaultPrefix {
				t.Errorf("first decision %+v, want source %v under %s/outbound", d, c.source, core.DefaultPrefix)
			}
		})
	}
}

// TestRetryWaitsWhenPauseNotStored: with the store down and a policy that
// admits, the 429 pause cannot be shared, but this request still waits out
// retry_after before it is sent again.
func TestRetryWaitsWhenPauseNotStored(t *testing.T) {
	t.Parallel()
	api := testutil.StartBotAPI(t)
	th := newThrottle(t, resilient(t, testutil.FailingStore{}, core.Resilience{Policy: core.FailOpen}), nil, nil)
	c := client(t, th)
	api.FailNext("sendMessage", 1, 1)
	start := clockOf(th).Now()
	if s := send(t, c, api, "sendMessage", msg("42")); s != 200 {
		t.Fatalf("status %d, want 200 after a retry", s)
	}
	if el := clockOf(th).Now().Sub(start); el < time.Second {
		t.Fatalf("retried after %v, before retry_after (1 s)", el)
	}
	if calls := api.CallsTo("sendMessage"); len(calls) != 2 || !calls[0].RateLimited {
		t.Fatalf("calls %+v, want one 429 then one delivery", calls)
	}
}

// TestRedisStops: a throttle over a real redis-server, wrapped as
// store.Open wraps it (FailLocal), keeps pacing with its fallback once the
// server is killed, and a 429 pause it cannot share still holds on this
// instance.
func TestRedisStops(t *testing.T) {
	t.Parallel()
	api := testutil.StartBotAPI(t)
	rd := testutil.StartRedis(t)
	// One dial attempt, no retries: a dead server fails fast.
	rc := redis.NewClient(&redis.Options{Addr: rd.Addr, DialerRetries: 1, MaxRetries: -1})
	t.Cleanup(func() { _ = rc.Close() })
	obs := &decisions{}
	var log testutil.SyncBuffer
	// A generous timeout for the live server (the race detector is slow);
	// one failure opens the breaker, so only one call waits on the dead one.
	st := resilient(t, redisstore.New(rc), core.Resilience{Timeout: 2 * time.Second, BreakerThreshold: 1})
	th := newThrottle(t, st, &log, nil, outbound.WithObserver(obs), outbound.WithMaxWait(time.Second),
		outbound.WithLimits(outbound.Limits{Private: core.Window(1, 10*time.Second)}))
	c := client(t, th)

	if s := send(t, c, api, "sendMessage", msg("1")); s != http.StatusOK {
		t.Fatalf("with Redis up: %d", s)
	}
	if ds := obs.events(); len(ds) != 1 || ds[0].Source != core.SourceStore {
		t.Fatalf("with Redis up, decisions %+v, want one by the store", ds)
	}
	rd.Stop()

	if s := send(t, c, api, "sendMessage", msg("2")); s != http.StatusOK {
		t.Fatalf("with Redis down, first send to chat 2: %d", s)
	}
	if _, err := post(c, api, "sendMessage", msg("2")); !errors.Is(err, outbound.ErrWaitTooLong) {
		t.Fatalf("with Redis down, second send to chat 2: %v, want ErrWaitTooLong: the fallback paces the chat", err)
	}
	ds := obs.events()
	if last := ds[len(ds)-1]; last.Source != core.SourceFallback {
		t.Fatalf("with Redis down, last decision %+v, want the fallback's", last)
	}

	// A 429 beyond the maximum wait: Telegram's answer is returned, the
	// pause goes to the fallback only, and the next send to the chat is
	// refused at once, unsent.
	api.FailNext("sendMessage", 1, 30)
	if s := send(t, c, api, "sendMessage", msg("3")); s != http.StatusTooManyRequests {
		t.Fatalf("429 injected, got %d", s)
	}
	if _, err := post(c, api, "sendMessage", msg("3")); !errors.Is(err, outbound.ErrWaitTooLong) {
		t.Fatalf("send to the paused chat: %v, want ErrWaitTooLong", err)
	}
	if n := len(api.CallsTo("sendMessage")); n != 3 {
		t.Fatalf("%d sends reached the server, want 3 (chat 1, chat 2, the 429)", n)
	}
	if out := log.String(); !strings.Contains(out, "could not share a 429 pause") {
		t.Fatalf("the unshared pause was not logged: %s", out)
	}
}

// TestChatless429: a 429 with retry_after 86400 on a request that names no
// chat (an inline message's edit) on instance A. A gets Telegram's 429 at
// once (a day is past its maximum wait) and the global lane is paused for
// one second at most; instance B, sharing Redis, keeps sending to other
// chats: each waits at most that second, never a day.
func TestChatless429(t *testing.T) {
	t.Parallel()
	api := testutil.StartBotAPI(t, testutil.WithFloodLimits(floodLimits()))
	rd := testutil.StartRedis(t)
	a, b := client(t, redisThrottle(t, rd.Addr, nil)), client(t, redisThrottle(t, rd.Addr, nil))
	api.SetResult("editMessageText", true)
	api.FailNext("editMessageText", 1, 86400)
	start := time.Now()
	s, err := post(a, api, "editMessageText", url.Values{"inline_message_id": {"AAA"}, "text": {"edited"}})
	if err != nil || s != http.StatusTooManyRequests {
		t.Fatalf("the chatless edit: %d %v, want Telegram's 429", s, err)
	}
	answered := time.Since(start)
	var waits []time.Duration
	for i := range 10 {
		t0 := time.Now()
		if s := send(t, b, api, "sendMessage", msg(strconv.Itoa(5000+i))); s != http.StatusOK {
			t.Fatalf("other chat %d: %d", i, s)
		}
		waits = append(waits, time.Since(t0))
	}
	total := time.Since(start)
	t.Logf("chatless 429 (retry_after 86400) answered to its caller after %v; then 10 sends to other chats from "+
		"another instance waited %v (first) .. %v (last), all 10 done %v after the 429",
		answered.Round(time.Millisecond), waits[0].Round(time.Millisecond), waits[9].Round(time.Millisecond),
		total.Round(time.Millisecond))
	if answered > 5*time.Second {
		t.Errorf("the 429 reached its caller after %v: a day-long retry_after beyond the maximum wait must return at once", answered)
	}
	if slices.Max(waits) > 5*time.Second {
		t.Errorf("sends to other chats waited up to %v after a chatless 429: the bot froze", slices.Max(waits))
	}
	if slices.Max(waits) < 500*time.Millisecond {
		t.Errorf("sends to other chats waited at most %v: the chatless 429 paused nothing", slices.Max(waits))
	}
	if n := len(api.CallsTo("sendMessage")); n != 10 {
		t.Errorf("%d sends delivered, want 10", n)
	}
}

// toggleStore is a store that can be switched off, like a Redis that goes
// away and comes back.
type toggleStore struct {
	core.Store
	down atomic.Bool
}

func (s *toggleStore) Reserve(ctx context.Context, lanes []core.Lane, n int, from, within time.Duration) (core.Result, error) {
	if s.down.Load() {
		return core.Result{}, testutil.ErrStoreDown
	}
	return s.Store.Reserve(ctx, lanes, n, from, within)
}

// TestOutageEdges: at both edges of an outage, an instance never exceeds a
// chat lane. Its slot from the store is recorded in its fallback, so the
// first send on the fallback waits for it; a slot it took on the fallback
// holds when the store is back, although the store never saw it.
func TestOutageEdges(t *testing.T) {
	t.Parallel()
	clk := outbound.NewFakeClock(time.Now())
	remote := memorystore.New(memorystore.WithClock(clk.Now))
	fallback := memorystore.New(memorystore.WithClock(clk.Now))
	t.Cleanup(func() { _, _ = remote.Close(), fallback.Close() })
	st := &toggleStore{Store: remote}
	rs, err := core.Resilient(st, core.Resilience{Fallback: fallback, BreakerThreshold: 1, Logger: discard(), Clock: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	lanes := []core.Lane{{Key: "x:{bot:1}:out:global", Limit: core.Window(30, time.Second)},
		{Key: "x:{bot:1}:out:chat:7", Limit: core.Window(1, time.Second)}}
	ctx := context.Background()
	reserve := func(step string, wantAfter time.Duration, wantSource core.Source) {
		t.Helper()
		res, err := rs.Reserve(ctx, lanes, 1, 0, time.Minute)
		if err != nil || !res.Allowed || res.RetryAfter != wantAfter || res.Source != wantSource {
			t.Fatalf("%s: %+v %v, want a slot in %v from %v", step, res, err, wantAfter, wantSource)
		}
	}
	reserve("store up", 0, core.SourceStore)
	clk.Advance(100 * time.Millisecond)
	st.down.Store(true)
	reserve("store down: the fallback knows the store's slot", 900*time.Millisecond, core.SourceFallback)
	clk.Advance(2 * time.Second) // past the fallback's slot
	reserve("still down", 0, core.SourceFallback)
	st.down.Store(false)
	clk.Advance(500 * time.Millisecond) // the breaker probes again
	reserve("store back: the slot taken during the outage holds", 500*time.Millisecond, core.SourceStore)
}
