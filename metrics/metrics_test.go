package metrics_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/metrics"
	"github.com/floodgate-go/floodgate/store/memorystore"
)

var discard = slog.New(slog.DiscardHandler)

// faultStore is a store whose every call fails with err, after waiting for
// ctx to end when wait is set (a store that does not answer in time).
type faultStore struct {
	testutil.FailingStore
	err  error
	wait bool
}

func (s faultStore) Take(ctx context.Context, _ string, _ core.Limit, _ int) (core.Result, error) {
	if s.wait {
		<-ctx.Done()
		return core.Result{}, fmt.Errorf("faultstore: %w", ctx.Err())
	}
	return core.Result{}, s.err
}

// resilient wraps st as store.Open wraps Redis, reporting to m under name.
func resilient(t *testing.T, st core.Store, m *metrics.Metrics, name string, r core.Resilience) core.Store {
	t.Helper()
	r.Name, r.Observer, r.Logger = name, m, discard
	rs, err := core.Resilient(st, r)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// newLimiter builds a limiter over st under prefix, observed by m.
func newLimiter(t *testing.T, st core.Store, l core.Limit, m *metrics.Metrics, prefix string, opts ...core.Option) *core.Limiter {
	t.Helper()
	lim, err := core.New(st, l, append([]core.Option{core.WithObserver(m), core.WithPrefix(prefix)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return lim
}

// responder answers every call a Guard asks for with err.
type responder struct{ err error }

func (r responder) AnswerCallback(context.Context, string) error    { return r.err }
func (r responder) AnswerInline(context.Context) error              { return r.err }
func (r responder) SendNotice(context.Context, int64, string) error { return r.err }

// exercise runs a known set of decisions, store faults and actions through
// m and returns the registry it is registered with.
func exercise(t *testing.T, m *metrics.Metrics) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := reg.Register(m); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	st := memorystore.New()
	t.Cleanup(func() { _ = st.Close() })

	// 2 allowed, 3 denied; the notice rule: 1 allowed, 2 denied. The
	// notice goes out once (ok); a denied callback is answered (error).
	g, err := guard.New(newLimiter(t, st, core.PerMinute(2), m, core.DefaultPrefix),
		guard.WithObserver(m), guard.WithLogger(discard))
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		u := guard.Update{Kind: guard.KindMessage, UserID: 1, ChatID: 1, ChatType: "private"}
		g.Respond(ctx, u, g.Check(ctx, u), responder{}, "")
	}
	cb := guard.Update{Kind: guard.KindCallbackQuery, UserID: 1, ChatID: 1}
	g.Respond(ctx, cb, g.Check(ctx, cb), responder{err: io.ErrUnexpectedEOF}, "")
	// A notice the Guard gave up on (its deadline passed) counts as dropped.
	m.Action(guard.ActionEvent{Action: "sendMessage", Kind: guard.KindMessage, Err: context.DeadlineExceeded, Dropped: true})
	if err := g.Wait(ctx); err != nil { // Respond's calls run on their own goroutines
		t.Fatal(err)
	}

	shadow := newLimiter(t, st, core.PerMinute(1), m, "trial", core.WithShadow(true))
	for range 3 { // 1 allowed, 2 shadow_denied
		if _, err := shadow.Take(ctx, core.User(7), 1); err != nil {
			t.Fatal(err)
		}
	}

	// A store that is down: 1 outage opens the breaker (threshold 1), and
	// the policy admits all 3.
	down := newLimiter(t, resilient(t, testutil.FailingStore{}, m, "down",
		core.Resilience{Policy: core.FailOpen, BreakerThreshold: 1, ProbeInterval: time.Hour}), core.PerMinute(1), m, "down")
	for range 3 {
		if _, err := down.Take(ctx, core.User(9), 1); err != nil {
			t.Fatal(err)
		}
	}
	return reg
}

func scrape(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	return string(body)
}

func TestScrapedMetrics(t *testing.T) {
	m := metrics.New()
	body := scrape(t, exercise(t, m))
	var excerpt []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "floodgate_") && !strings.Contains(l, "_bucket") {
			excerpt = append(excerpt, l)
		}
	}
	t.Logf("scraped /metrics (floodgate_*, buckets left out):\n%s", strings.Join(excerpt, "\n"))
	for _, want := range []string{
		`floodgate_decisions_total{prefix="floodgate",result="allowed",rule="msg",source="store"} 2`,
		`floodgate_decisions_total{prefix="floodgate",result="denied",rule="msg",source="store"} 4`,
		`floodgate_decisions_total{prefix="floodgate",result="allowed",rule="notice",source="store"} 1`,
		`floodgate_decisions_total{prefix="floodgate",result="denied",rule="notice",source="store"} 3`,
		`floodgate_decisions_total{prefix="trial",result="allowed",rule="msg",source="store"} 1`,
		`floodgate_decisions_total{prefix="trial",result="shadow_denied",rule="msg",source="store"} 2`,
		`floodgate_decisions_total{prefix="down",result="allowed",rule="msg",source="policy"} 3`,
		`floodgate_store_errors_total{kind="outage",prefix="down"} 1`,
		`floodgate_store_errors_total{kind="timeout",prefix="down"} 0`,
		`floodgate_store_errors_total{kind="outage",prefix="floodgate"} 0`,
		`floodgate_breaker_open{prefix="down"} 1`,
		`floodgate_breaker_open{prefix="floodgate"} 0`,
		`floodgate_breaker_transitions_total{prefix="down",state="open"} 1`,
		`floodgate_actions_total{action="sendMessage",kind="message",result="ok"} 1`,
		`floodgate_actions_total{action="answerCallbackQuery",kind="callback_query",result="error"} 1`,
		`floodgate_actions_total{action="sendMessage",kind="message",result="dropped"} 1`,
		`floodgate_decision_duration_seconds_count{prefix="floodgate",rule="msg"} 6`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if regexp.MustCompile(`(?i)floodgate_[a-z_]+\{[^}]*(user|chat|_id)[a-z_]*=`).MatchString(body) {
		t.Error("a floodgate metric has a user, chat or id label: unbounded cardinality")
	}
}

// No metric has a label naming a user, a chat or any id: those are
// unbounded (one series per user), the flaw of the replaced middleware.
func TestNoIDLabels(t *testing.T) {
	families, err := exercise(t, metrics.New()).Gather()
	if err != nil {
		t.Fatal(err)
	}
	bad := regexp.MustCompile(`(?i)user|chat|sender|(^|_)id$`)
	labels := map[string]bool{}
	for _, f := range families {
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				labels[l.GetName()] = true
				if bad.MatchString(l.GetName()) {
					t.Errorf("%s has label %q: unbounded cardinality", f.GetName(), l.GetName())
				}
			}
		}
	}
	want := []string{"action", "kind", "prefix", "result", "rule", "source", "state"}
	if got := slices.Sorted(maps.Keys(labels)); !slices.Equal(got, want) {
		t.Errorf("label names = %v, want exactly %v", got, want)
	}
}

// The Grafana dashboard references only metrics that exist.
func TestDashboardReferencesExistingMetrics(t *testing.T) {
	raw, err := os.ReadFile("../docs/grafana/floodgate.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("docs/grafana/floodgate.json does not parse: %v", err)
	}
	families, err := exercise(t, metrics.New()).Gather()
	if err != nil {
		t.Fatal(err)
	}
	exposed := map[string]bool{}
	for _, f := range families {
		exposed[f.GetName()] = true
	}
	name := regexp.MustCompile(`floodgate_[a-z_]+`)
	seen := map[string]bool{}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, n := range name.FindAllString(tg.Expr, -1) {
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count")
				seen[base] = true
				if !exposed[base] {
					t.Errorf("panel %q uses %s, which floodgate does not expose", p.Title, n)
				}
			}
		}
	}
	t.Logf("dashboard: %d panels referencing %d metrics, all exposed: %v", len(dash.Panels), len(seen), slices.Sorted(maps.Keys(seen)))

	// docs/monitoring.md writes out every panel's query (spacing aside).
	doc, err := os.ReadFile("../docs/monitoring.md")
	if err != nil {
		t.Fatal(err)
	}
	squash := func(s string) string { return strings.Join(strings.Fields(s), "") }
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			if !strings.Contains(squash(string(doc)), squash(tg.Expr)) {
				t.Errorf("docs/monitoring.md lacks panel %q's query %s", p.Title, tg.Expr)
			}
		}
	}
}

func BenchmarkDecision(b *testing.B) {
	m := metrics.New()
	e := core.DecisionEvent{Prefix: "floodgate", Rule: "msg", Allowed: true, Latency: time.Millisecond}
	m.Decision(e)
	b.ReportAllocs()
	for b.Loop() {
		m.Decision(e)
	}
}

// Every store error a Resilient store handles is counted by kind: an
// outage, a timeout, one key's fault, a deployment's misconfiguration.
// A key or config fault proves the store answered: the breaker stays
// closed.
func TestStoreErrorKinds(t *testing.T) {
	m := metrics.New()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	for _, tc := range []struct {
		name string
		st   core.Store
	}{
		{"outage", faultStore{err: errors.New("dial tcp: connection refused")}},
		{"timeout", faultStore{wait: true}},
		{"net-timeout", faultStore{err: &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}}},
		{"key", faultStore{err: fmt.Errorf("redisstore: key holds a list: %w", core.ErrKeyFault)}},
		{"config", faultStore{err: fmt.Errorf("redisstore: NOPERM: %w", core.ErrMisconfigured)}},
	} {
		lim := newLimiter(t, resilient(t, tc.st, m, tc.name, core.Resilience{Policy: core.FailOpen, Timeout: 5 * time.Millisecond}),
			core.PerMinute(1), m, tc.name)
		for range 2 {
			if res, err := lim.Take(t.Context(), core.User(1), 1); err != nil || res.Source != core.SourcePolicy {
				t.Fatalf("%s: %+v, %v; want decided by the policy", tc.name, res, err)
			}
		}
	}
	body := scrape(t, reg)
	want := map[string]string{"outage": "outage", "timeout": "timeout", "net-timeout": "timeout", "key": "key", "config": "config"}
	for prefix, kind := range want {
		for _, k := range []string{"outage", "timeout", "key", "config"} {
			n := "0"
			if k == kind {
				n = "2"
			}
			if line := fmt.Sprintf("floodgate_store_errors_total{kind=%q,prefix=%q} %s\n", k, prefix, n); !strings.Contains(body, line) {
				t.Errorf("scrape lacks %s", line)
			}
		}
	}
	if strings.Contains(body, `floodgate_breaker_transitions_total`) {
		t.Errorf("two failures of each kind opened a breaker (threshold 5):\n%s", body)
	}
}

// The breaker gauge follows the Resilient store's breaker: 1 when it
// opens, 0 when a probe finds the store back, each transition counted.
func TestBreakerGauge(t *testing.T) {
	m := metrics.New()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	clock := testutil.NewClock()
	backing := memorystore.New(memorystore.WithClock(clock.Now))
	t.Cleanup(func() { _ = backing.Close() })
	var down atomic.Bool
	down.Store(true)
	st := &switchStore{Store: backing, down: &down}
	lim := newLimiter(t, resilient(t, st, m, "redis", core.Resilience{Policy: core.FailOpen, BreakerThreshold: 2,
		ProbeInterval: time.Second, Clock: clock.Now}), core.PerMinute(10), m, "redis")
	take := func() {
		t.Helper()
		if _, err := lim.Take(t.Context(), core.User(1), 1); err != nil {
			t.Fatal(err)
		}
	}
	take()
	if v := breakerOpen(t, reg); v != 0 {
		t.Fatalf("breaker_open after one failure = %v, want 0", v)
	}
	take()
	if v := breakerOpen(t, reg); v != 1 {
		t.Fatalf("breaker_open after two failures = %v, want 1", v)
	}
	down.Store(false)
	clock.Advance(time.Second)
	take() // the probe: the store answers
	if v := breakerOpen(t, reg); v != 0 {
		t.Fatalf("breaker_open after a good probe = %v, want 0", v)
	}
	body := scrape(t, reg)
	for _, want := range []string{
		`floodgate_breaker_transitions_total{prefix="redis",state="open"} 1`,
		`floodgate_breaker_transitions_total{prefix="redis",state="closed"} 1`,
		`floodgate_store_errors_total{kind="outage",prefix="redis"} 2`,
		`floodgate_decisions_total{prefix="redis",result="allowed",rule="msg",source="store"} 1`,
		`floodgate_decisions_total{prefix="redis",result="allowed",rule="msg",source="policy"} 2`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("scrape lacks %s", want)
		}
	}
}

// breakerOpen returns floodgate_breaker_open{prefix="redis"} as gathered
// from reg, -1 when there is no such series.
func breakerOpen(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "floodgate_breaker_open" {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "prefix" && l.GetValue() == "redis" {
					return s.GetGauge().GetValue()
				}
			}
		}
	}
	return -1
}

// switchStore is a store that fails while down is set.
type switchStore struct {
	core.Store
	down *atomic.Bool
}

func (s *switchStore) Take(ctx context.Context, key string, l core.Limit, n int) (core.Result, error) {
	if s.down.Load() {
		return core.Result{}, errors.New("connection refused")
	}
	return s.Store.Take(ctx, key, l, n)
}

// Listen serves the metrics with the Go and process collectors, and fails
// at once on an address it cannot bind.
func TestListen(t *testing.T) {
	m := metrics.New()
	m.Decision(core.DecisionEvent{Prefix: "floodgate", Rule: "msg", Allowed: true})
	srv, err := metrics.Listen("127.0.0.1:0", m)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + srv.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`floodgate_decisions_total{prefix="floodgate",result="allowed",rule="msg",source="store"} 1`,
		"go_goroutines", "process_"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + srv.Addr() + "/metrics"); err == nil {
		t.Error("/metrics still served after Close")
	}
	if _, err := metrics.Listen("not an address", m); err == nil {
		t.Error("Listen on a bad address: no error")
	}
}
