package core_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
)

// flakyStore wraps a mapStore and can be told to fail, to hang (block
// until the call's context ends, like a frozen Redis), or to fail only for
// some keys with a given error.
type flakyStore struct {
	*mapStore
	mode   atomic.Int32 // modeOK, modeFail, modeHang
	mu     sync.Mutex
	keyErr map[string]error // per-key error, whatever the mode
}

const (
	modeOK int32 = iota
	modeFail
	modeHang
)

var errFlaky = errors.New("flaky: connection refused")

func newFlaky() *flakyStore { return &flakyStore{mapStore: newMapStore(), keyErr: map[string]error{}} }

func (s *flakyStore) setKeyErr(key string, err error) {
	s.mu.Lock()
	s.keyErr[key] = err
	s.mu.Unlock()
}

// fail returns the error a call on key gets, or nil to go on.
func (s *flakyStore) fail(ctx context.Context, key string, count *atomic.Int64) error {
	s.mu.Lock()
	err := s.keyErr[key]
	s.mu.Unlock()
	if err != nil {
		count.Add(1)
		return err
	}
	switch s.mode.Load() {
	case modeFail:
		count.Add(1)
		return errFlaky
	case modeHang:
		count.Add(1)
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (s *flakyStore) Take(ctx context.Context, key string, l core.Limit, n int) (core.Result, error) {
	if err := s.fail(ctx, key, &s.takes); err != nil {
		return core.Result{}, err
	}
	return s.mapStore.Take(ctx, key, l, n)
}

func (s *flakyStore) Peek(ctx context.Context, key string, l core.Limit) (core.Result, error) {
	if err := s.fail(ctx, key, &s.peeks); err != nil {
		return core.Result{}, err
	}
	return s.mapStore.Peek(ctx, key, l)
}

func (s *flakyStore) Reset(ctx context.Context, key string) error {
	if err := s.fail(ctx, key, &s.resets); err != nil {
		return err
	}
	return s.mapStore.Reset(ctx, key)
}

func (s *flakyStore) Block(ctx context.Context, key string, l core.Limit, d time.Duration) error {
	if err := s.fail(ctx, key, &s.blocks); err != nil {
		return err
	}
	return s.mapStore.Block(ctx, key, l, d)
}

// recorder is an Observer that keeps every event.
type recorder struct {
	mu        sync.Mutex
	decisions []core.DecisionEvent
	faults    []core.FaultEvent
	breakers  []core.BreakerEvent
}

func (r *recorder) Decision(e core.DecisionEvent) {
	r.mu.Lock()
	r.decisions = append(r.decisions, e)
	r.mu.Unlock()
}

func (r *recorder) Fault(e core.FaultEvent) {
	r.mu.Lock()
	r.faults = append(r.faults, e)
	r.mu.Unlock()
}

func (r *recorder) Breaker(e core.BreakerEvent) {
	r.mu.Lock()
	r.breakers = append(r.breakers, e)
	r.mu.Unlock()
}

// counts returns how many faults and breaker events the recorder holds.
func (r *recorder) counts() (faults, breakers int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.faults), len(r.breakers)
}

// resilientOver wraps st with r's settings, the store's clock, and a
// memorystore fallback on the same clock under FailLocal.
func resilientOver(t *testing.T, st *flakyStore, r core.Resilience) core.Store {
	t.Helper()
	r.Clock = st.clock
	if r.Logger == nil {
		r.Logger = discard
	}
	if r.Policy == core.FailLocal && r.Fallback == nil {
		fb := memorystore.New(memorystore.WithClock(st.clock))
		t.Cleanup(func() { _ = fb.Close() })
		r.Fallback = fb
	}
	rs, err := core.Resilient(st, r)
	if err != nil {
		t.Fatalf("Resilient: %v", err)
	}
	return rs
}

func TestResilientRejects(t *testing.T) {
	t.Parallel()
	fb := memorystore.New()
	t.Cleanup(func() { _ = fb.Close() })
	for name, tc := range map[string]struct {
		st core.Store
		r  core.Resilience
	}{
		"nil store":               {nil, core.Resilience{Fallback: fb}},
		"FailLocal, no fallback":  {newMapStore(), core.Resilience{}},
		"unknown policy":          {newMapStore(), core.Resilience{Policy: 9}},
		"negative timeout":        {newMapStore(), core.Resilience{Fallback: fb, Timeout: -time.Millisecond}},
		"negative threshold":      {newMapStore(), core.Resilience{Fallback: fb, BreakerThreshold: -1}},
		"negative probe interval": {newMapStore(), core.Resilience{Fallback: fb, ProbeInterval: -time.Second}},
	} {
		if _, err := core.Resilient(tc.st, tc.r); !errors.Is(err, core.ErrInvalidOption) {
			t.Errorf("%s: err = %v, want ErrInvalidOption", name, err)
		}
	}
	if _, err := core.Resilient(newMapStore(), core.Resilience{}); err == nil || !strings.Contains(err.Error(), "Fallback") {
		t.Errorf("FailLocal without a fallback: %v, want an error naming Fallback", err)
	}
	for _, p := range []core.FailurePolicy{core.FailOpen, core.FailClosed} {
		if _, err := core.Resilient(newMapStore(), core.Resilience{Policy: p}); err != nil {
			t.Errorf("%v needs no fallback: %v", p, err)
		}
	}
}

// TestPolicies: every operation decided during an outage follows the
// policy, through one path: Take, Peek and TakeAll alike.
func TestPolicies(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	for _, tc := range []struct {
		policy  core.FailurePolicy
		allowed []bool
		source  core.Source
	}{
		{core.FailLocal, []bool{true, true, false}, core.SourceFallback}, // the fallback limits too
		{core.FailOpen, []bool{true, true, true}, core.SourcePolicy},
		{core.FailClosed, []bool{false, false, false}, core.SourcePolicy},
	} {
		st := newFlaky()
		st.mode.Store(modeFail)
		lim := mustNew(t, resilientOver(t, st, core.Resilience{Policy: tc.policy}), core.PerMinute(2))
		for i, want := range tc.allowed {
			res, err := lim.Take(ctx, core.User(1), 1)
			if err != nil || res.Allowed != want || res.Source != tc.source {
				t.Errorf("%v Take %d: %+v, %v; want allowed=%v from %v and no error", tc.policy, i, res, err, want, tc.source)
			}
			if !res.Allowed && res.RetryAfter <= 0 {
				t.Errorf("%v Take %d: a denial without a RetryAfter: %+v", tc.policy, i, res)
			}
		}
		res, err := lim.Peek(ctx, core.User(1))
		if err != nil || res.Allowed != tc.allowed[2] || res.Source != tc.source {
			t.Errorf("%v Peek: %+v, %v; want what a Take would say, from %v", tc.policy, res, err, tc.source)
		}
	}
}

// TestTakeAllFollowsThePolicy: lanes take the same path as Take.
func TestTakeAllFollowsThePolicy(t *testing.T) {
	t.Parallel()
	lanes := []core.Lane{{Key: "x:{bot:1}:out:global", Limit: core.Window(30, time.Second)},
		{Key: "x:{bot:1}:out:chat:1", Limit: core.Window(1, time.Second)}}
	ctx := t.Context()
	down := core.Store(testutil.FailingStore{})
	for policy, want := range map[core.FailurePolicy][]bool{
		core.FailLocal: {true, false}, core.FailOpen: {true, true}, core.FailClosed: {false, false},
	} {
		r := core.Resilience{Policy: policy, Logger: discard}
		if policy == core.FailLocal {
			fb := memorystore.New()
			t.Cleanup(func() { _ = fb.Close() })
			r.Fallback = fb
		}
		rs, err := core.Resilient(down, r)
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range want {
			res, err := rs.TakeAll(ctx, lanes, 1)
			if err != nil || res.Allowed != w || res.Source == core.SourceStore {
				t.Errorf("%v TakeAll %d: %+v, %v; want allowed=%v, not from the store", policy, i, res, err, w)
			}
		}
	}
}

func TestBreakerOpensProbesAndCloses(t *testing.T) {
	t.Parallel()
	st := newFlaky()
	var log testutil.SyncBuffer
	rec := &recorder{}
	lim := mustNew(t, resilientOver(t, st, core.Resilience{BreakerThreshold: 3, ProbeInterval: time.Second,
		Observer: rec, Name: "bot", Logger: slog.New(slog.NewTextHandler(&log, nil))}), core.PerSecond(1000))
	ctx := context.Background()
	take := func(id int64) core.Result {
		t.Helper()
		res, err := lim.Take(ctx, core.User(id), 1)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	st.mode.Store(modeFail)
	for i := range 10 {
		if res := take(int64(i)); res.Source != core.SourceFallback || !res.Allowed {
			t.Fatalf("decision %d during the outage: %+v", i, res)
		}
	}
	if n := st.takes.Load(); n != 3 {
		t.Fatalf("store called %d times, want 3: the breaker opens after 3 failures", n)
	}
	// Before the probe interval: still no store calls.
	st.advance(999 * time.Millisecond)
	take(1)
	if n := st.takes.Load(); n != 3 {
		t.Fatalf("store called %d times before the probe was due", n)
	}
	// The probe fails: the breaker stays open for another interval.
	st.advance(time.Millisecond)
	take(1)
	take(2)
	if n := st.takes.Load(); n != 4 {
		t.Fatalf("store called %d times, want exactly one probe", n)
	}
	// The store is back: the next probe closes the breaker.
	st.mode.Store(modeOK)
	st.advance(time.Second)
	for i := range 5 {
		if res := take(int64(100 + i)); res.Source != core.SourceStore {
			t.Fatalf("decision %d after recovery: %+v; want from the store", i, res)
		}
	}
	out := log.String()
	if strings.Count(out, "circuit breaker open") != 1 || strings.Count(out, "circuit breaker closed") != 1 {
		t.Fatalf("want each transition logged once, got:\n%s", out)
	}
	faults, _ := rec.counts()
	if faults != 4 { // 3 failures, 1 failed probe: a skipped call is no new fault
		t.Errorf("observer saw %d faults, want 4", faults)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.breakers) != 2 || !rec.breakers[0].Open || rec.breakers[1].Open || rec.breakers[0].Name != "bot" {
		t.Errorf("breaker events %+v, want open then closed, named bot", rec.breakers)
	}
}

// TestKeyFaultStaysWithTheKey: a fault of one key, hit any number of times,
// never opens the breaker: every other key keeps being decided by the
// store. Only the faulty key's own decisions follow the policy.
func TestKeyFaultStaysWithTheKey(t *testing.T) {
	t.Parallel()
	for _, kind := range []error{core.ErrKeyFault, core.ErrMisconfigured} {
		t.Run(kind.Error(), func(t *testing.T) {
			t.Parallel()
			st := newFlaky()
			rec := &recorder{}
			var log testutil.SyncBuffer
			lim := mustNew(t, resilientOver(t, st, core.Resilience{BreakerThreshold: 2, Observer: rec,
				Logger: slog.New(slog.NewTextHandler(&log, nil))}), core.PerSecond(1000))
			bad := lim.Key(core.User(666))
			st.setKeyErr(bad, fmt.Errorf("flaky: %w: WRONGTYPE at %s", kind, bad))
			ctx := t.Context()
			for i := range 50 {
				res, err := lim.Take(ctx, core.User(666), 1)
				if err != nil || res.Source != core.SourceFallback {
					t.Fatalf("faulty key, call %d: %+v, %v; want decided by the fallback", i, res, err)
				}
				res, err = lim.Take(ctx, core.User(int64(i)), 1)
				if err != nil || res.Source != core.SourceStore || !res.Allowed {
					t.Fatalf("another key, call %d: %+v, %v; want the store's decision", i, res, err)
				}
			}
			faults, breakers := rec.counts()
			if faults != 50 || breakers != 0 {
				t.Errorf("observer saw %d faults and %d breaker events, want 50 and 0", faults, breakers)
			}
			if n := strings.Count(log.String(), "level="); n != 1 {
				t.Errorf("want the fault logged once, got %d lines:\n%s", n, log.String())
			}
			// A real outage still opens the breaker afterwards.
			st.mode.Store(modeFail)
			for i := range 3 {
				lim.Take(ctx, core.User(int64(1000+i)), 1)
			}
			if _, breakers := rec.counts(); breakers != 1 {
				t.Errorf("after an outage: %d breaker events, want the breaker open", breakers)
			}
		})
	}
}

func TestTimeoutBoundsAHungStore(t *testing.T) {
	t.Parallel()
	st := newFlaky()
	st.mode.Store(modeHang)
	rec := &recorder{}
	lim := mustNew(t, resilientOver(t, st, core.Resilience{Timeout: 20 * time.Millisecond, Observer: rec}), core.PerSecond(10))
	res, err := lim.Take(context.Background(), core.User(1), 1)
	if err != nil || res.Source != core.SourceFallback || !res.Allowed {
		t.Fatalf("decision against a hung store: %+v, %v", res, err)
	}
	rec.mu.Lock()
	if len(rec.faults) != 1 || !errors.Is(rec.faults[0].Err, context.DeadlineExceeded) {
		t.Errorf("faults %+v, want one timeout", rec.faults)
	}
	rec.mu.Unlock()

	// The caller's own cancellation is the caller's error, not a store failure.
	slow := mustNew(t, resilientOver(t, st, core.Resilience{Timeout: time.Hour}), core.PerSecond(10))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := slow.Take(ctx, core.User(1), 1); done <- err }()
	for st.takes.Load() < 2 { // wait until the call hangs in the store
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("caller canceled mid-call: err = %v, want context.Canceled", err)
	}
}

func TestResetAndBlockReachTheFallback(t *testing.T) {
	t.Parallel()
	st := newFlaky()
	lim := mustNew(t, resilientOver(t, st, core.Resilience{}), core.PerMinute(1))
	ctx := t.Context()
	// A block made while the store answers holds through an outage.
	if err := lim.Block(ctx, core.User(1), time.Hour); err != nil {
		t.Fatal(err)
	}
	st.mode.Store(modeFail)
	if res, _ := lim.Take(ctx, core.User(1), 1); res.Allowed || res.Source != core.SourceFallback || res.RetryAfter != time.Hour {
		t.Fatalf("blocked user during an outage: %+v, want the fallback's 1h denial", res)
	}
	// During the outage, Reset and Block return the store's error, and
	// still apply on this instance.
	if err := lim.Reset(ctx, core.User(1)); !errors.Is(err, errFlaky) {
		t.Errorf("Reset during an outage: %v, want the store's error", err)
	}
	if res, _ := lim.Take(ctx, core.User(1), 1); !res.Allowed {
		t.Errorf("after Reset, the fallback still denies: %+v", res)
	}
	if err := lim.Block(ctx, core.User(2), time.Minute); !errors.Is(err, errFlaky) {
		t.Errorf("Block during an outage: %v, want the store's error", err)
	}
	if res, _ := lim.Take(ctx, core.User(2), 1); res.Allowed {
		t.Errorf("a block made during the outage does not hold locally: %+v", res)
	}
}

// failingFallback fails every call, like a third-party fallback that broke.
type failingFallback struct{ testutil.FailingStore }

func TestFailingFallbackDenies(t *testing.T) {
	t.Parallel()
	st := newFlaky()
	st.mode.Store(modeFail)
	rec := &recorder{}
	lim := mustNew(t, resilientOver(t, st, core.Resilience{Fallback: failingFallback{}, Observer: rec}), core.PerSecond(5))
	res, err := lim.Take(t.Context(), core.User(1), 1)
	if err != nil || res.Allowed || res.Source != core.SourcePolicy {
		t.Fatalf("store and fallback down: %+v, %v; want a policy denial", res, err)
	}
	if faults, _ := rec.counts(); faults != 2 {
		t.Errorf("observer saw %d faults, want the store's and the fallback's", faults)
	}
}

func TestDenyCache(t *testing.T) {
	t.Parallel()
	st := newFlaky()
	l := core.PerSecond(2) // interval 500ms, burst 2
	cached := mustNew(t, resilientOver(t, st, core.Resilience{}), l)
	direct := mustNew(t, resilientOver(t, st, core.Resilience{NoDenyCache: true}), l, core.WithPrefix("direct"))
	ctx := context.Background()
	take := func(lim *core.Limiter) core.Result {
		t.Helper()
		res, err := lim.Take(ctx, core.User(1), 1)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	// The same history on two keys: one through the cache, one without.
	for range 2 {
		take(cached)
		take(direct)
	}
	before := st.takes.Load()
	for step := range 8 {
		for range 50 {
			got, want := take(cached), take(direct)
			got.Source, want.Source = 0, 0
			if got != want {
				t.Fatalf("step %d: cached %+v, store says %+v", step, got, want)
			}
		}
		st.advance(125 * time.Millisecond)
	}
	// 8 steps of 125ms = 2 intervals of 500ms: 2 admissions, and about one
	// store call per denial window for the cached key, 400 for the direct one.
	calls := st.takes.Load() - before - 400
	if calls > 6 {
		t.Fatalf("cached key made %d store calls for 400 requests, want about one per RetryAfter window", calls)
	}
	t.Logf("400 requests over 1s: %d store calls with the deny cache, 400 without", calls)

	// Other users are unaffected, and Reset clears the cached denial.
	if res, _ := cached.Take(ctx, core.User(2), 1); !res.Allowed {
		t.Fatal("another user denied")
	}
	if err := cached.Reset(ctx, core.User(1)); err != nil {
		t.Fatal(err)
	}
	if res := take(cached); !res.Allowed || res.Source != core.SourceStore {
		t.Fatalf("after Reset: %+v", res)
	}
}

func TestDenyCacheCostN(t *testing.T) {
	t.Parallel()
	st := newFlaky()
	lim := mustNew(t, resilientOver(t, st, core.Resilience{}), core.PerSecond(5)) // interval 200ms, burst 5
	ctx := context.Background()
	u := core.User(1)
	lim.Take(ctx, u, 4) // 1 left
	if res, _ := lim.Take(ctx, u, 3); res.Allowed || res.RetryAfter != 400*time.Millisecond {
		t.Fatalf("cost 3 with 1 left: %+v", res)
	}
	// The cached denial was for cost 3; cost 1 must still reach the store.
	if res, _ := lim.Take(ctx, u, 1); !res.Allowed || res.Source != core.SourceStore {
		t.Fatalf("cost 1 after a cost-3 denial: %+v", res)
	}
	if res, _ := lim.Take(ctx, u, 2); res.Allowed || res.Source != core.SourceStore {
		t.Fatalf("cost 2 when empty: %+v", res)
	}
	if res, _ := lim.Take(ctx, u, 1); res.Allowed || res.Source != core.SourceCache || res.RetryAfter != 200*time.Millisecond {
		t.Fatalf("cost 1 after a cost-2 denial: %+v, want a cached denial of 200ms", res)
	}
}

// TestBlockOutlastsTheDenyCache: a block made after a cached denial is not
// hidden by it.
func TestBlockOutlastsTheDenyCache(t *testing.T) {
	t.Parallel()
	st := newFlaky()
	lim := mustNew(t, resilientOver(t, st, core.Resilience{}), core.PerSecond(1))
	ctx := t.Context()
	lim.Take(ctx, core.User(1), 1)
	lim.Take(ctx, core.User(1), 1) // denied, cached for 1s
	if err := lim.Block(ctx, core.User(1), time.Hour); err != nil {
		t.Fatal(err)
	}
	st.advance(time.Second)
	if res, _ := lim.Take(ctx, core.User(1), 1); res.Allowed {
		t.Fatalf("after the cached denial ended, the block was lost: %+v", res)
	}
}

func TestObserverSeesDecisions(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	st := newFlaky()
	lim := mustNew(t, resilientOver(t, st, core.Resilience{BreakerThreshold: 2, Observer: rec}), core.PerMinute(2),
		core.WithObserver(rec), core.WithPrefix("bot"))
	ctx := context.Background()
	for range 3 { // allowed, allowed, denied
		lim.Take(ctx, core.User(1), 1)
	}
	lim.Take(ctx, core.User(1), 1) // the deny cache answers
	st.mode.Store(modeFail)
	for range 3 { // failure 1, failure 2 (the breaker opens), then skipped; the fallback limits too
		lim.Take(ctx, core.User(2), 1)
	}
	type short struct {
		allowed bool
		source  core.Source
	}
	want := []short{{true, core.SourceStore}, {true, core.SourceStore}, {false, core.SourceStore},
		{false, core.SourceCache}, {true, core.SourceFallback}, {true, core.SourceFallback}, {false, core.SourceFallback}}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.decisions) != len(want) {
		t.Fatalf("decisions %+v, want %d", rec.decisions, len(want))
	}
	for i, e := range rec.decisions {
		if got := (short{e.Allowed, e.Source}); got != want[i] || e.Prefix != "bot" || e.Rule != "msg" || e.Latency < 0 {
			t.Errorf("decision %d: %+v, want %+v under bot/msg", i, e, want[i])
		}
	}
	if len(rec.faults) != 2 || len(rec.breakers) != 1 || !rec.breakers[0].Open {
		t.Errorf("faults %+v, breakers %+v; want 2 faults and the breaker open", rec.faults, rec.breakers)
	}
}

func TestShadowMode(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	st := memorystore.New(memorystore.WithClock(clock.Now))
	t.Cleanup(func() { _ = st.Close() })
	rec := &recorder{}
	lim := mustNew(t, st, core.PerMinute(2), core.WithShadow(true), core.WithObserver(rec))
	ctx := context.Background()
	for i := range 5 {
		res, err := lim.Take(ctx, core.User(1), 1)
		if err != nil || !res.Allowed {
			t.Fatalf("call %d in shadow mode: %+v, %v; want allowed", i, res, err)
		}
		if wantShadow := i >= 2; res.Shadow != wantShadow {
			t.Fatalf("call %d: Shadow=%v, want %v", i, res.Shadow, wantShadow)
		}
	}
	shadowed := 0
	for _, e := range rec.decisions {
		if e.Shadow && e.Allowed {
			shadowed++
		}
	}
	if shadowed != 3 {
		t.Fatalf("observer saw %d shadow denials, want 3", shadowed)
	}
	// The state is real: a blocking limiter on the same store denies at once.
	if res, _ := mustNew(t, st, core.PerMinute(2)).Take(ctx, core.User(1), 1); res.Allowed {
		t.Fatal("after the shadowed flood, the real limiter admitted")
	}
	// Rules inherit shadow mode.
	report, err := lim.Rule("report", core.Every(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	report.Take(ctx, core.User(9), 1)
	if res, _ := report.Take(ctx, core.User(9), 1); !res.Allowed || !res.Shadow {
		t.Fatalf("a rule of a shadow limiter: %+v, want a shadow denial", res)
	}
}

func TestNoObserverNoCost(t *testing.T) {
	st := memorystore.New()
	t.Cleanup(func() { _ = st.Close() })
	lim := mustNew(t, st, core.PerSecond(1_000_000))
	ctx := context.Background()
	lim.Take(ctx, core.User(1), 1)
	if n := testing.AllocsPerRun(1000, func() { lim.Take(ctx, core.User(1), 1) }); n > 1 {
		t.Fatalf("Take without an observer allocates %v times, want at most 1 (the key)", n)
	}
}

func TestStrings(t *testing.T) {
	t.Parallel()
	for got, want := range map[fmt.Stringer]string{
		core.FailLocal: "local", core.FailOpen: "open", core.FailClosed: "closed", core.FailurePolicy(9): "FailurePolicy(9)",
		core.SourceStore: "store", core.SourceCache: "cache", core.SourceFallback: "fallback", core.SourcePolicy: "policy",
		core.Source(9): "unknown", core.GCRA: "gcra", core.SlidingWindow: "window", core.Algorithm(7): "Algorithm(7)",
	} {
		if got.String() != want {
			t.Errorf("%#v.String() = %q, want %q", got, got.String(), want)
		}
	}
}
