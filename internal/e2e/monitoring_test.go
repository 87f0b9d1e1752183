package e2e_test

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/telegramtest"
)

// prometheusHint is how to get Prometheus, as the Redis tests say how to
// get redis-server.
const prometheusHint = "prometheus not found: install Debian's prometheus package (apt-get install prometheus) " +
	"or run ./scripts/test.sh, which installs it"

// The traffic. Each sender may pass floodLimit's burst and no more (an
// hour's refill never comes during the test), and a sender beyond it is
// told once. A warm-up comes first, as a running bot's history: it creates
// the series (floodgate creates a series at its first event, and rate()
// cannot see the jump from nothing to a first value), so that the flood's
// decisions show in the dashboard's rates.
const (
	floodLimit = "3/h burst 3"
	floodBurst = 3

	warmMessages  = floodBurst + 2 // two denials: a notice, then a notice decision denied
	warmPresses   = floodBurst + 1
	spamMessages  = 30
	users         = 2
	userMessages  = 2
	buttonPresses = 10

	warmUserID   int64 = 901
	warmMasherID int64 = 902
	spammerID    int64 = 1001
	firstUserID  int64 = 2001
	masherID     int64 = 3001

	noticePrefix = "Too many requests" // core.DefaultNoticeText
)

// TestMonitoringWithPrometheus runs the telego starter bot (a process of
// its own) with METRICS_ADDR, a
// real Prometheus scraping it every second with the alert rules of
// docs/prometheus loaded, floods the bot through the fake Bot API, and
// then evaluates every PromQL expression of the Grafana dashboard
// (docs/grafana/floodgate.json) and of docs/monitoring.md through
// Prometheus's HTTP API: each must return data, bar those listed in
// emptyOnHealthyRun, and the counters must say what the fake Bot API saw.
func TestMonitoringWithPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("a real Prometheus scraping a flooded bot takes about 15 s: left out of -short; ./scripts/test.sh runs it")
	}
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal(prometheusHint)
	}
	rules, err := filepath.Abs("../docs/prometheus/floodgate-rules.yml")
	if err != nil {
		t.Fatal(err)
	}

	api := telegramtest.Start(t)
	metricsAddr := testutil.FreeAddr(t)
	bot := start(t, "telego", map[string]string{"TELEGRAM_BOT_TOKEN": testToken, "TELEGRAM_API_URL": api.URL(),
		"FLOODGATE_LIMIT": floodLimit, "METRICS_ADDR": metricsAddr})
	waitFor(t, api, "getUpdates", 1) // run serves /metrics before it polls
	prom := startPrometheus(t, bin, metricsAddr, rules)
	prom.waitFor(t, "the bot's target to be up", `up{job="floodgate-bot"} == 1`, func(v vector) bool { return len(v) == 1 })

	// The warm-up, until Prometheus has its counts.
	pushed := 0
	for i := range warmMessages {
		api.Push(telegramtest.Message(warmUserID, warmUserID, "private", fmt.Sprintf("warm-up %d", i+1)))
		pushed++
	}
	for range warmPresses {
		api.Push(telegramtest.CallbackQuery(warmMasherID, warmMasherID, "ping"))
		pushed++
	}
	want := limitWants([]int{warmMessages}, []int{warmPresses})
	waitFor(t, api, "sendMessage", want.echoes+want.noticeMessages)
	waitFor(t, api, "answerCallbackQuery", want.pongs+want.gateAnswers)
	prom.converge(t, api, pushed)

	// The flood, interleaved as it might arrive.
	for i := range spamMessages {
		api.Push(telegramtest.Message(spammerID, spammerID, "private", fmt.Sprintf("spam %d", i+1)))
		pushed++
		if i < userMessages {
			for u := range int64(users) {
				api.Push(telegramtest.Message(firstUserID+u, firstUserID+u, "private", fmt.Sprintf("hello %d", i+1)))
				pushed++
			}
		}
		if i < buttonPresses {
			api.Push(telegramtest.CallbackQuery(masherID, masherID, "ping"))
			pushed++
		}
	}
	want = limitWants([]int{warmMessages, spamMessages, userMessages, userMessages}, []int{warmPresses, buttonPresses})
	waitFor(t, api, "sendMessage", want.echoes+want.noticeMessages)
	waitFor(t, api, "answerCallbackQuery", want.pongs+want.gateAnswers)
	table := prom.converge(t, api, pushed)
	if got := tally(api); got != want {
		t.Errorf("the fake Bot API saw %+v; the limit wants %+v", got, want)
	}

	// The dashboard's template variable: label_values(floodgate_decisions_total, prefix).
	if values := prom.labelValues(t, "prefix", "floodgate_decisions_total"); !slices.Equal(values, []string{"floodgate"}) {
		t.Errorf("label_values(floodgate_decisions_total, prefix) = %v, want [floodgate]", values)
	}

	// Every expression of the dashboard and of monitoring.md.
	exprs := dashboardExprs(t)
	n := len(exprs)
	for _, e := range monitoringExprs(t) {
		if !slices.Contains(exprs, e) {
			exprs = append(exprs, e)
		}
	}
	t.Logf("%d expressions: %d from the dashboard, %d more in docs/monitoring.md", len(exprs), n, len(exprs)-n)
	results := map[string]vector{}
	for _, e := range exprs {
		q := grafanaVars(t, e)
		v := prom.query(t, q)
		results[e] = v
		check := "data"
		if reason, ok := emptyOnHealthyRun[e]; ok {
			check = "empty: " + reason
			if len(v) != 0 {
				t.Errorf("%s returned %s; want no data on a healthy run (%s)", q, formatVector(v), reason)
			}
		} else if len(v) == 0 {
			t.Errorf("%s returned no data after the flood", q)
		}
		table = append(table, row{q, formatVector(v), check})
	}
	for name := range emptyOnHealthyRun {
		if !slices.Contains(exprs, name) {
			t.Errorf("emptyOnHealthyRun lists %s, which neither the dashboard nor monitoring.md has", name)
		}
	}
	table = append(table, checkPanels(t, prom, results)...)

	// The alert rules, loaded by this Prometheus: every rule evaluates
	// without error; the flood makes the deny ratio alert pending (it
	// fires after 10 minutes), and no other alert is active.
	alerts := prom.ruleQueries(t)
	for _, name := range slices.Sorted(maps.Keys(alerts)) {
		q := alerts[name]
		v := prom.query(t, q)
		table = append(table, row{name + ": " + q, formatVector(v), alertExpect[name]})
		switch alertExpect[name] {
		case "data":
			if len(v) == 0 {
				t.Errorf("alert %s: %s returned no data after the flood", name, q)
			}
		case "empty":
			if len(v) != 0 {
				t.Errorf("alert %s: %s returned %s on a healthy run", name, q, formatVector(v))
			}
		case "any":
		default:
			t.Errorf("alert %s is new: say in alertExpect what it returns after the flood", name)
		}
	}
	prom.waitForAlert(t, "FloodgateDenyRatioSpike", "pending")

	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "expression\tPrometheus\texpected (fake Bot API)")
	for _, r := range table {
		fmt.Fprintf(w, "%s\t%s\t%s\n", r.expr, r.got, r.want)
	}
	w.Flush()
	t.Logf("after a warm-up of %d updates and a flood of %d (%d updates in all):\n%s",
		warmMessages+warmPresses, pushed-warmMessages-warmPresses, pushed, b.String())

	bot.stop(t)
}

// seen is what the fake Bot API recorded of the bot's replies.
type seen struct {
	echoes         int // sendMessage by the echo handler
	noticeMessages int // sendMessage "Too many requests…" by the adapter
	pongs          int // answerCallbackQuery "pong" by the button's handler
	gateAnswers    int // answerCallbackQuery by the adapter, notices included
	noticeAnswers  int // answerCallbackQuery "Too many requests…"
}

// tally reads what api recorded.
func tally(api *telegramtest.Server) seen {
	var s seen
	for _, c := range api.CallsTo("sendMessage") {
		if strings.HasPrefix(c.Params["text"], noticePrefix) {
			s.noticeMessages++
		} else {
			s.echoes++
		}
	}
	for _, c := range api.CallsTo("answerCallbackQuery") {
		switch text := c.Params["text"]; {
		case text == "pong":
			s.pongs++
		case strings.HasPrefix(text, noticePrefix):
			s.noticeAnswers++
			s.gateAnswers++
		default:
			s.gateAnswers++
		}
	}
	return s
}

// limitWants returns what the limit lets through of senders sending
// messages[i] messages and of senders pressing the button presses[i]
// times.
func limitWants(messages, presses []int) seen {
	var s seen
	for _, n := range messages {
		s.echoes += min(n, floodBurst)
		if n > floodBurst {
			s.noticeMessages++
		}
	}
	for _, n := range presses {
		s.pongs += min(n, floodBurst)
		s.gateAnswers += n - min(n, floodBurst)
		if n > floodBurst {
			s.noticeAnswers++
		}
	}
	return s
}

// converge waits until Prometheus's counters say what the fake Bot API
// saw of pushed updates, fails the test for those that do not within 60
// s, and returns the comparison.
func (p *prometheus) converge(t *testing.T, api *telegramtest.Server, pushed int) []row {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		s := tally(api)
		sends := len(api.CallsTo("sendMessage"))
		passed := s.echoes + s.pongs
		dropped := pushed - passed // updates no handler answered
		notices := s.noticeMessages + s.noticeAnswers
		var table []row
		var bad []string
		for _, c := range []struct {
			expr string
			want int
			saw  string
		}{
			{`sum(floodgate_decisions_total{rule="msg",result="allowed"})`, passed,
				fmt.Sprintf("%d echoes + %d pongs", s.echoes, s.pongs)},
			{`sum(floodgate_decisions_total{rule="msg",result="denied"})`, dropped,
				fmt.Sprintf("%d pushed - %d answered by a handler", pushed, passed)},
			{`sum(floodgate_decisions_total{rule="notice"})`, dropped, "a notice decision per denial"},
			{`sum(floodgate_decisions_total{rule="notice",result="allowed"})`, notices,
				fmt.Sprintf("%d notice messages + %d notice answers", s.noticeMessages, s.noticeAnswers)},
			{`sum(floodgate_actions_total{action="sendMessage",kind="message",result="ok"})`, s.noticeMessages, "notice messages"},
			{`sum(floodgate_actions_total{action="answerCallbackQuery",kind="callback_query",result="ok"})`, s.gateAnswers,
				"answerCallbackQuery other than pong"},
			{`sum(floodgate_actions_total{result="error"}) or vector(0)`, 0, "no failed call"},
			{`sum(floodgate_decisions_total{rule="outbound",result="allowed"})`, sends, "sendMessage calls, each through the outbound throttle"},
			{`sum(floodgate_store_errors_total)`, 0, "memory store: no error"},
			{`sum(floodgate_decision_duration_seconds_count) - sum(floodgate_decisions_total)`, 0, "an observation per decision"},
		} {
			v := p.query(t, c.expr)
			table = append(table, row{c.expr, formatVector(v), fmt.Sprintf("%d (%s)", c.want, c.saw)})
			if len(v) != 1 || v[0].value != float64(c.want) {
				bad = append(bad, fmt.Sprintf("%s = %s, want %d (%s)", c.expr, formatVector(v), c.want, c.saw))
			}
		}
		if len(bad) == 0 {
			return table
		}
		if time.Now().After(deadline) {
			t.Errorf("after %d updates, Prometheus did not come to what the fake Bot API saw within 60s:\n%s",
				pushed, strings.Join(bad, "\n"))
			return table
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// row is one line of the logged table.
type row struct{ expr, got, want string }

// emptyOnHealthyRun lists the expressions (as written, before variables
// are substituted) that return no data after a flood on a healthy bot,
// with the reason.
var emptyOnHealthyRun = map[string]string{
	`sum(rate(floodgate_decisions_total{prefix=~"$prefix",rule!~"notice|outbound|pen[.].*|debounce[.].*",result="shadow_denied"}[$__rate_interval])) / sum(rate(floodgate_decisions_total{prefix=~"$prefix",rule!~"notice|outbound|pen[.].*|debounce[.].*"}[$__rate_interval]))`: "(no limiter in shadow mode: no shadow_denied series)",
	`sum by (rule) (rate(floodgate_decisions_total{prefix=~"$prefix",result="debounced"}[$__rate_interval]))`: "(FLOODGATE_DEBOUNCE is not set: no debounced series)",
}

// alertExpect says what each alert rule's expression returns after the
// flood: "data", "empty", or "any" when it depends on the machine.
var alertExpect = map[string]string{
	"FloodgateBreakerOpen":    "empty",
	"FloodgateStoreErrors":    "empty",
	"FloodgateStoreFaults":    "empty",
	"FloodgateDenyRatioSpike": "data",
	// p99 of the decisions' latency over 25 ms: in-memory decisions take
	// microseconds, but a race-enabled run on a loaded machine can stall a
	// few of them for longer.
	"FloodgateSlowDecisions": "any",
}

// checkPanels checks what the dashboard's panels show after the flood,
// beyond their returning data.
func checkPanels(t *testing.T, p *prometheus, results map[string]vector) []row {
	t.Helper()
	find := func(part string) vector {
		var found []string
		for e := range results {
			if strings.Contains(e, part) {
				found = append(found, e)
			}
		}
		if len(found) != 1 {
			t.Errorf("%d expressions contain %s, want one: %q", len(found), part, found)
			return nil
		}
		return results[found[0]]
	}
	labels := func(v vector, name string) []string {
		var ls []string
		for _, s := range v {
			ls = append(ls, s.metric[name])
		}
		slices.Sort(ls)
		return ls
	}
	if v := find("sum by (result) (rate(floodgate_decisions_total"); !slices.Equal(labels(v, "result"), []string{"allowed", "denied"}) {
		t.Errorf("decisions per second by result: %s, want allowed and denied", formatVector(v))
	}
	// The deny ratio of the limit decisions (msg, cmd.*), from the
	// increase of their counters over the panel's window: the panel's
	// rate() extrapolates each series a little differently, hence the
	// tolerance.
	limitDecisions := `floodgate_decisions_total{prefix="floodgate",rule=~"msg|cmd[.].+"}[1m]`
	inc := p.windowIncrease(t, limitDecisions, "result")
	exact := inc["denied"] / (inc["allowed"] + inc["denied"] + inc["shadow_denied"])
	ratio := find(`result="denied"}[$__rate_interval])) / sum(`)
	if len(ratio) != 1 || math.Abs(ratio[0].value-exact) > 0.05 {
		t.Errorf("deny ratio %s, want %.3f ± 0.05: %v denied of the limit decisions in the window", formatVector(ratio), exact, inc)
	}
	rows := []row{{"deny ratio of " + limitDecisions, fmt.Sprintf("%.4f", exact), fmt.Sprintf("increase in the window %v", inc)}}
	p50, p99 := find("histogram_quantile(0.5,"), find("histogram_quantile(0.99,")
	if len(p50) != 1 || len(p99) != 1 || !(p50[0].value > 0 && p50[0].value <= p99[0].value && p99[0].value <= 2.5) {
		t.Errorf("latency p50 %s, p99 %s: want 0 < p50 <= p99 <= 2.5 s", formatVector(p50), formatVector(p99))
	}
	// Every kind shows, at 0: a prefix's store error counters exist from its
	// first decision.
	storeErrors := find("floodgate_store_errors_total")
	if kinds := labels(storeErrors, "kind"); !slices.Equal(kinds, []string{"config", "key", "outage", "timeout"}) {
		t.Errorf("store errors per second by kind %s, want the four kinds", formatVector(storeErrors))
	}
	for _, s := range storeErrors {
		if s.value != 0 {
			t.Errorf("store errors per second %v of kind %s, want 0", s.value, s.metric["kind"])
		}
	}
	if v := find("floodgate_breaker_open"); len(v) != 1 || v[0].value != 0 || v[0].metric["prefix"] != "floodgate" {
		t.Errorf("breaker open %s, want 0 for prefix floodgate", formatVector(v))
	}
	if v := find(`floodgate_actions_total{action="sendMessage"}`); !slices.Equal(labels(v, "result"), []string{"ok"}) || v[0].value <= 0 {
		t.Errorf("notices per second %s, want a rate above 0, all ok", formatVector(v))
	}
	if v := find("sum by (source)"); !slices.Contains(labels(v, "source"), "store") {
		t.Errorf("decisions by source %s, want store among them", formatVector(v))
	} else {
		for _, s := range labels(v, "source") {
			if s != "store" && s != "cache" {
				t.Errorf("decisions by source %s: %s on a healthy run, want only store and cache", formatVector(v), s)
			}
		}
	}
	return rows
}

// windowIncrease returns the increase of the series of a range selector
// (last sample minus first: no counter here resets), summed by label.
func (p *prometheus) windowIncrease(t *testing.T, selector, label string) map[string]float64 {
	t.Helper()
	var data struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Values [][2]any          `json:"values"`
		} `json:"result"`
	}
	p.get(t, "/api/v1/query", url.Values{"query": {selector}}, &data)
	if data.ResultType != "matrix" {
		t.Fatalf("%s: result type %s, want a range vector", selector, data.ResultType)
	}
	inc := map[string]float64{}
	for _, r := range data.Result {
		if len(r.Values) == 0 {
			continue
		}
		first, _ := strconv.ParseFloat(r.Values[0][1].(string), 64)
		last, _ := strconv.ParseFloat(r.Values[len(r.Values)-1][1].(string), 64)
		inc[r.Metric[label]] += last - first
	}
	return inc
}

// grafanaVars substitutes the dashboard's variables as Grafana would with
// the prefix "floodgate" chosen.
func grafanaVars(t *testing.T, expr string) string {
	t.Helper()
	return regexp.MustCompile(`\$\{?(\w+)\}?`).ReplaceAllStringFunc(expr, func(v string) string {
		name := strings.Trim(v, "${}")
		switch name {
		case "prefix":
			return "floodgate"
		case "__rate_interval", "__interval", "__range":
			return "1m"
		}
		t.Errorf("%s: unknown Grafana variable %s: say what it stands for in grafanaVars", expr, v)
		return v
	})
}

// dashboardExprs returns the queries of every panel of the dashboard, in
// order, rows' panels included.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("../docs/grafana/floodgate.json")
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var dash struct {
		Panels []json.RawMessage `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	var exprs []string
	var walk func([]json.RawMessage)
	walk = func(ps []json.RawMessage) {
		for _, r := range ps {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Fatal(err)
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("dashboard panel %q has a target without expr", p.Title)
					continue
				}
				exprs = append(exprs, strings.Join(strings.Fields(tg.Expr), " "))
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	if len(exprs) == 0 {
		t.Fatal("no query in docs/grafana/floodgate.json")
	}
	return exprs
}

// monitoringExprs returns the expressions of docs/monitoring.md's ```promql
// blocks: "#" lines are comments, a line that starts with a space
// continues the expression above it.
func monitoringExprs(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("../docs/monitoring.md")
	if err != nil {
		t.Fatal(err)
	}
	var exprs []string
	for _, m := range regexp.MustCompile("(?s)```promql\n(.*?)```").FindAllStringSubmatch(string(raw), -1) {
		for _, l := range strings.Split(m[1], "\n") {
			switch {
			case strings.TrimSpace(l) == "" || strings.HasPrefix(strings.TrimSpace(l), "#"):
			case (l[0] == ' ' || l[0] == '\t') && len(exprs) > 0:
				exprs[len(exprs)-1] += " " + strings.TrimSpace(l)
			default:
				exprs = append(exprs, strings.TrimSpace(l))
			}
		}
	}
	if len(exprs) == 0 {
		t.Fatal("no ```promql block in docs/monitoring.md")
	}
	for i, e := range exprs {
		exprs[i] = strings.Join(strings.Fields(e), " ")
	}
	return exprs
}

// prometheus is a prometheus process of the test's.
type prometheus struct {
	url    string
	client *http.Client
	logs   *testutil.SyncBuffer
}

// startPrometheus starts prometheus scraping target every second, with the
// rules file loaded, on a free loopback port and a storage directory of
// the test's. It stops it, by its process group, when the test ends.
func startPrometheus(t *testing.T, bin, target, rules string) *prometheus {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	err := os.WriteFile(config, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %q
scrape_configs:
  - job_name: floodgate-bot
    static_configs:
      - targets: [%q]
`, rules, target)), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(transport.CloseIdleConnections)
	var lastErr error
	for attempt := range 3 { // the free port may be taken before prometheus binds it
		p := &prometheus{client: &http.Client{Transport: transport, Timeout: 10 * time.Second}, logs: &testutil.SyncBuffer{}}
		addr := testutil.FreeAddr(t)
		p.url = "http://" + addr
		cmd := exec.Command(bin, "--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, fmt.Sprintf("data%d", attempt)),
			"--web.listen-address="+addr, "--log.level=warn")
		cmd.Stdout, cmd.Stderr = p.logs, p.logs
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start prometheus: %v", err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		stop := func() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(15 * time.Second):
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-exited
			}
		}
		if lastErr = p.waitReady(exited); lastErr == nil {
			t.Cleanup(stop)
			return p
		}
		stop()
	}
	t.Fatalf("prometheus did not start: %v", lastErr)
	return nil
}

// waitReady polls /-/ready until prometheus answers 200, exits, or 30 s
// pass.
func (p *prometheus) waitReady(exited <-chan struct{}) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			return fmt.Errorf("prometheus exited during start-up; log:\n%s", p.logs)
		default:
		}
		resp, err := p.client.Get(p.url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("prometheus not ready within 30s (last: %v); log:\n%s", err, p.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sample is one element of an instant vector.
type sample struct {
	metric map[string]string
	value  float64
}

type vector []sample

func formatVector(v vector) string {
	if len(v) == 0 {
		return "(empty)"
	}
	var parts []string
	for _, s := range v {
		var ls []string
		for _, k := range slices.Sorted(maps.Keys(s.metric)) {
			ls = append(ls, k+"="+s.metric[k])
		}
		val := strconv.FormatFloat(s.value, 'g', 4, 64)
		if len(ls) > 0 {
			val = "{" + strings.Join(ls, ",") + "} " + val
		}
		parts = append(parts, val)
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}

// get calls the HTTP API and decodes its data into out; an API error
// fails the test.
func (p *prometheus) get(t *testing.T, path string, params url.Values, out any) {
	t.Helper()
	resp, err := p.client.Get(p.url + path + "?" + params.Encode())
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	var r struct {
		Status    string          `json:"status"`
		Data      json.RawMessage `json:"data"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("GET %s?%s: %d %s", path, params.Encode(), resp.StatusCode, body)
	}
	if r.Status != "success" {
		t.Fatalf("GET %s?%s: %s: %s", path, params.Encode(), r.ErrorType, r.Error)
	}
	if err := json.Unmarshal(r.Data, out); err != nil {
		t.Fatalf("GET %s: data %s: %v", path, r.Data, err)
	}
}

// query evaluates expr now; an invalid expression fails the test.
func (p *prometheus) query(t *testing.T, expr string) vector {
	t.Helper()
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	p.get(t, "/api/v1/query", url.Values{"query": {expr}}, &data)
	var raw []struct {
		Metric map[string]string `json:"metric"`
		Value  [2]any            `json:"value"`
	}
	switch data.ResultType {
	case "vector":
		if err := json.Unmarshal(data.Result, &raw); err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
	case "scalar":
		var v [2]any
		if err := json.Unmarshal(data.Result, &v); err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		raw = append(raw, struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}{Value: v})
	default:
		t.Fatalf("%s: result type %s, want an instant vector", expr, data.ResultType)
	}
	var v vector
	for _, r := range raw {
		s, _ := r.Value[1].(string)
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("%s: value %v", expr, r.Value)
		}
		v = append(v, sample{metric: r.Metric, value: f})
	}
	return v
}

// waitFor polls expr until ok accepts its result; it fails the test
// after 60 s.
func (p *prometheus) waitFor(t *testing.T, what, expr string, ok func(vector) bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		v := p.query(t, expr)
		if ok(v) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 60s for %s: %s is %s; prometheus log:\n%s", what, expr, formatVector(v), p.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// labelValues returns the values of label on the series of metric.
func (p *prometheus) labelValues(t *testing.T, label, metric string) []string {
	t.Helper()
	var values []string
	p.get(t, "/api/v1/label/"+label+"/values", url.Values{"match[]": {metric}}, &values)
	return values
}

// ruleQueries waits until prometheus has evaluated every alert rule it
// loaded, fails the test for any rule in error, and returns their queries
// by alert name.
func (p *prometheus) ruleQueries(t *testing.T) map[string]string {
	t.Helper()
	type rules struct {
		Groups []struct {
			Rules []struct {
				Name      string `json:"name"`
				Query     string `json:"query"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
				Type      string `json:"type"`
			} `json:"rules"`
		} `json:"groups"`
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var r rules
		p.get(t, "/api/v1/rules", nil, &r)
		queries := map[string]string{}
		evaluated := true
		for _, g := range r.Groups {
			for _, rule := range g.Rules {
				if rule.Type != "alerting" {
					continue
				}
				queries[rule.Name] = rule.Query
				switch rule.Health {
				case "ok":
				case "unknown": // not evaluated yet
					evaluated = false
				default:
					t.Errorf("alert rule %s: health %s: %s", rule.Name, rule.Health, rule.LastError)
				}
			}
		}
		if len(queries) == 0 {
			t.Fatalf("prometheus loaded no alert rule; log:\n%s", p.logs)
		}
		if evaluated {
			return queries
		}
		if time.Now().After(deadline) {
			t.Fatalf("alert rules not evaluated within 60s: %+v", r)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitForAlert waits until alert name is in state (pending, firing) and
// no other alert is active; it fails the test after 60 s.
func (p *prometheus) waitForAlert(t *testing.T, name, state string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var data struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		}
		p.get(t, "/api/v1/alerts", nil, &data)
		var others []string
		found := false
		for _, a := range data.Alerts {
			if a.Labels["alertname"] == name && a.State == state && a.Labels["prefix"] == "floodgate" {
				found = true
			} else if a.Labels["alertname"] != "FloodgateSlowDecisions" { // see alertExpect
				others = append(others, fmt.Sprintf("%s %s %v", a.Labels["alertname"], a.State, a.Labels))
			}
		}
		if len(others) > 0 {
			t.Errorf("alerts active on a healthy run: %v", others)
			return
		}
		if found {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("alert %s not %s within 60s: %+v", name, state, data.Alerts)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
