package main

import (
	"context"
	"errors"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/internal/testutil"
	"go.uber.org/goleak"
)

// goleak checks that every bot, server and store the demo starts is gone
// when it returns.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func lookupIn(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// runDemo runs the demo with env and returns its report, its log and its
// error. It fails the test if run takes more than 30 s.
func runDemo(t *testing.T, ctx context.Context, env map[string]string) (out, logs string, err error) {
	t.Helper()
	var o, l testutil.SyncBuffer
	began := time.Now()
	done := make(chan error, 1)
	go func() { done <- run(ctx, lookupIn(env), &o, &l) }()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("run did not return within 30 s; output so far:\n%s\nlog:\n%s", o.String(), l.String())
	}
	t.Logf("run took %v; output:\n%s", time.Since(began).Round(time.Millisecond), o.String())
	return o.String(), l.String(), err
}

// want is one framework's table, as numbers.
type want struct{ sent, passed, dropped, answered, notices int }

var rowRE = regexp.MustCompile(`^  (\S.*?)\s+(\d+) \(expected\s+(\d+)\) (✓|✗)(?:  (.*))?$`)

// checkTables checks that out holds a table for each framework, in order,
// with these numbers, every one marked as expected.
func checkTables(t *testing.T, out string, w want) {
	t.Helper()
	rows := map[string][]string{}
	section := ""
	var order []string
	for _, line := range strings.Split(out, "\n") {
		for _, fw := range []string{"telebot", "telego", "tgbotapi", "go-telegram", "gotgbot"} {
			if strings.HasPrefix(line, fw+" (") {
				section = fw
				order = append(order, fw)
			}
		}
		if section != "" && strings.HasPrefix(line, "  ") && rowRE.MatchString(line) {
			rows[section] = append(rows[section], line)
		}
	}
	if strings.Join(order, ",") != "telebot,telego,tgbotapi,go-telegram,gotgbot" {
		t.Fatalf("tables for %v, want telebot, telego, tgbotapi, go-telegram, gotgbot in that order", order)
	}
	labels := []string{"updates sent", "passed (reached a handler)", "dropped by floodgate",
		"button presses answered", "notices sent"}
	nums := []int{w.sent, w.passed, w.dropped, w.answered, w.notices}
	for _, fw := range order {
		if len(rows[fw]) != len(labels) {
			t.Errorf("%s: %d rows, want %d:\n%s", fw, len(rows[fw]), len(labels), strings.Join(rows[fw], "\n"))
			continue
		}
		for i, line := range rows[fw] {
			m := rowRE.FindStringSubmatch(line)
			got, exp := atoi(m[2]), atoi(m[3])
			if m[1] != labels[i] || got != nums[i] || exp != nums[i] || m[4] != "✓" {
				t.Errorf("%s row %q: want %s %d (expected %d) ✓", fw, line, labels[i], nums[i], nums[i])
			}
		}
	}
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// checkSuccess checks the report of a run in which everything matched.
func checkSuccess(t *testing.T, out, logs string, err error, firstLine string, w want) {
	t.Helper()
	if err != nil {
		t.Fatalf("run = %v, want nil", err)
	}
	if first, _, _ := strings.Cut(out, "\n"); first != firstLine {
		t.Errorf("first line %q, want %q", first, firstLine)
	}
	checkTables(t, out, w)
	if strings.Contains(out, "✗") || strings.Contains(out, "warning") {
		t.Errorf("output has a ✗ or a warning")
	}
	if !strings.Contains(out, "\n✓ every number as expected on all 5 frameworks") ||
		!strings.Contains(out, `The notice: "Too many requests. Please try again in `) {
		t.Errorf("output lacks the summary")
	}
	if logs != "" {
		t.Errorf("warnings were logged:\n%s", logs)
	}
}

// With 3/m, each sender gets 3 messages through: the spammer 3 of 30, the
// three users all 6 of theirs, the anonymous admin 3 of 6. The pager's 6
// presses all pass on the callback budget (20/m); the double tap passes
// once, its copy dropped and answered. The spammer and the group are told
// once each.
var want3 = want{sent: 50, passed: 19, dropped: 31, answered: 8, notices: 2}

func TestMemory(t *testing.T) {
	t.Parallel()
	out, logs, err := runDemo(t, context.Background(), map[string]string{})
	checkSuccess(t, out, logs, err, "floodgate demo: store backend=memory prefix=floodgate-demo limit=3/m", want3)
	if strings.Contains(out, "keys:") {
		t.Errorf("the memory run prints the Redis keys")
	}
}

// TestOtherLimit: with FLOODGATE_LIMIT, the expected numbers follow its
// burst (4: the spammer and the group get 4 through each).
func TestOtherLimit(t *testing.T) {
	t.Parallel()
	out, logs, err := runDemo(t, context.Background(), map[string]string{"FLOODGATE_LIMIT": "5/h burst 4"})
	checkSuccess(t, out, logs, err, "floodgate demo: store backend=memory prefix=floodgate-demo limit=5/h burst 4",
		want{sent: 50, passed: 21, dropped: 29, answered: 8, notices: 2})
	if !strings.Contains(out, "The pager's 6 presses all passed on their own budget while the spammer's text was cut to 4.") {
		t.Errorf("output lacks the budgets per kind")
	}
}

// TestOneBudget: with the buttons on the messages' budget and no
// debounce, the old compromise: the pager gets 3 of 6 presses through
// (and is told), and both taps of the double tap reach the handler.
func TestOneBudget(t *testing.T) {
	t.Parallel()
	out, logs, err := runDemo(t, context.Background(), map[string]string{
		"FLOODGATE_LIMIT_CALLBACK": "3/m", "FLOODGATE_DEBOUNCE": "off"})
	checkSuccess(t, out, logs, err, "floodgate demo: store backend=memory prefix=floodgate-demo limit=3/m",
		want{sent: 50, passed: 17, dropped: 33, answered: 8, notices: 3})
	if strings.Contains(out, "double tap reached the handler once") || strings.Contains(out, "all passed on their own budget") {
		t.Errorf("output claims what this run does not do")
	}
}

// TestMismatch: a limit that refills every microsecond lets (nearly)
// everything through. The demo warns up front, marks the numbers that
// differ, and fails.
func TestMismatch(t *testing.T) {
	t.Parallel()
	out, _, err := runDemo(t, context.Background(), map[string]string{"FLOODGATE_LIMIT": "1000/ms burst 3"})
	if !errors.Is(err, errMismatch) {
		t.Fatalf("run = %v, want errMismatch", err)
	}
	for _, s := range []string{
		"warning: this limit refills one update every 1µs",
		"dropped by floodgate",
		"✗",
		"problem(s):",
		"(the limit refills every 1µs: see the warning at the top)",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q", s)
		}
	}
	if strings.Contains(out, "✓ every number as expected") {
		t.Errorf("output claims success")
	}
}

// TestCancel: the demo stops promptly, everything shut down, when its
// context ends (Ctrl-C).
func TestCancel(t *testing.T) {
	t.Parallel()
	for _, after := range []time.Duration{0, 50 * time.Millisecond, 300 * time.Millisecond, 800 * time.Millisecond} {
		ctx, cancel := context.WithTimeout(context.Background(), after)
		began := time.Now()
		_, _, err := runDemo(t, ctx, map[string]string{})
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("cancelled after %v: run = %v, want context.DeadlineExceeded", after, err)
		}
		if d := time.Since(began); d > 5*time.Second {
			t.Errorf("cancelled after %v: run took %v", after, d)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "redis://:s3cret@" + ln.Addr().String() + "/0"
	ln.Close() // connection refused from now on
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"FLOODGATE_LIMIT": "lots"}, "FLOODGATE_LIMIT"},
		{map[string]string{"FLOODGATE_LIMIT_CALLBACK": "lots"}, "FLOODGATE_LIMIT_CALLBACK"},
		{map[string]string{"FLOODGATE_DEBOUNCE": "soon"}, "FLOODGATE_DEBOUNCE"},
		{map[string]string{"FLOODGATE_STORE": "etcd"}, "FLOODGATE_STORE"},
		{map[string]string{"REDIS_URL": dead}, "did not answer PING"},
	} {
		_, _, err := runDemo(t, context.Background(), tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("env %v: run = %v, want an error containing %q, without the password", tc.env, err, tc.want)
		}
	}
}

// TestEnvironment: the demo reads what a bot reads, bar METRICS_ADDR
// (three bots cannot serve one address, so it is ignored), and a prefix
// set the replaced middleware's way is kept.
func TestEnvironment(t *testing.T) {
	t.Parallel()
	out, logs, err := runDemo(t, context.Background(), map[string]string{
		"METRICS_ADDR": "not an address", "REDIS_KEY_PREFIX": "mybot"})
	checkSuccess(t, out, logs, err, "floodgate demo: store backend=memory prefix=mybot limit=3/m", want3)
}
