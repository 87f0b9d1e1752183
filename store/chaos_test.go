package store_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store"
)

// Chaos tests: a real redis-server is killed, frozen, flushed or restarted
// in the middle of a flood, and the limiter must keep deciding within its
// timeout, by its policy, and come back to Redis on its own. The client is
// the one store.Open builds, so its fail-fast settings are under test too.

const chaosTimeout = 50 * time.Millisecond

// flood runs decisions from 8 goroutines over 64 users until stop is
// closed, recording each decision's latency and source.
type flood struct {
	mu        sync.Mutex
	latencies []time.Duration
	bySource  map[core.Source]int
	allowed   map[core.Source]int
	errs      int
	lastStore atomic.Int64 // UnixNano of the latest decision from the store
}

func runFlood(t *testing.T, lim *core.Limiter, stop <-chan struct{}) *flood {
	f := &flood{bySource: map[core.Source]int{}, allowed: map[core.Source]int{}}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				res, err := lim.Allow(context.Background(), int64(1000+(g*8+i)%64))
				d := time.Since(start)
				f.mu.Lock()
				f.latencies = append(f.latencies, d)
				if err != nil {
					f.errs++
				} else {
					f.bySource[res.Source]++
					if res.Allowed {
						f.allowed[res.Source]++
					}
				}
				f.mu.Unlock()
				if err == nil && res.Source == core.SourceStore {
					f.lastStore.Store(time.Now().UnixNano())
				}
			}
		}()
	}
	t.Cleanup(wg.Wait)
	go func() { <-stop; wg.Wait() }()
	return f
}

// window returns the p99 and max latency of the decisions in [from, to)
// of the recording, by index.
func percentiles(ds []time.Duration) (p99, worst time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)*99/100], s[len(s)-1]
}

func (f *flood) snapshot() (n int, bySource, allowed map[core.Source]int, errs int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.latencies), maps(f.bySource), maps(f.allowed), f.errs
}

func maps(m map[core.Source]int) map[core.Source]int {
	c := make(map[core.Source]int, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// waitFor polls cond until it holds or within passes; it returns how long
// it took.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(5 * time.Millisecond) // polling an outcome of real processes
	}
	return time.Since(start)
}

// verifyNoLeak checks, after every other cleanup of t (servers stopped,
// clients closed), that no goroutine started during the test is left.
func verifyNoLeak(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

func openRedis(t *testing.T, srv *testutil.Redis) *store.Opened {
	t.Helper()
	st, err := store.Open(context.Background(), store.Config{Backend: store.BackendRedis, RedisURL: srv.URL(), Limit: core.PerSecond(1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestChaosRedisKilledAndRestarted(t *testing.T) {
	verifyNoLeak(t)
	for _, policy := range []core.FailurePolicy{core.FailLocal, core.FailOpen, core.FailClosed} {
		t.Run(policy.String(), func(t *testing.T) {
			srv := testutil.StartRedis(t)
			st := openRedis(t, srv)
			lim, err := core.New(st, core.PerSecond(20), core.WithPolicy(policy), core.WithTimeout(chaosTimeout),
				core.WithLogger(slog.New(slog.DiscardHandler)))
			if err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			f := runFlood(t, lim, stop)
			waitFor(t, 5*time.Second, "first decisions from Redis", func() bool { return f.lastStore.Load() != 0 })

			if err := srv.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			srv.Stop() // reap it
			killedAt, _, _, _ := f.snapshot()
			time.Sleep(500 * time.Millisecond) // let the flood run through the outage
			n0, src0, allowed0, _ := f.snapshot()

			if err := srv.Restart(); err != nil {
				t.Fatal(err)
			}
			restarted := time.Now()
			took := waitFor(t, 3*time.Second, "decisions back on Redis", func() bool {
				return f.lastStore.Load() > restarted.UnixNano()
			})
			close(stop)
			n, _, _, errs := f.snapshot()

			f.mu.Lock()
			outage := f.latencies[killedAt:n0]
			f.mu.Unlock()
			p99, worst := percentiles(outage)
			t.Logf("policy %v: %d decisions during the 500ms outage, p99 %v, max %v; by source %v, allowed %v; back on Redis %v after restart; %d decisions in all",
				policy, len(outage), p99, worst, fmt.Sprint(src0), fmt.Sprint(allowed0), took, n)

			if errs != 0 {
				t.Errorf("%d decisions returned an error; the policy should have decided them", errs)
			}
			if worst > 4*chaosTimeout {
				t.Errorf("a decision took %v during the outage; the timeout is %v", worst, chaosTimeout)
			}
			if took > time.Second+200*time.Millisecond {
				t.Errorf("decisions came back to Redis %v after the restart, want within about 1s", took)
			}
			switch policy {
			case core.FailLocal:
				if src0[core.SourceFallback] == 0 || allowed0[core.SourceFallback] == src0[core.SourceFallback] {
					t.Errorf("FailLocal: %v decided by the fallback, %v allowed; want local limiting (some denied)", src0, allowed0)
				}
			case core.FailOpen:
				if src0[core.SourcePolicy] == 0 || allowed0[core.SourcePolicy] != src0[core.SourcePolicy] {
					t.Errorf("FailOpen: %v by policy, %v allowed; want all admitted", src0, allowed0)
				}
			case core.FailClosed:
				if src0[core.SourcePolicy] == 0 || allowed0[core.SourcePolicy] != 0 {
					t.Errorf("FailClosed: %v by policy, %v allowed; want all denied", src0, allowed0)
				}
			}
			testutil.AssertEveryKeyHasTTL(t, st.RedisClient())
		})
	}
}

func TestChaosRedisHung(t *testing.T) {
	verifyNoLeak(t)
	srv := testutil.StartRedis(t)
	st := openRedis(t, srv)
	lim, err := core.New(st, core.PerSecond(20), core.WithTimeout(chaosTimeout), core.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	f := runFlood(t, lim, stop)
	waitFor(t, 5*time.Second, "first decisions from Redis", func() bool { return f.lastStore.Load() != 0 })

	if err := srv.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stoppedAt, _, _, _ := f.snapshot()
	time.Sleep(2 * time.Second)
	n0, src0, _, _ := f.snapshot()
	if err := srv.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed := time.Now()
	took := waitFor(t, 3*time.Second, "decisions back on Redis", func() bool { return f.lastStore.Load() > resumed.UnixNano() })
	close(stop)
	_, _, _, errs := f.snapshot()

	f.mu.Lock()
	hung := f.latencies[stoppedAt:n0]
	f.mu.Unlock()
	p99, worst := percentiles(hung)
	t.Logf("Redis frozen 2s: %d decisions, p99 %v, max %v, by source %v; back on Redis %v after SIGCONT", len(hung), p99, worst, src0, took)
	if errs != 0 {
		t.Errorf("%d decisions returned an error", errs)
	}
	if worst > 4*chaosTimeout {
		t.Errorf("a decision took %v while Redis was frozen; the timeout is %v", worst, chaosTimeout)
	}
	if took > time.Second+200*time.Millisecond {
		t.Errorf("back on Redis %v after SIGCONT, want within about 1s", took)
	}
	testutil.AssertEveryKeyHasTTL(t, st.RedisClient())
}

func TestChaosScriptFlush(t *testing.T) {
	verifyNoLeak(t)
	srv := testutil.StartRedis(t)
	st := openRedis(t, srv)
	lim, err := core.New(st, core.Limit{Rate: 300, Period: time.Hour, Burst: 300}, core.WithTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var admitted, fromStore atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				res, err := lim.Allow(ctx, 7)
				if err != nil {
					t.Error(err)
					return
				}
				if res.Source == core.SourceStore {
					fromStore.Add(1)
				}
				if res.Allowed {
					admitted.Add(1)
				}
			}
		}()
	}
	for i := 0; i < 5; i++ { // flush the script cache repeatedly mid-flood
		if err := st.RedisClient().ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	calls, err := testutil.CommandCalls(ctx, st.RedisClient())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("800 decisions with 5 SCRIPT FLUSHes: %d admitted, %d from Redis, evalsha %d, eval %d",
		admitted.Load(), fromStore.Load(), calls["evalsha"], calls["eval"])
	if admitted.Load() != 300 {
		t.Fatalf("admitted %d, want exactly the burst of 300: a NOSCRIPT retry must not count twice", admitted.Load())
	}
	if calls["eval"] == 0 {
		t.Fatal("no EVAL ran: the flushes did not hit the flood (test is not testing anything)")
	}
}

func TestChaosRedisRestartedEmpty(t *testing.T) {
	srv := testutil.StartRedis(t)
	st := openRedis(t, srv)
	lim, err := core.New(st, core.Every(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if res, _ := lim.Allow(ctx, 1); !res.Allowed {
		t.Fatal("first call denied")
	}
	if res, _ := lim.Allow(ctx, 1); res.Allowed {
		t.Fatal("second call allowed")
	}
	if err := srv.Restart(); err != nil { // no persistence: the server comes back empty
		t.Fatal(err)
	}
	// This instance's deny cache still holds user 1's denial until its
	// RetryAfter; another instance asks Redis, which has forgotten it.
	other, err := core.New(st, core.Every(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var res core.Result
	waitFor(t, 3*time.Second, "a decision from the restarted Redis", func() bool {
		res, err = other.Allow(ctx, 1)
		return err == nil && res.Source == core.SourceStore
	})
	if !res.Allowed {
		t.Fatalf("after an empty restart: %+v; want allowed (limits start over)", res)
	}
	if res, _ := lim.Allow(ctx, 1); res.Allowed || res.Source != core.SourceCache {
		t.Fatalf("the first instance: %+v; want its cached denial to hold until RetryAfter", res)
	}
}

func TestDenyCacheUnderFlood(t *testing.T) {
	srv := testutil.StartRedis(t)
	st := openRedis(t, srv)
	ctx := context.Background()
	for _, cached := range []bool{true, false} {
		lim, err := core.New(st, core.PerSecond(5), core.WithDenyCache(cached), core.WithPrefix(fmt.Sprintf("flood-%v", cached)))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.RedisClient().ConfigResetStat(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		// One user floods at 10k updates/s for 5 s; a normal user sends one
		// message every 500 ms on the same instance.
		const rate, secs = 10000, 5
		start := time.Now()
		var spamAllowed, normalDenied, normalSent int
		for i := 0; i < rate*secs; i++ {
			if due := start.Add(time.Duration(i) * time.Second / rate); time.Until(due) > time.Millisecond {
				time.Sleep(time.Until(due)) // pace the flood
			}
			if res, _ := lim.Allow(ctx, 666); res.Allowed {
				spamAllowed++
			}
			if i%(rate/2) == 0 {
				normalSent++
				if res, _ := lim.Allow(ctx, 42); !res.Allowed {
					normalDenied++
				}
			}
		}
		elapsed := time.Since(start)
		calls, err := testutil.CommandCalls(ctx, st.RedisClient())
		if err != nil {
			t.Fatal(err)
		}
		evals := calls["evalsha"] + calls["eval"]
		windows := int64(elapsed / (200 * time.Millisecond))
		t.Logf("deny cache %v: %d updates in %v, spammer admitted %d, Redis script calls %d (%d RetryAfter windows of 200ms), normal user denied %d of %d",
			cached, rate*secs, elapsed.Round(time.Millisecond), spamAllowed, evals, windows, normalDenied, normalSent)
		if normalDenied != 0 {
			t.Errorf("the normal user was denied %d times", normalDenied)
		}
		if cached && evals > 2*windows+int64(normalSent)+10 {
			t.Errorf("with the deny cache: %d Redis calls for %d windows; want about one per window", evals, windows)
		}
		if !cached && evals < int64(rate*secs) {
			t.Errorf("without the deny cache: %d Redis calls for %d updates (the comparison is meaningless)", evals, rate*secs)
		}
	}
}
