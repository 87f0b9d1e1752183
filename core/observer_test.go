package core_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
)

// recorder is an Observer that keeps every event.
type recorder struct {
	mu        sync.Mutex
	decisions []core.DecisionEvent
	breakers  []core.BreakerEvent
	actions   []core.ActionEvent
}

func (r *recorder) Decision(e core.DecisionEvent) {
	r.mu.Lock()
	r.decisions = append(r.decisions, e)
	r.mu.Unlock()
}
func (r *recorder) Breaker(e core.BreakerEvent) {
	r.mu.Lock()
	r.breakers = append(r.breakers, e)
	r.mu.Unlock()
}
func (r *recorder) Action(e core.ActionEvent) {
	r.mu.Lock()
	r.actions = append(r.actions, e)
	r.mu.Unlock()
}

func TestObserverSeesDecisionsBreakerAndActions(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	st := &flakyStore{mapStore: newMapStore()}
	lim := mustNew(t, st, core.PerMinute(2), core.WithObserver(rec), core.WithBreaker(2, time.Second),
		core.WithLogger(slog.New(slog.DiscardHandler)), core.WithPrefix("bot"))
	g, err := core.NewGuard(lim)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < 3; i++ { // allowed, allowed, denied (+ a "notice" decision)
		g.Check(ctx, msg(1, 1, "x"))
	}
	st.mode.Store(modeFail)
	lim.Allow(ctx, 2) // failure 1: fallback
	lim.Allow(ctx, 2) // failure 2: the breaker opens
	lim.Allow(ctx, 2) // breaker open: the store is not called; the fallback denies the third
	g.ReportAction(ctx, "sendMessage", msg(1, 1, "x"), "", nil)
	g.ReportAction(ctx, "answerCallbackQuery", core.Update{Kind: core.KindCallbackQuery}, "", errors.New("boom"))

	rec.mu.Lock()
	defer rec.mu.Unlock()
	type short struct {
		rule    string
		allowed bool
		source  core.Source
		err     bool
	}
	var got []short
	for _, e := range rec.decisions {
		if e.Prefix != "bot" || e.Latency < 0 {
			t.Errorf("event %+v: want prefix bot and a latency", e)
		}
		got = append(got, short{e.Rule, e.Allowed, e.Source, e.Err != nil})
	}
	want := []short{
		{"msg", true, core.SourceStore, false},
		{"msg", true, core.SourceStore, false},
		{"msg", false, core.SourceStore, false},
		{"notice", true, core.SourceStore, false},
		{"msg", true, core.SourceFallback, true},
		{"msg", true, core.SourceFallback, true},
		{"msg", false, core.SourceFallback, true}, // the fallback limits too: 2 per minute
	}
	if len(got) != len(want) {
		t.Fatalf("decisions %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("decision %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if len(rec.breakers) != 1 || !rec.breakers[0].Open {
		t.Errorf("breaker events %+v, want one opening", rec.breakers)
	}
	if len(rec.actions) != 2 || rec.actions[0].Err != nil || rec.actions[1].Kind != core.KindCallbackQuery || rec.actions[1].Err == nil {
		t.Errorf("action events %+v", rec.actions)
	}
}

func TestShadowMode(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	st := memorystore.New(memorystore.WithClock(clock.Now))
	t.Cleanup(func() { _ = st.Close() })
	rec := &recorder{}
	lim, err := core.New(st, core.PerMinute(2), core.WithShadow(true), core.WithObserver(rec),
		core.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		res, err := lim.Allow(ctx, 1)
		if err != nil || !res.Allowed {
			t.Fatalf("call %d in shadow mode: %+v, %v; want allowed", i, res, err)
		}
		if wantShadow := i >= 2; res.Shadow != wantShadow {
			t.Fatalf("call %d: Shadow=%v, want %v", i, res.Shadow, wantShadow)
		}
	}
	shadowed := 0
	for _, e := range rec.decisions {
		if e.Shadow {
			shadowed++
		}
	}
	if shadowed != 3 {
		t.Fatalf("observer saw %d shadow denials, want 3", shadowed)
	}
	// The state is real: leaving shadow mode, the user is limited at once.
	if res, _ := lim.Shadowed(false).Allow(ctx, 1); res.Allowed {
		t.Fatal("after the shadowed flood, the real limiter admitted")
	}
	// A Guard over a shadow limiter passes everything and sends no notice.
	g, err := core.NewGuard(lim)
	if err != nil {
		t.Fatal(err)
	}
	if v := g.Check(ctx, msg(1, 1, "x")); !v.Pass || v.Notice != "" || !v.Result.Shadow {
		t.Fatalf("guard over a shadow limiter: %+v", v)
	}
	// Per rule: a shadowed rule next to a blocking one.
	report, err := lim.Shadowed(false).Rule("report", core.Every(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	trial := report.Shadowed(true)
	report.Allow(ctx, 9)
	if res, _ := report.Allow(ctx, 9); res.Allowed {
		t.Fatal("blocking rule admitted")
	}
	if res, _ := trial.Allow(ctx, 9); !res.Allowed || !res.Shadow {
		t.Fatalf("shadowed copy of the rule: %+v", res)
	}
}

func TestNoObserverNoCost(t *testing.T) {
	st := memorystore.New()
	t.Cleanup(func() { _ = st.Close() })
	lim, err := core.New(st, core.PerSecond(1_000_000))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lim.Allow(ctx, 1)
	if n := testing.AllocsPerRun(1000, func() { lim.Allow(ctx, 1) }); n > 1 {
		t.Fatalf("Allow without an observer allocates %v times, want at most 1 (the key)", n)
	}
}
