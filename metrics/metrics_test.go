package metrics_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
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

// exercise runs a known set of decisions and actions through m and returns
// the registry it is registered with.
func exercise(t *testing.T, m *metrics.Metrics) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := reg.Register(m); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st := memorystore.New()
	t.Cleanup(func() { _ = st.Close() })

	lim, err := core.New(st, core.PerMinute(2), core.WithObserver(m), core.WithLogger(discard))
	if err != nil {
		t.Fatal(err)
	}
	g, err := guard.New(lim)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ { // 2 allowed, 3 denied; 1 notice decision allowed, 2 denied
		g.Check(ctx, guard.Update{Kind: guard.KindMessage, UserID: 1, ChatID: 1, ChatType: "private"})
	}
	g.ReportAction(ctx, "sendMessage", guard.Update{Kind: guard.KindMessage}, "", nil)
	g.ReportAction(ctx, "answerCallbackQuery", guard.Update{Kind: guard.KindCallbackQuery}, "", io.ErrUnexpectedEOF)

	shadow, err := core.New(st, core.PerMinute(1), core.WithObserver(m), core.WithShadow(true),
		core.WithPrefix("trial"), core.WithLogger(discard))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ { // 1 allowed, 2 shadow_denied
		shadow.Allow(ctx, 7)
	}

	down, err := core.New(testutil.FailingStore{}, core.PerMinute(1), core.WithObserver(m), core.WithPolicy(core.FailOpen),
		core.WithBreaker(1, time.Hour), core.WithPrefix("down"), core.WithLogger(discard))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ { // 3 allowed by policy, 3 store errors; the breaker opens at once
		down.Allow(ctx, 9)
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
		`floodgate_decisions_total{prefix="floodgate",result="denied",rule="msg",source="store"} 3`,
		`floodgate_decisions_total{prefix="floodgate",result="allowed",rule="notice",source="store"} 1`,
		`floodgate_decisions_total{prefix="floodgate",result="denied",rule="notice",source="store"} 2`,
		`floodgate_decisions_total{prefix="trial",result="allowed",rule="msg",source="store"} 1`,
		`floodgate_decisions_total{prefix="trial",result="shadow_denied",rule="msg",source="store"} 2`,
		`floodgate_decisions_total{prefix="down",result="allowed",rule="msg",source="policy"} 3`,
		`floodgate_store_errors_total{prefix="down",rule="msg"} 3`,
		`floodgate_breaker_open{prefix="down"} 1`,
		`floodgate_breaker_open{prefix="floodgate"} 0`,
		`floodgate_breaker_transitions_total{prefix="down",state="open"} 1`,
		`floodgate_actions_total{action="sendMessage",kind="message",result="ok"} 1`,
		`floodgate_actions_total{action="answerCallbackQuery",kind="callback_query",result="error"} 1`,
		`floodgate_decision_duration_seconds_count{prefix="floodgate",rule="msg"} 5`,
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

func TestFromLookup(t *testing.T) {
	opts, closeFn, err := metrics.FromLookup(func(string) (string, bool) { return "", false })
	if err != nil || len(opts) != 0 || closeFn() != nil {
		t.Fatalf("unset METRICS_ADDR: %v, %v", opts, err)
	}
	if _, _, err := metrics.FromLookup(func(string) (string, bool) { return "not an address", true }); err == nil ||
		!strings.Contains(err.Error(), "METRICS_ADDR") {
		t.Fatalf("bad METRICS_ADDR: err = %v, want one naming METRICS_ADDR", err)
	}
	opts, closeFn, err = metrics.FromLookup(func(string) (string, bool) { return "127.0.0.1:0", true })
	if err != nil || len(opts) != 1 {
		t.Fatalf("METRICS_ADDR=127.0.0.1:0: %v, %v", opts, err)
	}
	if err := closeFn(); err != nil {
		t.Fatal(err)
	}
}
