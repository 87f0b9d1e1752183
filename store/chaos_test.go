package store_test

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/core/decide"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store"
	"github.com/floodgate-go/floodgate/store/memorystore"
	"github.com/floodgate-go/floodgate/store/redisstore"
)

// Chaos tests: a real redis-server is killed, frozen, flushed or restarted
// in the middle of a flood. The store is the one store.Open returns, so
// the wrapper under test is the one bots run (core.Resilient over
// redisstore, on Open's fail-fast client).
//
// Nothing here asserts how fast something happens: a busy 2-CPU CI machine
// may be slow at anything. The tests wait for events (the Observer's
// breaker transitions and decisions) with a generous deadline, and assert
// what happened: who decided, what they decided, how the store calls that
// failed ended, and how many reached Redis. Latencies are logged.

// chaosTimeout is the decision timeout of the chaos tests, the default.
const chaosTimeout = 50 * time.Millisecond

// patience bounds every wait for an event: long enough for any machine;
// reaching it means the event never came.
const patience = 30 * time.Second

// probeInterval and threshold are core.Resilient's defaults, which
// store.Open keeps.
const (
	probeInterval = 500 * time.Millisecond
	threshold     = 5
)

// recorder is a core.Observer that keeps what it hears, for tests to wait
// on and assert.
type recorder struct {
	mu        sync.Mutex
	waiting   chan struct{} // closed on the next event; nil when nobody waits
	decisions map[core.Source]int
	allowed   map[core.Source]int
	latencies []time.Duration
	faults    []core.FaultEvent
	faultAt   []time.Time // when each fault was heard
	breaker   []core.BreakerEvent
}

var _ core.Observer = (*recorder)(nil)

func newRecorder() *recorder {
	return &recorder{decisions: map[core.Source]int{}, allowed: map[core.Source]int{}}
}

func (r *recorder) Decision(e core.DecisionEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.decisions[e.Source]++
	if e.Allowed {
		r.allowed[e.Source]++
	}
	r.latencies = append(r.latencies, e.Latency)
	r.wake()
}

func (r *recorder) Fault(e core.FaultEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults = append(r.faults, e)
	r.faultAt = append(r.faultAt, time.Now())
	r.wake()
}

func (r *recorder) Breaker(e core.BreakerEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.breaker = append(r.breaker, e)
	r.wake()
}

// wake releases the waiters; r.mu is held.
func (r *recorder) wake() {
	if r.waiting != nil {
		close(r.waiting)
		r.waiting = nil
	}
}

// waitFor blocks until cond, called with r locked after every event,
// holds. It fails the test if that takes longer than patience.
func (r *recorder) waitFor(t *testing.T, what string, cond func(r *recorder) bool) {
	t.Helper()
	deadline := time.NewTimer(patience)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		if cond(r) {
			r.mu.Unlock()
			return
		}
		if r.waiting == nil {
			r.waiting = make(chan struct{})
		}
		ch := r.waiting
		r.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("%s: not within %v", what, patience)
		}
	}
}

// breakerOpen reports whether the last transition opened the breaker; r
// is locked.
func (r *recorder) breakerOpen() bool {
	return len(r.breaker) > 0 && r.breaker[len(r.breaker)-1].Open
}

// mark is what r had heard at one moment, to compare with later.
type mark struct {
	decisions, allowed map[core.Source]int
	latencies, faults  int
	at                 time.Time
}

func (r *recorder) mark() mark {
	r.mu.Lock()
	defer r.mu.Unlock()
	return mark{decisions: maps.Clone(r.decisions), allowed: maps.Clone(r.allowed), latencies: len(r.latencies),
		faults: len(r.faults), at: time.Now()}
}

// since returns what r heard after m: decisions and admissions by source,
// the latencies and the faults.
func (r *recorder) since(m mark) (decisions, allowed map[core.Source]int, latencies []time.Duration, faults []core.FaultEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	decisions, allowed = map[core.Source]int{}, map[core.Source]int{}
	for s, n := range r.decisions {
		decisions[s] = n - m.decisions[s]
	}
	for s, n := range r.allowed {
		allowed[s] = n - m.allowed[s]
	}
	return decisions, allowed, slices.Clone(r.latencies[m.latencies:]), slices.Clone(r.faults[m.faults:])
}

// percentiles returns the p99 and the largest of ds.
func percentiles(ds []time.Duration) (p99, worst time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)*99/100], s[len(s)-1]
}

// runFlood makes decisions from 8 goroutines over 64 users until the
// returned stop is called (or the test ends); stop returns how many
// decisions returned an error.
func runFlood(t *testing.T, lim *core.Limiter) (stop func() int64) {
	done := make(chan struct{})
	var errs atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				if _, err := lim.Take(context.Background(), core.User(int64(1000+(g*8+i)%64)), 1); err != nil {
					errs.Add(1)
				}
			}
		}()
	}
	var once sync.Once
	stop = func() int64 {
		once.Do(func() { close(done); wg.Wait() })
		return errs.Load()
	}
	t.Cleanup(func() { stop() })
	return stop
}

// verifyNoLeak checks, after every other cleanup of t (servers stopped,
// clients closed), that no goroutine started during the test is left.
func verifyNoLeak(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// openRedis opens cfg, pointed at srv unless it has a RedisURL, with rec
// as its Observer and no logs, and closes it when the test ends.
func openRedis(t *testing.T, srv *testutil.Redis, cfg store.Config, rec *recorder) *store.Opened {
	t.Helper()
	cfg.Backend = store.BackendRedis
	if cfg.RedisURL == "" {
		cfg.RedisURL = srv.URL()
	}
	st, err := store.Open(context.Background(), cfg, store.WithObserver(rec), store.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// assertProbesOnly fails the test if more store calls failed after the
// breaker opened than in-flight calls and one probe per ProbeInterval
// explain: with the breaker open, decisions must not wait on Redis.
func assertProbesOnly(t *testing.T, faultsSinceOpen int, since time.Time) {
	t.Helper()
	inFlight := 8 // the flood's goroutines may each have had a call under way when it opened
	if limit := inFlight + int(time.Since(since)/probeInterval) + 1; faultsSinceOpen > limit {
		t.Errorf("%d store calls failed after the breaker opened, %v ago; want at most %d (in-flight calls and one probe per %v)",
			faultsSinceOpen, time.Since(since).Round(time.Millisecond), limit, probeInterval)
	}
}

func TestChaosRedisKilledAndRestarted(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos: kills and restarts redis-server under a flood")
	}
	verifyNoLeak(t)
	for _, policy := range []core.FailurePolicy{core.FailLocal, core.FailOpen, core.FailClosed} {
		t.Run(policy.String(), func(t *testing.T) {
			srv := testutil.StartRedis(t)
			rec := newRecorder()
			st := openRedis(t, srv, store.Config{Limit: core.PerSecond(20), Policy: policy, Timeout: chaosTimeout}, rec)
			lim, err := st.NewLimiter()
			if err != nil {
				t.Fatal(err)
			}
			stop := runFlood(t, lim)
			rec.waitFor(t, "first decisions from Redis", func(r *recorder) bool { return r.decisions[core.SourceStore] > 0 })

			if err := srv.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			srv.Stop() // reap it
			killed := rec.mark()
			rec.waitFor(t, "the breaker to open", (*recorder).breakerOpen)
			opened := rec.mark()
			// Let the flood run through the outage until the policy has
			// visibly decided.
			switch policy {
			case core.FailLocal:
				rec.waitFor(t, "local limiting: the fallback admits some and denies some", func(r *recorder) bool {
					d, a := r.decisions[core.SourceFallback]-opened.decisions[core.SourceFallback],
						r.allowed[core.SourceFallback]-opened.allowed[core.SourceFallback]
					return a > 0 && d > a
				})
			default:
				rec.waitFor(t, "1000 decisions by the policy", func(r *recorder) bool {
					return r.decisions[core.SourcePolicy]-opened.decisions[core.SourcePolicy] >= 1000
				})
			}
			out, allowed, latencies, faults := rec.since(killed)
			_, _, _, faultsSinceOpen := rec.since(opened)
			assertProbesOnly(t, len(faultsSinceOpen), opened.at)

			if err := srv.Restart(); err != nil {
				t.Fatal(err)
			}
			restarted := rec.mark()
			rec.waitFor(t, "the breaker to close after the restart", func(r *recorder) bool { return !r.breakerOpen() })
			closed := rec.mark()
			rec.waitFor(t, "decisions back on Redis", func(r *recorder) bool {
				return r.decisions[core.SourceStore] > closed.decisions[core.SourceStore]
			})
			if errs := stop(); errs != 0 {
				t.Errorf("%d decisions returned an error; the policy should have decided them", errs)
			}

			p99, worst := percentiles(latencies)
			t.Logf("policy %v: %d decisions during the outage (p99 %v, max %v), by source %v, allowed %v; "+
				"%d store faults, %d after the breaker opened; breaker closed %v after the restart",
				policy, len(latencies), p99, worst, out, allowed, len(faults), len(faultsSinceOpen),
				closed.at.Sub(restarted.at).Round(time.Millisecond))
			for _, f := range faults {
				if f.Name != core.DefaultPrefix {
					t.Errorf("fault event named %q, want the prefix %q", f.Name, core.DefaultPrefix)
					break
				}
			}
			switch policy {
			case core.FailLocal:
				if out[core.SourcePolicy] != 0 {
					t.Errorf("FailLocal: %d decisions by the policy; the fallback never fails", out[core.SourcePolicy])
				}
			case core.FailOpen:
				if out[core.SourceFallback] != 0 || allowed[core.SourcePolicy] != out[core.SourcePolicy] {
					t.Errorf("FailOpen: %v by source, %v allowed; want every policy decision admitted", out, allowed)
				}
			case core.FailClosed:
				if out[core.SourceFallback] != 0 || allowed[core.SourcePolicy] != 0 {
					t.Errorf("FailClosed: %v by source, %v allowed; want every policy decision denied", out, allowed)
				}
			}
			testutil.AssertEveryKeyHasTTL(t, st.RedisClient())
		})
	}
}

func TestChaosRedisHung(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos: freezes redis-server under a flood")
	}
	verifyNoLeak(t)
	srv := testutil.StartRedis(t)
	rec := newRecorder()
	// The client's own read and write timeouts are a minute, longer than
	// patience: only the decision timeout can end a call to the frozen
	// server before the test gives up.
	st := openRedis(t, srv, store.Config{RedisURL: srv.URL() + "?read_timeout=1m&write_timeout=1m",
		Limit: core.PerSecond(20), Timeout: chaosTimeout}, rec)
	lim, err := st.NewLimiter()
	if err != nil {
		t.Fatal(err)
	}
	stop := runFlood(t, lim)
	rec.waitFor(t, "first decisions from Redis", func(r *recorder) bool { return r.decisions[core.SourceStore] > 0 })

	if err := srv.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Signal(syscall.SIGCONT) })
	frozen := rec.mark()
	rec.waitFor(t, "the breaker to open", (*recorder).breakerOpen)
	opened := rec.mark()
	// At least one probe must fail on the frozen server, so that probes
	// are seen to be ended by the timeout too: a fault heard a probe
	// interval after the breaker opened, when the calls in flight at that
	// moment have long timed out.
	rec.waitFor(t, "a failed probe", func(r *recorder) bool {
		return len(r.faultAt) > 0 && r.faultAt[len(r.faultAt)-1].After(opened.at.Add(probeInterval))
	})
	rec.waitFor(t, "decisions by the fallback", func(r *recorder) bool {
		return r.decisions[core.SourceFallback]-opened.decisions[core.SourceFallback] >= 1000
	})
	out, _, latencies, faults := rec.since(frozen)
	_, _, _, faultsSinceOpen := rec.since(opened)
	assertProbesOnly(t, len(faultsSinceOpen), opened.at)

	if err := srv.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed := rec.mark()
	rec.waitFor(t, "the breaker to close after SIGCONT", func(r *recorder) bool { return !r.breakerOpen() })
	closed := rec.mark()
	rec.waitFor(t, "decisions back on Redis", func(r *recorder) bool {
		return r.decisions[core.SourceStore] > closed.decisions[core.SourceStore]
	})
	if errs := stop(); errs != 0 {
		t.Errorf("%d decisions returned an error", errs)
	}

	p99, worst := percentiles(latencies)
	t.Logf("Redis frozen: %d decisions (p99 %v, max %v), by source %v; %d store faults, %d after the breaker opened; "+
		"breaker closed %v after SIGCONT", len(latencies), p99, worst, out, len(faults), len(faultsSinceOpen),
		closed.at.Sub(resumed.at).Round(time.Millisecond))
	// Every call that reached the frozen server was ended by the decision
	// timeout (Config.Timeout reaches core.Resilient): its context's
	// deadline, seen by redisstore or by the socket.
	for _, f := range faults {
		if !errors.Is(f.Err, context.DeadlineExceeded) && !errors.Is(f.Err, os.ErrDeadlineExceeded) {
			t.Errorf("a store call on the frozen server ended with %v; want the decision timeout", f.Err)
		}
	}
	if out[core.SourcePolicy] != 0 {
		t.Errorf("%d decisions by the policy; under FailLocal the fallback decides", out[core.SourcePolicy])
	}
	testutil.AssertEveryKeyHasTTL(t, st.RedisClient())
}

func TestChaosScriptFlush(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos: flushes the script cache under a flood")
	}
	verifyNoLeak(t)
	srv := testutil.StartRedis(t)
	rec := newRecorder()
	// A patient timeout: the count below is exact only if Redis decides
	// every call.
	st := openRedis(t, srv, store.Config{Limit: core.Limit{Rate: 300, Period: time.Hour, Burst: 300}, Timeout: 5 * time.Second}, rec)
	lim, err := st.NewLimiter()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				res, err := lim.Take(ctx, core.User(7), 1)
				if err != nil {
					t.Error(err)
					return
				}
				if res.Allowed {
					admitted.Add(1)
				}
			}
		}()
	}
	for range 5 { // flush the script cache repeatedly mid-flood
		if err := st.RedisClient().ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	calls, err := testutil.CommandCalls(ctx, st.RedisClient())
	if err != nil {
		t.Fatal(err)
	}
	bySource, _, _, faults := rec.since(mark{})
	t.Logf("800 decisions with 5 SCRIPT FLUSHes: %d admitted, by source %v, evalsha %d, eval %d",
		admitted.Load(), bySource, calls["evalsha"], calls["eval"])
	if len(faults) != 0 || bySource[core.SourceFallback] != 0 || bySource[core.SourcePolicy] != 0 {
		t.Fatalf("%d store faults (first: %v), by source %v: a flushed script must be reloaded, not fail the decision",
			len(faults), faults, bySource)
	}
	if admitted.Load() != 300 {
		t.Fatalf("admitted %d, want exactly the burst of 300: a NOSCRIPT retry must not count twice", admitted.Load())
	}
	if calls["eval"] == 0 {
		t.Fatal("no EVAL ran: the flushes did not hit the flood (test is not testing anything)")
	}
}

func TestChaosRedisRestartedEmpty(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos: restarts redis-server")
	}
	srv := testutil.StartRedis(t)
	limit := store.Config{Limit: core.Every(time.Hour)}
	first, err := openRedis(t, srv, limit, newRecorder()).NewLimiter()
	if err != nil {
		t.Fatal(err)
	}
	// Another bot instance: its own store, deny cache and fallback.
	other, err := openRedis(t, srv, limit, newRecorder()).NewLimiter()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if res, err := first.Take(ctx, core.User(1), 1); err != nil || !res.Allowed || res.Source != core.SourceStore {
		t.Fatalf("first call: %+v, %v", res, err)
	}
	if res, err := first.Take(ctx, core.User(1), 1); err != nil || res.Allowed || res.Source != core.SourceStore {
		t.Fatalf("second call: %+v, %v", res, err)
	}
	if err := srv.Restart(); err != nil { // no persistence: the server comes back empty
		t.Fatal(err)
	}
	// The other instance asks Redis, which has forgotten user 1. Its pool
	// may hold a connection to the old process: a call may fail and be
	// decided by the fallback first.
	var res core.Result
	deadline := time.Now().Add(patience)
	for {
		if res, err = other.Take(ctx, core.User(1), 1); err != nil {
			t.Fatal(err)
		}
		if res.Source == core.SourceStore {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no decision from the restarted Redis within %v; last %+v", patience, res)
		}
		time.Sleep(10 * time.Millisecond) // polling a restarted process
	}
	if !res.Allowed {
		t.Fatalf("after an empty restart: %+v; want allowed (limits start over)", res)
	}
	// The first instance's deny cache holds user 1's denial until its
	// RetryAfter: it does not ask Redis.
	if res, err := first.Take(ctx, core.User(1), 1); err != nil || res.Allowed || res.Source != core.SourceCache {
		t.Fatalf("the first instance: %+v, %v; want its cached denial to hold until RetryAfter", res, err)
	}
}

// TestDenyCacheUnderFlood floods one user through core.Resilient over a
// real Redis, on a frozen clock that both the store and the deny cache
// read, so the run is exact and takes no wall-clock time: 2000 updates
// per simulated second for 5 s, limit 5/s. With the deny cache Redis is
// asked about twice per 200 ms interval (one admission, one denial to
// remember) instead of once per update, and the decisions are the same.
func TestDenyCacheUnderFlood(t *testing.T) {
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	ctx := context.Background()
	limit := core.PerSecond(5)
	const rate, secs = 2000, 5
	step := time.Second / rate

	// The decisions GCRA makes for the spammer, computed apart: the
	// deny cache must change none of them.
	var want int
	var tat int64
	for i := range rate * secs {
		res, next := decide.GCRA(limit, tat, testutil.Epoch.Add(time.Duration(i)*step).UnixMicro(), 1)
		if res.Allowed {
			want++
			tat = next
		}
	}

	for _, cached := range []bool{true, false} {
		if !cached && testing.Short() {
			continue // one Redis call per update: the comparison, not the claim
		}
		clk := testutil.NewClock()
		fallback := memorystore.New(memorystore.WithClock(clk.Now))
		t.Cleanup(func() { _ = fallback.Close() })
		st, err := core.Resilient(redisstore.New(client, redisstore.WithClock(clk.Now)), core.Resilience{
			Fallback: fallback, Timeout: 5 * time.Second, NoDenyCache: !cached, Clock: clk.Now,
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		lim, err := core.New(st, limit, core.WithPrefix(map[bool]string{true: "cached", false: "uncached"}[cached]))
		if err != nil {
			t.Fatal(err)
		}
		if err := client.ConfigResetStat(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		// One user floods; a normal user sends one message every 500 ms
		// through the same instance.
		var spamAllowed, normalDenied, normalSent int
		bySource := map[core.Source]int{}
		for i := range rate * secs {
			res, err := lim.Take(ctx, core.User(666), 1)
			if err != nil {
				t.Fatal(err)
			}
			bySource[res.Source]++
			if res.Allowed {
				spamAllowed++
			}
			if i%(rate/2) == 0 {
				normalSent++
				if res, err := lim.Take(ctx, core.User(42), 1); err != nil || !res.Allowed {
					normalDenied++
				}
			}
			clk.Advance(step)
		}
		calls, err := testutil.CommandCalls(ctx, client)
		if err != nil {
			t.Fatal(err)
		}
		evals := calls["evalsha"] + calls["eval"]
		intervals := int64(secs * limit.Rate)
		t.Logf("deny cache %v: %d updates over %ds, spammer admitted %d (GCRA: %d), by source %v; Redis script calls %d for %d intervals of %v; normal user denied %d of %d",
			cached, rate*secs, secs, spamAllowed, want, bySource, evals, intervals, limit.Interval(), normalDenied, normalSent)
		if spamAllowed != want {
			t.Errorf("the spammer was admitted %d times, want %d: the deny cache must not change a decision", spamAllowed, want)
		}
		if normalDenied != 0 {
			t.Errorf("the normal user was denied %d times", normalDenied)
		}
		if bySource[core.SourceFallback] != 0 || bySource[core.SourcePolicy] != 0 {
			t.Errorf("decisions by source %v: Redis should have decided every one", bySource)
		}
		switch {
		case cached && evals > 2*intervals+int64(normalSent)+int64(limit.Burst)+2:
			t.Errorf("with the deny cache: %d Redis calls for %d intervals; want about two per interval", evals, intervals)
		case !cached && evals != int64(rate*secs+normalSent):
			t.Errorf("without the deny cache: %d Redis calls for %d decisions; want one each", evals, rate*secs+normalSent)
		}
	}
}
