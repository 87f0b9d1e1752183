package metrics_test

import (
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/metrics"
	"github.com/floodgate-go/floodgate/store/memorystore"
	"github.com/prometheus/client_golang/prometheus"
)

// A duplicate dropped by guard.WithDebounce is counted as
// result="debounced" under its kind's debounce rule, not as a denial; the
// budgets per kind show under their rule names. No label names a user.
func TestDebouncedAndKinds(t *testing.T) {
	m := metrics.New()
	reg := prometheus.NewRegistry()
	if err := reg.Register(m); err != nil {
		t.Fatal(err)
	}
	st := memorystore.New()
	t.Cleanup(func() { _ = st.Close() })
	g, err := guard.New(newLimiter(t, st, core.PerMinute(5), m, core.DefaultPrefix), guard.WithLogger(discard),
		guard.WithDebounce(2*time.Second), guard.WithKindLimits(guard.KindLimits{Callback: core.PerMinute(20)}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, data := range []string{"buy", "buy", "buy", "gift"} { // 2 allowed, 2 debounced
		g.Check(ctx, guard.Update{Kind: guard.KindCallbackQuery, UserID: 1, ChatID: 1, Payload: data})
	}
	for range 2 { // 1 allowed, 1 debounced
		g.Check(ctx, guard.Update{Kind: guard.KindMessage, UserID: 1, ChatID: 1, Payload: "hello"})
	}
	body := scrape(t, reg)
	for _, want := range []string{
		`floodgate_decisions_total{prefix="floodgate",result="allowed",rule="debounce.callback",source="store"} 2`,
		`floodgate_decisions_total{prefix="floodgate",result="debounced",rule="debounce.callback",source="store"} 2`,
		`floodgate_decisions_total{prefix="floodgate",result="allowed",rule="debounce.message",source="store"} 1`,
		`floodgate_decisions_total{prefix="floodgate",result="debounced",rule="debounce.message",source="store"} 1`,
		`floodgate_decisions_total{prefix="floodgate",result="allowed",rule="callback",source="store"} 2`,
		`floodgate_decisions_total{prefix="floodgate",result="allowed",rule="msg",source="store"} 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if strings.Contains(body, `result="denied"`) {
		t.Errorf("a duplicate was counted as a denial:\n%s", body)
	}
}
