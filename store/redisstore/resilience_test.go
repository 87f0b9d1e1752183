package redisstore

// The store under core.Resilient, end to end on real redis-servers, as bot
// instances run it: what issue 11's closing note asks for. Planted values
// heal without a fault and without opening the breaker; a rolling change of
// algorithm keeps both exact; penalties cost one command per passing
// update; a missing permission never opens the breaker, a dead server does.

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
	"github.com/redis/go-redis/v9"
)

// recorder is a core.Observer that keeps what it hears.
type recorder struct {
	mu        sync.Mutex
	faults    map[string]int // by kind: key, config, outage
	faultErrs []error
	breaker   []bool // transitions: true = opened
	sources   map[core.Source]int
}

func newRecorder() *recorder {
	return &recorder{faults: map[string]int{}, sources: map[core.Source]int{}}
}

func (r *recorder) Decision(e core.DecisionEvent) {
	r.mu.Lock()
	r.sources[e.Source]++
	r.mu.Unlock()
}

func (r *recorder) Fault(e core.FaultEvent) {
	r.mu.Lock()
	r.faults[kindName(e.Err)]++
	if len(r.faultErrs) < 5 {
		r.faultErrs = append(r.faultErrs, e.Err)
	}
	r.mu.Unlock()
}

func (r *recorder) Breaker(e core.BreakerEvent) {
	r.mu.Lock()
	r.breaker = append(r.breaker, e.Open)
	r.mu.Unlock()
}

func (r *recorder) snapshot() (faults map[string]int, breaker []bool, sources map[core.Source]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	faults, sources = map[string]int{}, map[core.Source]int{}
	for k, v := range r.faults {
		faults[k] = v
	}
	for k, v := range r.sources {
		sources[k] = v
	}
	return faults, slices.Clone(r.breaker), sources
}

// instance is one bot instance: its own client, a redisstore.Store over
// it, wrapped by core.Resilient with obs.
type instance struct {
	client *redis.Client
	store  core.Store
}

// newInstance builds an instance over srv. The timeout is generous (a
// loaded test machine must not turn a decision into a fallback) and the
// deny cache is off, so that every decision reaches Redis and Source says
// SourceStore unless the store failed.
func newInstance(t *testing.T, srv *testutil.Redis, obs core.Observer, opts ...Option) *instance {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true, MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = client.Close() })
	fb := memorystore.New()
	t.Cleanup(func() { _ = fb.Close() })
	st, err := core.Resilient(New(client, opts...), core.Resilience{
		Fallback: fb, Timeout: 10 * time.Second, NoDenyCache: true, Name: "redis", Observer: obs,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &instance{client: client, store: st}
}

// Issue 11's closing note: one user's GCRA key holds a hash (WRONGTYPE),
// others a corrupted value, all without a TTL. Three bot instances flood
// other users and touch the planted keys at the same time. Nothing may
// fail: every decision is the store's, the breaker stays closed, no fault
// is reported, the planted keys decide as fresh keys and end with a TTL.
func TestPlantedKeysHealUnderFlood(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	admin := srv.Client(t)
	ctx := context.Background()
	obs := newRecorder()
	// T = 3 min: nothing replenishes during the test, so counts are exact.
	l := core.Limit{Rate: 20, Period: time.Hour, Burst: 20}
	var lims []*core.Limiter
	for range 3 {
		lim, err := core.New(newInstance(t, srv, obs).store, l, core.WithObserver(obs))
		if err != nil {
			t.Fatal(err)
		}
		lims = append(lims, lim)
	}
	planted := map[int64]string{1: "hash", 2: "inf", 3: "99999999999999999999999", 4: "abc", 5: "-nan", 6: "1e300"}
	for u, v := range planted {
		key := lims[0].Key(core.User(u))
		var err error
		if v == "hash" {
			err = admin.HSet(ctx, key, "tat", "1").Err()
		} else {
			err = admin.Set(ctx, key, v, 0).Err()
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	const users, workers, each = 50, 16, 40 // 3 × 16 × 40 = 1920 decisions on 50 users
	var (
		mu       sync.Mutex
		admitted = map[int64]int{}
		healed   = map[int64][]int{} // the planted users' Remaining, in order
		bad      []string
		wg       sync.WaitGroup
		start    = make(chan struct{})
	)
	began := time.Now()
	for i, lim := range lims {
		for w := range workers {
			wg.Go(func() {
				<-start
				for j := range each {
					u := int64(100 + (i*workers*each+w*each+j)%users)
					if w == 0 && j < len(planted) { // the planted users, once per instance, amid the flood
						u = int64(1 + j)
					}
					res, err := lim.Take(ctx, core.User(u), 1)
					mu.Lock()
					switch {
					case err != nil || res.Source != core.SourceStore:
						bad = append(bad, res.Source.String()+" "+errString(err))
					case u < 100:
						healed[u] = append(healed[u], res.Remaining)
					case res.Allowed:
						admitted[u]++
					}
					mu.Unlock()
				}
			})
		}
	}
	close(start)
	wg.Wait()
	elapsed := time.Since(began)

	faults, breaker, sources := obs.snapshot()
	t.Logf("%d decisions from 3 instances in %v: sources %v; faults by kind %v; breaker transitions %v",
		len(lims)*workers*each, elapsed.Round(time.Millisecond), sources, faults, breaker)
	if len(bad) > 0 {
		t.Errorf("%d decisions not made by the store: %v", len(bad), bad[:min(len(bad), 5)])
	}
	if len(faults) > 0 || len(breaker) > 0 {
		t.Errorf("faults %v (first: %v), breaker transitions %v; want none", faults, obs.faultErrs, breaker)
	}
	for u := int64(100); u < 100+users; u++ {
		if admitted[u] != l.Burst {
			t.Errorf("user %d admitted %d, want exactly %d", u, admitted[u], l.Burst)
		}
	}
	for u, v := range planted {
		key := lims[0].Key(core.User(u))
		rem := healed[u]
		sort.Sort(sort.Reverse(sort.IntSlice(rem)))
		// Three decisions, the first on a fresh key: 19, 18, 17 left.
		if !slices.Equal(rem, []int{l.Burst - 1, l.Burst - 2, l.Burst - 3}) {
			t.Errorf("user %d (planted %q): Remaining %v, want [19 18 17]: read as a fresh key", u, v, rem)
		}
		typ := admin.Type(ctx, key).Val()
		ttl := admin.PTTL(ctx, key).Val()
		t.Logf("planted %-25q at %s: decisions left %v; now a %s with PTTL %v", v, key, rem, typ, ttl.Round(time.Second))
		if typ != "string" || ttl <= 0 {
			t.Errorf("%s: %s with PTTL %v, want a string with a TTL", key, typ, ttl)
		}
	}
	n := testutil.AssertEveryKeyHasTTL(t, admin)
	t.Logf("%d keys on the server, every one with a TTL", n)
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// A rolling change from "20/m" to "20/m window": the same users are decided
// under both limits at once, by three instances, interleaved. The Limiter
// gives window keys a ":win" suffix, so the algorithms never read each
// other's state: the breaker stays closed, every decision is the store's,
// and each algorithm admits exactly its limit on its own keys.
func TestRollingAlgorithmChange(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	admin := srv.Client(t)
	ctx := context.Background()
	gl, err := core.ParseLimit("20/m")
	if err != nil {
		t.Fatal(err)
	}
	wl, err := core.ParseLimit("20/m window")
	if err != nil {
		t.Fatal(err)
	}
	if gl.Algorithm != core.GCRA || wl.Algorithm != core.SlidingWindow {
		t.Fatalf("ParseLimit: %v and %v", gl, wl)
	}
	clock := testutil.NewClock() // one frozen server clock for all instances: exact counts
	obs := newRecorder()
	type limiter struct {
		lim    *core.Limiter
		window bool
	}
	var lims []limiter
	for i := range 3 {
		st := newInstance(t, srv, obs, WithClock(clock.Now)).store
		// Instance 0 still runs the old limit, 1 the new one, 2 both (it
		// is being restarted with the new configuration).
		for _, l := range [][]core.Limit{{gl}, {wl}, {gl, wl}}[i] {
			lim, err := core.New(st, l, core.WithObserver(obs))
			if err != nil {
				t.Fatal(err)
			}
			lims = append(lims, limiter{lim, l.Algorithm == core.SlidingWindow})
		}
	}
	const users, workers, each = 30, 8, 60
	var (
		mu       sync.Mutex
		admitted = map[bool]map[int64]int{false: {}, true: {}}
		bad      []string
		wg       sync.WaitGroup
		start    = make(chan struct{})
	)
	for i, l := range lims {
		for w := range workers {
			wg.Go(func() {
				<-start
				for j := range each {
					u := int64(1000 + (w*each+j+i)%users)
					res, err := l.lim.Take(ctx, core.User(u), 1)
					mu.Lock()
					if err != nil || res.Source != core.SourceStore {
						bad = append(bad, res.Source.String()+" "+errString(err))
					} else if res.Allowed {
						admitted[l.window][u]++
					}
					mu.Unlock()
				}
			})
		}
	}
	close(start)
	wg.Wait()
	faults, breaker, sources := obs.snapshot()
	t.Logf("%d limiters on 3 instances, %d decisions: sources %v, faults %v, breaker %v",
		len(lims), len(lims)*workers*each, sources, faults, breaker)
	if len(bad) > 0 || len(faults) > 0 || len(breaker) > 0 {
		t.Errorf("%d decisions not the store's (%v); faults %v; breaker transitions %v; want none",
			len(bad), bad[:min(len(bad), 5)], faults, breaker)
	}
	for u := int64(1000); u < 1000+users; u++ {
		if admitted[false][u] != gl.Burst || admitted[true][u] != wl.Rate {
			t.Errorf("user %d admitted %d under %v and %d under %v, want exactly %d each",
				u, admitted[false][u], gl, admitted[true][u], wl, gl.Burst)
		}
		gk, wk := lims[0].lim.Key(core.User(u)), lims[1].lim.Key(core.User(u))
		if typ := admin.Type(ctx, gk).Val(); typ != "string" {
			t.Errorf("%s is a %s, want a string (a TAT)", gk, typ)
		}
		if n := admin.LLen(ctx, wk).Val(); !strings.HasSuffix(wk, ":win") || n != int64(wl.Rate) {
			t.Errorf("%s holds %d events, want a :win key with %d", wk, n, wl.Rate)
		}
	}
	testutil.AssertEveryKeyHasTTL(t, admin)
}

// Penalties cost no store call on a passing update: the block lives in the
// guard's own limit (guard.WithPenalty over Limiter.Block). Counted with
// INFO commandstats: per passing update, the commands the client sends and
// the commands Redis runs (Redis 7 counts a script's redis.call too).
func TestCommandsPerUpdateWithPenalties(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	ctx := context.Background()
	g := testutil.NewGuard(t, New(client), core.PerMinute(20), nil, nil, guard.WithPenalty(guard.DefaultPenalty))
	msg := func(u int64) guard.Update {
		return guard.Update{Kind: guard.KindMessage, UserID: u, ChatID: u, ChatType: "private"}
	}
	if v := g.Check(ctx, msg(1)); !v.Pass { // loads the script
		t.Fatalf("warm-up: %+v", v)
	}
	if err := client.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	const updates = 1000 // 100 users × 10, all under 20/m
	for i := range updates {
		if v := g.Check(ctx, msg(int64(2+i%100))); !v.Pass {
			t.Fatalf("update %d: %+v, want it to pass", i, v)
		}
	}
	calls, err := testutil.CommandCalls(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	var sent, ran int64
	var lines []string
	for cmd, n := range calls {
		if cmd == "config|resetstat" || handshake[cmd] {
			continue
		}
		lines = append(lines, cmd+"="+strconv.FormatInt(n, 10))
		ran += n
		if cmd == "evalsha" || cmd == "eval" || !inScript[cmd] {
			sent += n
		}
	}
	sort.Strings(lines)
	t.Logf("%d passing updates with penalties on: %s; per update: %.2f commands sent, %.2f run by Redis",
		updates, strings.Join(lines, " "), float64(sent)/updates, float64(ran)/updates)
	if calls["evalsha"] != updates || sent != updates {
		t.Errorf("%d commands sent (%d EVALSHA) for %d passing updates, want one EVALSHA each and nothing else",
			sent, calls["evalsha"], updates)
	}
}

// inScript are the commands gcra.lua runs inside a script.
var inScript = map[string]bool{"get": true, "set": true, "time": true, "pttl": true, "pexpire": true}

// The kinds that matter to the breaker, end to end: a store whose ACL user
// may run neither EVALSHA nor EVAL is misconfigured, which is reported on
// every decision and never opens the breaker; a server that is stopped, or
// hung (SIGSTOP), fails every call, and the breaker opens after
// BreakerThreshold of them, then closes when the server answers a probe.
func TestBreakerSeesErrorKinds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := core.PerMinute(5)
	resilient := func(t *testing.T, client *redis.Client, obs core.Observer, clock *testutil.Clock) core.Store {
		fb := memorystore.New()
		t.Cleanup(func() { _ = fb.Close() })
		st, err := core.Resilient(New(client), core.Resilience{
			// 1 s: long for a decision, but a busy CI machine must not
			// time out the decisions made before the outage.
			Fallback: fb, Timeout: time.Second, Name: "redis", Observer: obs, Clock: clock.Now,
			Logger: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	flood := func(t *testing.T, st core.Store, n int) map[core.Source]int {
		sources := map[core.Source]int{}
		for i := range n {
			res, err := st.Take(ctx, "floodgate:{u:"+strconv.Itoa(i%7)+"}:msg", l, 1)
			if err != nil {
				t.Fatalf("decision %d: %v", i, err)
			}
			sources[res.Source]++
		}
		return sources
	}

	t.Run("NOPERM", func(t *testing.T) {
		t.Parallel()
		srv := testutil.StartRedis(t)
		client, _ := aclClient(t, srv, "noscripts", "~*", "+@all", "-evalsha", "-eval")
		obs := newRecorder()
		sources := flood(t, resilient(t, client, obs, testutil.NewClock()), 50)
		faults, breaker, _ := obs.snapshot()
		t.Logf("50 decisions, ACL user without EVALSHA/EVAL: sources %v, faults %v, breaker %v; first fault: %v",
			sources, faults, breaker, obs.faultErrs[0])
		if faults["config"] != 50 || len(faults) != 1 || len(breaker) != 0 || sources[core.SourceFallback] != 50 {
			t.Errorf("want 50 config faults, no other, the breaker never opened, every decision by the fallback")
		}
		for _, err := range obs.faultErrs {
			if !errors.Is(err, core.ErrMisconfigured) || !strings.Contains(err.Error(), "NOPERM") {
				t.Errorf("fault %v, want ErrMisconfigured (NOPERM)", err)
			}
		}
	})

	for _, how := range []string{"stopped", "hung"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			srv := testutil.StartRedis(t)
			client := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true, MaxRetries: -1,
				DialerRetries: 1, DialTimeout: time.Second})
			t.Cleanup(func() { _ = client.Close() })
			obs := newRecorder()
			clock := testutil.NewClock()
			st := resilient(t, client, obs, clock)
			if s := flood(t, st, 5); s[core.SourceStore] != 5 {
				t.Fatalf("before the outage: %v, want the store's", s)
			}
			if how == "stopped" {
				srv.Stop()
			} else {
				if err := srv.Signal(syscall.SIGSTOP); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = srv.Signal(syscall.SIGCONT) })
			}
			sources := flood(t, st, 20)
			faults, breaker, _ := obs.snapshot()
			t.Logf("server %s: 20 decisions: sources %v, faults by kind %v, breaker %v; first fault: %v",
				how, sources, faults, breaker, obs.faultErrs[0])
			// The default threshold: 5 failures open it; then the store is
			// skipped (no fault) until a probe is due.
			if !slices.Equal(breaker, []bool{true}) || faults["outage"] != 5 || len(faults) != 1 || sources[core.SourceFallback] != 20 {
				t.Errorf("want 5 outage faults, the breaker opened once, every decision by the fallback")
			}
			if how == "hung" {
				for _, err := range obs.faultErrs {
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("fault %v does not wrap context.DeadlineExceeded", err)
					}
				}
			}
			// Back: the next probe closes the breaker.
			if how == "stopped" {
				if err := srv.Restart(); err != nil {
					t.Fatal(err)
				}
			} else if err := srv.Signal(syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
			clock.Advance(time.Second) // past the probe interval (500 ms)
			var res core.Result
			for range 50 { // a pooled connection may be dead: give the probe a few tries
				var err error
				if res, err = st.Take(ctx, "floodgate:{u:back}:msg", l, 1); err != nil {
					t.Fatal(err)
				}
				if res.Source == core.SourceStore {
					break
				}
				clock.Advance(time.Second)
			}
			_, breaker, _ = obs.snapshot()
			if res.Source != core.SourceStore || !slices.Equal(breaker, []bool{true, false}) {
				t.Errorf("after the server came back: %v, breaker %v; want the store's decision and the breaker closed", res.Source, breaker)
			}
		})
	}
}
