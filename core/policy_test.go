package core_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
)

// flakyStore wraps a mapStore and can be told to fail or to hang (block
// until the call's context ends), like a dead or a frozen Redis.
type flakyStore struct {
	*mapStore
	mode atomic.Int32 // 0 ok, 1 fail, 2 hang
}

const (
	modeOK int32 = iota
	modeFail
	modeHang
)

var errFlaky = errors.New("flaky: connection refused")

func (s *flakyStore) Take(ctx context.Context, key string, l core.Limit, n int) (core.Result, error) {
	switch s.mode.Load() {
	case modeFail:
		s.takes.Add(1)
		return core.Result{}, errFlaky
	case modeHang:
		s.takes.Add(1)
		<-ctx.Done()
		return core.Result{}, ctx.Err()
	}
	return s.mapStore.Take(ctx, key, l, n)
}

func (s *flakyStore) Peek(ctx context.Context, key string, l core.Limit) (core.Result, error) {
	switch s.mode.Load() {
	case modeFail:
		s.peeks.Add(1)
		return core.Result{}, errFlaky
	case modeHang:
		s.peeks.Add(1)
		<-ctx.Done()
		return core.Result{}, ctx.Err()
	}
	return s.mapStore.Peek(ctx, key, l)
}

func TestBreakerOpensProbesAndCloses(t *testing.T) {
	t.Parallel()
	st := &flakyStore{mapStore: newMapStore()}
	var log testutil.SyncBuffer
	lim := mustNew(t, st, core.PerSecond(1000), core.WithBreaker(3, time.Second),
		core.WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
	ctx := context.Background()

	st.mode.Store(modeFail)
	for i := 0; i < 10; i++ {
		res, err := lim.Allow(ctx, int64(i))
		if err != nil || res.Source != core.SourceFallback || !res.Allowed {
			t.Fatalf("decision %d during the outage: %+v, %v", i, res, err)
		}
	}
	if n := st.takes.Load(); n != 3 {
		t.Fatalf("store called %d times, want 3: the breaker opens after 3 failures", n)
	}
	// Before the probe interval: still no store calls.
	st.advance(999 * time.Millisecond)
	lim.Allow(ctx, 1)
	if n := st.takes.Load(); n != 3 {
		t.Fatalf("store called %d times before the probe was due", n)
	}
	// The probe fails: the breaker stays open for another interval.
	st.advance(time.Millisecond)
	lim.Allow(ctx, 1)
	lim.Allow(ctx, 2)
	if n := st.takes.Load(); n != 4 {
		t.Fatalf("store called %d times, want exactly one probe", n)
	}
	// The store is back: the next probe closes the breaker.
	st.mode.Store(modeOK)
	st.advance(time.Second)
	for i := 0; i < 5; i++ {
		if res, err := lim.Allow(ctx, int64(100+i)); err != nil || res.Source != core.SourceStore {
			t.Fatalf("decision %d after recovery: %+v, %v; want from the store", i, res, err)
		}
	}
	out := log.String()
	if strings.Count(out, "circuit breaker open") != 1 || strings.Count(out, "circuit breaker closed") != 1 {
		t.Fatalf("want each transition logged once, got:\n%s", out)
	}
}

func TestTimeoutBoundsAHungStore(t *testing.T) {
	t.Parallel()
	st := &flakyStore{mapStore: newMapStore()}
	st.mode.Store(modeHang)
	lim := mustNew(t, st, core.PerSecond(10), core.WithTimeout(20*time.Millisecond), core.WithLogger(discard))
	start := time.Now()
	res, err := lim.Allow(context.Background(), 1)
	if err != nil || res.Source != core.SourceFallback || !res.Allowed {
		t.Fatalf("decision against a hung store: %+v, %v", res, err)
	}
	t.Logf("decision against a hung store took %v (timeout 20ms)", time.Since(start))

	// The caller's own deadline is the caller's error, not a store failure.
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(5 * time.Millisecond); cancel() }() // cancel while the store hangs
	if _, err := mustNew(t, st, core.PerSecond(10), core.WithTimeout(time.Hour)).Allow(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("caller canceled mid-call: err = %v, want context.Canceled", err)
	}
}

func TestDenyCache(t *testing.T) {
	t.Parallel()
	st := newMapStore()
	l := core.PerSecond(2) // interval 500ms, burst 2
	cached := mustNew(t, st, l)
	direct := mustNew(t, st, l, core.WithDenyCache(false), core.WithPrefix("direct"))
	ctx := context.Background()
	// The same history on two keys: one through the cache, one without.
	for i := 0; i < 2; i++ {
		cached.Allow(ctx, 1)
		direct.Allow(ctx, 1)
	}
	before := st.takes.Load()
	for step := 0; step < 8; step++ {
		for i := 0; i < 50; i++ {
			got, err := cached.Allow(ctx, 1)
			want, err2 := direct.Allow(ctx, 1)
			if err != nil || err2 != nil {
				t.Fatal(err, err2)
			}
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
	if res, _ := cached.Allow(ctx, 2); !res.Allowed {
		t.Fatal("another user denied")
	}
	if err := cached.Reset(ctx, core.User(1)); err != nil {
		t.Fatal(err)
	}
	if res, _ := cached.Allow(ctx, 1); !res.Allowed || res.Source != core.SourceStore {
		t.Fatalf("after Reset: %+v", res)
	}
}

func TestDenyCacheCostN(t *testing.T) {
	t.Parallel()
	st := newMapStore()
	l := core.PerSecond(5) // interval 200ms, burst 5
	lim := mustNew(t, st, l)
	ctx := context.Background()
	lim.AllowN(ctx, 1, 4) // 1 left
	res, _ := lim.AllowN(ctx, 1, 3)
	if res.Allowed || res.RetryAfter != 400*time.Millisecond {
		t.Fatalf("cost 3 with 1 left: %+v", res)
	}
	// The cached denial was for cost 3; cost 1 must still reach the store.
	if res, _ := lim.AllowN(ctx, 1, 1); !res.Allowed || res.Source != core.SourceStore {
		t.Fatalf("cost 1 after a cost-3 denial: %+v", res)
	}
	res, _ = lim.AllowN(ctx, 1, 2)
	if res.Allowed || res.Source != core.SourceStore {
		t.Fatalf("cost 2 when empty: %+v", res)
	}
	res, _ = lim.AllowN(ctx, 1, 1)
	if res.Allowed || res.Source != core.SourceCache || res.RetryAfter != 200*time.Millisecond {
		t.Fatalf("cost 1 after a cost-2 denial: %+v, want a cached denial of 200ms", res)
	}
}

func TestResilienceOptionsRejected(t *testing.T) {
	t.Parallel()
	for name, opt := range map[string]core.Option{
		"negative timeout": core.WithTimeout(-time.Millisecond),
		"zero threshold":   core.WithBreaker(0, time.Second),
		"zero probe":       core.WithBreaker(3, 0),
		"unknown policy":   core.WithPolicy(core.FailurePolicy(9)),
		"nil clock":        core.WithClock(nil),
		"nil logger":       core.WithLogger(nil),
	} {
		if _, err := core.New(newMapStore(), core.PerSecond(1), opt); !errors.Is(err, core.ErrInvalidOption) {
			t.Errorf("%s: err = %v, want ErrInvalidOption", name, err)
		}
	}
}

func TestParseFailurePolicy(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]core.FailurePolicy{"local": core.FailLocal, "OPEN": core.FailOpen, " closed ": core.FailClosed} {
		if got, err := core.ParseFailurePolicy(in); err != nil || got != want {
			t.Errorf("ParseFailurePolicy(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := core.ParseFailurePolicy("fallback"); !errors.Is(err, core.ErrInvalidOption) || !strings.Contains(err.Error(), "local, open or closed") {
		t.Errorf("unknown policy: %v", err)
	}
	if core.FailLocal.String() != "local" || core.SourceCache.String() != "cache" {
		t.Error("String")
	}
}
