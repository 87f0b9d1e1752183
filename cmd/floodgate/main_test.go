package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/redisstore"
	"github.com/redis/go-redis/v9"
)

// cliRun runs the CLI with env as its environment and returns its exit
// code, stdout and stderr.
func cliRun(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, &out, &errOut)
	return code, out.String(), errOut.String()
}

// mustRun is cliRun that fails the test unless the exit code is want. It
// logs the command and its output.
func mustRun(t *testing.T, want int, env map[string]string, args ...string) string {
	t.Helper()
	code, out, errOut := cliRun(t, env, args...)
	t.Logf("$ floodgate %s\n%s%s", strings.Join(args, " "), out, errOut)
	if code != want {
		t.Fatalf("floodgate %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errOut)
	}
	return out
}

// newLimiter returns a Limiter as a bot builds it, over client, on the
// bare Redis store: every decision is Redis', none is cached.
func newLimiter(t *testing.T, client redis.UniversalClient, limit core.Limit, prefix string, opts ...redisstore.Option) *core.Limiter {
	t.Helper()
	lim, err := core.New(redisstore.New(client, opts...), limit, core.WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	return lim
}

// stepClock is a clock that starts at the real time and moves only when
// told to: bots' decisions made on it are apart by exactly the steps, on
// no machine faster or slower, yet near the server's clock that the CLI
// reads with.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func newStepClock() *stepClock { return &stepClock{now: time.Now()} }

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// take makes n decisions for s and fails the test on an error or a
// denial.
func take(t *testing.T, lim *core.Limiter, s core.Scope, n int) {
	t.Helper()
	for range n {
		res, err := lim.Take(context.Background(), s, 1)
		if err != nil || !res.Allowed {
			t.Fatalf("Take %v: %+v, %v", s, res, err)
		}
	}
}

// deny makes one decision for s and fails the test unless it is a denial.
func deny(t *testing.T, lim *core.Limiter, s core.Scope) {
	t.Helper()
	if res, err := lim.Take(context.Background(), s, 1); err != nil || res.Allowed {
		t.Fatalf("Take %v: %+v, %v; want a denial", s, res, err)
	}
}

// assertReadOnly fails the test if the server ran a command that writes or
// lists keys since its stats were reset (a write inside a script counts
// as that command).
func assertReadOnly(t *testing.T, what string, client redis.UniversalClient) {
	t.Helper()
	calls, err := testutil.CommandCalls(context.Background(), client)
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"set", "del", "unlink", "lpush", "rpush", "ltrim", "pexpire", "keys"} {
		if calls[cmd] != 0 {
			t.Errorf("%s ran %s %d times: %v", what, strings.ToUpper(cmd), calls[cmd], calls)
		}
	}
}

// report parses the "label: value" lines status and check print.
func report(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if len(l) < 14 || !strings.Contains(l[:14], ":") {
			continue
		}
		m[strings.TrimSuffix(strings.TrimSpace(l[:13]), ":")] = l[14:]
	}
	return m
}

// first returns the first word of s.
func first(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

// duration parses the first word of s as a duration.
func duration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(first(s))
	if err != nil {
		t.Fatalf("%q does not start with a duration: %v", s, err)
	}
	return d
}

// within fails the test unless lo ≤ got ≤ hi.
func within(t *testing.T, what string, got, lo, hi time.Duration) {
	t.Helper()
	if got < lo || got > hi {
		t.Errorf("%s = %v, want within [%v, %v]", what, got, lo, hi)
	}
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	return port
}

func TestStatus(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	ctx := context.Background()
	limit := core.PerMinute(3) // one event per 20 s, burst 3
	lim := newLimiter(t, client, limit, "ops")
	take(t, lim, core.User(1), 3) // user 1 floods: 3 admitted...
	deny(t, lim, core.User(1))    // ...then denied (a denial writes nothing)
	take(t, lim, core.User(2), 1) // user 2: one message, not limited
	g, err := guard.New(lim, guard.WithPenalty(guard.Penalty{Strikes: 1, Window: time.Minute, Blocks: []time.Duration{time.Hour}}))
	if err != nil {
		t.Fatal(err)
	}
	var v guard.Verdict
	for i := 0; i < 10 && v.Reason != guard.ReasonPenalty; i++ { // user 3 floods into a one-hour block
		v = g.Check(ctx, guard.Update{Kind: guard.KindMessage, UserID: 3, ChatID: 3})
	}
	if v.Reason != guard.ReasonPenalty {
		t.Fatalf("user 3 was not blocked: %+v", v)
	}
	env := map[string]string{"REDIS_URL": srv.URL(), "FLOODGATE_PREFIX": "ops", "FLOODGATE_LIMIT": "3/m"}
	if err := client.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}

	// The flooded user: compare with a Peek made right before; the Redis
	// clock moves by at most the time the two calls take.
	start := time.Now()
	before, err := lim.Peek(ctx, core.User(1))
	if err != nil || before.Allowed {
		t.Fatalf("Peek user 1: %+v, %v", before, err)
	}
	r := report(mustRun(t, exitOK, env, "status", "1"))
	elapsed := time.Since(start)
	if r["key"] != "ops:{u:1}:msg" || r["limit"] != "3/m" || first(r["allowed"]) != "no" || r["remaining"] != "0" {
		t.Errorf("status 1: %q", r)
	}
	within(t, "retry after", duration(t, r["retry after"]), before.RetryAfter-elapsed, before.RetryAfter)
	within(t, "reset after", duration(t, r["reset after"]), before.ResetAfter-elapsed, before.ResetAfter)
	stored, err := client.Get(ctx, "ops:{u:1}:msg").Result()
	if err != nil || first(r["stored TAT"]) != stored || !strings.HasSuffix(r["stored TAT"], "after server time") {
		t.Errorf("stored TAT %q, GET says %q (%v)", r["stored TAT"], stored, err)
	}
	within(t, "TTL", duration(t, r["TTL"]), before.ResetAfter-elapsed-time.Millisecond, before.ResetAfter+time.Millisecond)
	if r["block"] != "none" {
		t.Errorf("status 1: block %q, want none (a plain denial)", r["block"])
	}

	// One message 20 s ago at most: allowed, one left after the next.
	start = time.Now()
	before, err = lim.Peek(ctx, core.User(2))
	if err != nil || !before.Allowed || before.Remaining != 1 {
		t.Fatalf("Peek user 2: %+v, %v", before, err)
	}
	r = report(mustRun(t, exitOK, env, "status", "2"))
	elapsed = time.Since(start)
	if first(r["allowed"]) != "yes" || first(r["remaining"]) != "1" || r["retry after"] != "0s" {
		t.Errorf("status 2: %q", r)
	}
	within(t, "reset after", duration(t, r["reset after"]), before.ResetAfter-elapsed, before.ResetAfter)

	// Never seen: no key, the full burst (Peek's Remaining is after one
	// more message), ResetAfter exactly one interval.
	out := mustRun(t, exitOK, env, "status", "4")
	r = report(out)
	if first(r["allowed"]) != "yes" || first(r["remaining"]) != "2" || r["retry after"] != "0s" ||
		r["reset after"] != "20s" || first(r["stored TAT"]) != "none" || first(r["TTL"]) != "none" || strings.Contains(out, "note:") {
		t.Errorf("status 4:\n%s", out)
	}

	// The penalty block, written into the limit's own key, shows.
	r = report(mustRun(t, exitOK, env, "status", "3"))
	if !strings.HasPrefix(r["block"], "blocked for ") || first(r["allowed"]) != "no" ||
		duration(t, r["retry after"]) < 59*time.Minute {
		t.Errorf("status 3: %q, want a one-hour block", r)
	}

	// status only reads: nothing was written or deleted, no KEYS.
	assertReadOnly(t, "status", client)
	if n, _ := client.Exists(ctx, "ops:{u:4}:msg").Result(); n != 0 {
		t.Error("status created a key for user 4")
	}

	// -rule names another rule; flags may follow the user id.
	r = report(mustRun(t, exitOK, env, "status", "1", "-rule", "report", "-limit", "1/h"))
	if r["key"] != "ops:{u:1}:report" || r["limit"] != "1/h" || first(r["allowed"]) != "yes" {
		t.Errorf("status 1 -rule report: %q", r)
	}
	// Under a sliding window the key is another one (":win"); that the
	// GCRA key exists is pointed out.
	out = mustRun(t, exitOK, env, "status", "1", "-limit", "3/m window")
	r = report(out)
	if r["key"] != "ops:{u:1}:msg:win" || first(r["allowed"]) != "yes" ||
		!strings.Contains(out, `note: ops:{u:1}:msg exists: do the bots use "3/m"?`) {
		t.Errorf("status 1 -limit '3/m window':\n%s", out)
	}
}

func TestStatusForeignKey(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	ctx := context.Background()
	// What no floodgate store writes under 3/m: another type, text, a
	// time further ahead than any limit or block allows.
	for key, set := range map[string]func() error{
		"floodgate:{u:1}:msg": func() error { return client.HSet(ctx, "floodgate:{u:1}:msg", "a", "b").Err() },
		"floodgate:{u:2}:msg": func() error { return client.Set(ctx, "floodgate:{u:2}:msg", "hello", time.Minute).Err() },
		"floodgate:{u:3}:msg": func() error { return client.Set(ctx, "floodgate:{u:3}:msg", "9000000000000000000", 0).Err() },
	} {
		if err := set(); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
	}
	env := map[string]string{"REDIS_URL": srv.URL(), "FLOODGATE_LIMIT": "3/m"}
	for _, id := range []string{"1", "2", "3"} {
		out := mustRun(t, exitOK, env, "status", id)
		r := report(out)
		// Read as absent, as the store's next write would: never as a TAT.
		if !strings.HasPrefix(r["stored"], "FOREIGN: the key holds no valid state for 3/m") || r["stored TAT"] != "" ||
			first(r["allowed"]) != "yes" || first(r["remaining"]) != "2" || r["block"] != "none" {
			t.Errorf("status %s of a foreign key:\n%s", id, out)
		}
		if id == "3" && !strings.HasPrefix(r["TTL"], "NONE: the key has no time to live") {
			t.Errorf("status 3: TTL %q, want NONE", r["TTL"])
		}
	}
	// Left alone: status only reads.
	if n, _ := client.Exists(ctx, "floodgate:{u:1}:msg", "floodgate:{u:2}:msg", "floodgate:{u:3}:msg").Result(); n != 3 {
		t.Errorf("%d of the three keys left", n)
	}
}

func TestReset(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	ctx := context.Background()
	lim := newLimiter(t, client, core.PerMinute(3), "floodgate")
	g, err := guard.New(lim, guard.WithPenalty(guard.Penalty{Strikes: 1, Window: time.Minute, Blocks: []time.Duration{time.Hour}}))
	if err != nil {
		t.Fatal(err)
	}
	var v guard.Verdict
	for i := 0; i < 10 && v.Reason != guard.ReasonPenalty; i++ { // user 7 floods into a block
		v = g.Check(ctx, guard.Update{Kind: guard.KindMessage, UserID: 7, ChatID: 7})
	}
	if v.Reason != guard.ReasonPenalty {
		t.Fatalf("user 7 was not blocked: %+v", v)
	}
	// The offense forgot its strikes; count one afresh, as a denial after
	// the block would, so that reset has both penalty keys to delete.
	strikes, err := lim.Rule("pen.strikes", core.Limit{Rate: 1, Period: time.Minute, Burst: 1})
	if err != nil {
		t.Fatal(err)
	}
	take(t, strikes, core.User(7), 1)
	take(t, lim, core.User(8), 3)
	reportRule, err := lim.Rule("report", core.PerMinute(1))
	if err != nil {
		t.Fatal(err)
	}
	take(t, reportRule, core.User(7), 1)
	penalty := []string{"floodgate:{u:7}:pen.strikes", "floodgate:{u:7}:pen.level"}
	if n, err := client.Exists(ctx, penalty...).Result(); err != nil || n != 2 {
		t.Fatalf("the penalty keys of user 7: %d of 2 (%v)", n, err)
	}
	env := map[string]string{"REDIS_URL": srv.URL(), "FLOODGATE_LIMIT": "3/m"}

	// The main rule: the limit's key (and the block in it) and the
	// penalty keys go, as guard.Reset does; the notice cooldown and other
	// rules stay.
	out := mustRun(t, exitOK, env, "reset", "7")
	if !strings.HasPrefix(out, "deleted floodgate:{u:7}:msg: user 7 has the full burst (3) again\n") ||
		!strings.Contains(out, "strikes and offense level are cleared too") || !strings.Contains(out, "deny cache") {
		t.Errorf("reset 7:\n%s", out)
	}
	for key, want := range map[string]int64{"floodgate:{u:7}:msg": 0, penalty[0]: 0, penalty[1]: 0,
		"floodgate:{u:7}:notice": 1, "floodgate:{u:7}:report": 1, "floodgate:{u:8}:msg": 1} {
		if n, err := client.Exists(ctx, key).Result(); err != nil || n != want {
			t.Errorf("after reset 7: EXISTS %s = %d (%v), want %d", key, n, err, want)
		}
	}
	r := report(mustRun(t, exitOK, env, "status", "7"))
	if first(r["allowed"]) != "yes" || first(r["remaining"]) != "2" || r["retry after"] != "0s" || first(r["stored TAT"]) != "none" {
		t.Errorf("status after reset: %q", r)
	}
	if v := g.Check(ctx, guard.Update{Kind: guard.KindMessage, UserID: 7, ChatID: 7}); !v.Pass || v.Result.Remaining != 2 {
		t.Errorf("user 7 after reset: %+v; want allowed with 2 left", v)
	}

	// Another rule: only its key.
	out = mustRun(t, exitOK, env, "reset", "7", "-rule", "report", "-limit", "1/m")
	if !strings.HasPrefix(out, "deleted floodgate:{u:7}:report: user 7 has the full burst (1) again\n") || strings.Contains(out, "penalties") {
		t.Errorf("reset 7 -rule report:\n%s", out)
	}
	if n, _ := client.Exists(ctx, "floodgate:{u:7}:report", "floodgate:{u:7}:msg").Result(); n != 1 {
		t.Errorf("reset -rule report: %d keys of user 7 left, want the main one", n)
	}
	client.Del(ctx, "floodgate:{u:7}:msg")
	if out := mustRun(t, exitOK, env, "reset", "7"); !strings.HasPrefix(out, "no key floodgate:{u:7}:msg: user 7 already had the full burst\n") {
		t.Errorf("second reset 7:\n%s", out)
	}
	// A foreign key is deleted all the same, saying what it was.
	if err := client.HSet(ctx, "floodgate:{u:9}:msg", "a", "b").Err(); err != nil {
		t.Fatal(err)
	}
	out = mustRun(t, exitOK, env, "reset", "9")
	if !strings.HasPrefix(out, "deleted floodgate:{u:9}:msg") || !strings.Contains(out, "note: the key holds no valid state for 3/m") {
		t.Errorf("reset 9 (foreign):\n%s", out)
	}
	if n, _ := client.Exists(ctx, "floodgate:{u:9}:msg").Result(); n != 0 {
		t.Error("the foreign key of user 9 is still there")
	}
}

// topRows returns the SCOPE column of top's table, in order.
func topRows(t *testing.T, out string) []string {
	t.Helper()
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "RETRY AFTER") {
		return nil
	}
	var scopes []string
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) < 4 || !strings.Contains(f[len(f)-1], ":{") {
			break
		}
		scopes = append(scopes, strings.Join(f[2:len(f)-1], " "))
	}
	return scopes
}

func TestTop(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	ctx := context.Background()
	limit := core.PerMinute(3)
	// The bots decide on a clock that moves 30 ms between the users below,
	// so their waits differ by exactly that.
	clk := newStepClock()
	started := clk.Now() // the CLI reads the keys later, on Redis' real clock
	// A prefix with a glob character: MATCH must escape it, or the
	// neighbouring tenant "botX1" would be listed too.
	lim := newLimiter(t, client, limit, "bot*1", redisstore.WithClock(clk.Now))
	other := newLimiter(t, client, limit, "botX1", redisstore.WithClock(clk.Now))
	reportRule, err := lim.Rule("report", limit)
	if err != nil {
		t.Fatal(err)
	}
	window, err := lim.Rule("msg", core.Window(3, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	// Limited in this order: the last has the longest wait.
	for _, s := range []core.Scope{core.Global(), core.UserInChat(1003, -100500), core.Chat(-100500)} {
		take(t, lim, s, 3)
		clk.Advance(30 * time.Millisecond)
	}
	take(t, other, core.User(555), 3)      // another tenant
	take(t, reportRule, core.User(666), 3) // another rule
	take(t, window, core.User(777), 3)     // the same rule under a window: another key
	take(t, lim, core.User(1001), 3)
	deny(t, lim, core.User(1001)) // writes nothing
	take(t, lim, core.User(1002), 1)
	// Idle keys, so that SCAN takes several calls and the keys are read in
	// several batches: a second's worth of the burst used, not limited
	// under 3/m.
	for i := range 2500 {
		take(t, lim, core.User(int64(50000+i)), 1)
	}
	if err := client.Set(ctx, "bot*1:{junk}:msg", "hello", time.Minute).Err(); err != nil { // foreign
		t.Fatal(err)
	}
	env := map[string]string{"REDIS_URL": srv.URL(), "FLOODGATE_PREFIX": "bot*1", "FLOODGATE_LIMIT": "3/m"}
	if err := client.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}

	out := mustRun(t, exitOK, env, "top")
	want := []string{"user 1001", "chat -100500", "user 1003 in chat -100500", "global"}
	if got := topRows(t, out); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("top lists %q, want %q", got, want)
	}
	for _, absent := range []string{"user 1002", "botX1", ":report", "user 777", "user 50000"} {
		if strings.Contains(out, absent) {
			t.Errorf("top lists %q, which is not limited under this prefix and rule", absent)
		}
	}
	if !strings.Contains(out, "\n1 key skipped: the key holds no valid state for 3/m") || !strings.Contains(out, "\nskipped bot*1:{junk}:msg\n") {
		t.Errorf("top does not name the foreign key:\n%s", out)
	}
	// SCAN may return a key twice while Redis rehashes the keyspace, so
	// the count of keys scanned is at least the number of keys; the
	// limited keys are counted once each.
	var scanned int
	_, after, _ := strings.Cut(out, "4 limited under 3/m of ")
	if _, err := fmt.Sscanf(after, "%d keys scanned (SCAN MATCH bot\\*1:{*}:msg COUNT 1000 on 1 node)", &scanned); err != nil ||
		scanned < 2506 {
		t.Errorf("top summary (%v):\n%s", err, out)
	}
	rows := strings.Split(out, "\n")
	// Real time has passed since the keys were written (however long a
	// busy machine took), and the bots' clock ran 90 ms ahead of it.
	within(t, "the longest retry after", duration(t, rows[1]), 20*time.Second-time.Since(started), 20*time.Second+90*time.Millisecond)

	calls, err := testutil.CommandCalls(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	if calls["scan"] < 3 {
		t.Errorf("top ran SCAN %d times; want several", calls["scan"])
	}
	assertReadOnly(t, "top", client)

	out = mustRun(t, exitOK, env, "top", "-n", "2")
	if got := topRows(t, out); strings.Join(got, "|") != strings.Join(want[:2], "|") || !strings.Contains(out, "showing the first 2") {
		t.Errorf("top -n 2 lists %q:\n%s", got, out)
	}
	// Under the other rule, only user 666 is limited.
	out = mustRun(t, exitOK, env, "-rule", "report", "top")
	if got := topRows(t, out); len(got) != 1 || got[0] != "user 666" {
		t.Errorf("top -rule report lists %q", got)
	}
	// top decides under the limit it is given: with a burst of 10 (a
	// tolerance of 200 s), no stored TAT is far enough ahead to deny.
	out = mustRun(t, exitOK, env, "top", "-limit", "3/m burst 10")
	if !strings.HasPrefix(out, "no key is limited right now") || !strings.Contains(out, "0 limited under 3/m burst 10") {
		t.Errorf("top -limit '3/m burst 10':\n%s", out)
	}
	// A window limit reads the window keys only.
	out = mustRun(t, exitOK, env, "top", "-limit", "3/m window")
	if got := topRows(t, out); len(got) != 1 || got[0] != "user 777" ||
		!strings.Contains(out, "1 limited under 3/m window of 1 keys scanned (SCAN MATCH bot\\*1:{*}:msg:win ") {
		t.Errorf("top -limit '3/m window':\n%s", out)
	}
	// No key at all: a hint where the other algorithm keeps its keys.
	out = mustRun(t, exitOK, env, "-rule", "nothing", "top")
	if !strings.Contains(out, `note: under "3/m window" (FLOODGATE_LIMIT or -limit) the keys would match bot\*1:{*}:nothing:win`) {
		t.Errorf("top -rule nothing:\n%s", out)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	ctx := context.Background()
	env := map[string]string{"REDIS_URL": srv.URL(), "FLOODGATE_PREFIX": "booking_bot:client1", "FLOODGATE_LIMIT": "20/m burst 5"}

	// A fresh server has no script yet: the test decision loads it.
	r := report(mustRun(t, exitOK, env, "check"))
	want := map[string]string{
		"config":   "backend=redis addr=redis://" + srv.Addr + " db=0 prefix=booking_bot:client1 limit=20/m burst 5",
		"server":   srv.Addr + ": redis ",
		"script":   "not loaded",
		"cluster":  "standalone",
		"decision": "allowed in ",
		"window":   "allowed in ",
		"result":   "ok",
	}
	for k, v := range want {
		if !strings.HasPrefix(r[k], v) {
			t.Errorf("check: %s: %q, want it to start with %q", k, r[k], v)
		}
	}
	if !strings.Contains(r["server"], "role master") ||
		!strings.Contains(r["decision"], "on booking_bot:client1:{g}:floodgate-check (limit 1/s), TTL ") {
		t.Errorf("check: %q", r)
	}
	if !strings.HasPrefix(r["ping"], "min ") || !strings.Contains(r["ping"], "over 5 round trips") {
		t.Errorf("check: ping %q", r["ping"])
	}
	pttl, err := client.PTTL(ctx, "booking_bot:client1:{g}:floodgate-check").Result()
	if err != nil || pttl <= 0 || pttl > time.Second {
		t.Errorf("the test key's PTTL is %v (%v), want (0, 1s]", pttl, err)
	}
	if got := duration(t, strings.SplitN(r["decision"], "TTL ", 2)[1]); got <= 0 || got > time.Second {
		t.Errorf("check reports the test key's TTL as %v", got)
	}

	// Again within the second: the script is loaded, the test decision is
	// denied, and that is fine.
	r = report(mustRun(t, exitOK, env, "check"))
	if !strings.HasPrefix(r["script"], "loaded (SCRIPT EXISTS "+redisstore.ScriptSHA()) ||
		!strings.HasPrefix(r["decision"], "denied (another check within 1s, retry after ") || r["result"] != "ok" {
		t.Errorf("second check: %q", r)
	}

	// A password: masked in the config line, never printed.
	const password = "Pa55w0rd-check-42"
	if err := client.ConfigSet(ctx, "requirepass", password).Err(); err != nil {
		t.Fatal(err)
	}
	withPassword := map[string]string{"REDIS_URL": "redis://:" + password + "@" + srv.Addr + "/0"}
	out := mustRun(t, exitOK, withPassword, "check")
	if strings.Contains(out, password) || !strings.Contains(out, "addr=redis://:xxxxx@"+srv.Addr) {
		t.Errorf("check with a password:\n%s", out)
	}
	const wrong = "Wr0ng-pa55-word"
	code, out, errOut := cliRun(t, map[string]string{"REDIS_URL": "redis://:" + wrong + "@" + srv.Addr + "/0"}, "check")
	if code != exitFail || strings.Contains(out+errOut, wrong) || !strings.Contains(out+errOut, "xxxxx") {
		t.Errorf("check with a wrong password: exit %d\n%s%s", code, out, errOut)
	}
}

func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node Redis Cluster")
	}
	t.Parallel()
	cl := testutil.StartCluster(t)
	client := cl.Client(t)
	ctx := context.Background()
	clk := newStepClock()
	lim := newLimiter(t, client, core.PerMinute(3), "floodgate", redisstore.WithClock(clk.Now))
	for id := int64(1); id <= 8; id++ { // users spread over the three masters
		take(t, lim, core.User(id), 3)
	}
	clk.Advance(30 * time.Millisecond)
	take(t, lim, core.User(9), 3) // the longest wait
	take(t, lim, core.User(10), 1)
	if err := client.Set(ctx, "floodgate:{junk}:msg", "hello", time.Minute).Err(); err != nil { // foreign
		t.Fatal(err)
	}
	for _, n := range cl.Nodes() {
		if err := n.Client(t).ConfigResetStat(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"REDIS_URL": cl.URL(), "FLOODGATE_LIMIT": "3/m"}

	out := mustRun(t, exitOK, env, "top")
	rows := topRows(t, out)
	if len(rows) != 9 || rows[0] != "user 9" || strings.Contains(out, "user 10 ") ||
		!strings.Contains(out, "9 limited under 3/m of 11 keys scanned") || !strings.Contains(out, "on 3 masters") ||
		!strings.Contains(out, "\nskipped floodgate:{junk}:msg\n") {
		t.Errorf("top on a cluster lists %q:\n%s", rows, out)
	}
	for _, n := range cl.Nodes() { // every master was scanned, none listed
		calls, err := testutil.CommandCalls(ctx, n.Client(t))
		if err != nil {
			t.Fatal(err)
		}
		if calls["scan"] < 1 {
			t.Errorf("node %s: SCAN %d", n.Addr, calls["scan"])
		}
		assertReadOnly(t, "top on node "+n.Addr, n.Client(t))
	}

	r := report(mustRun(t, exitOK, env, "status", "9"))
	if first(r["allowed"]) != "no" || r["key"] != "floodgate:{u:9}:msg" || !strings.HasSuffix(r["stored TAT"], "after server time") {
		t.Errorf("status 9 on a cluster: %q", r)
	}
	if out := mustRun(t, exitOK, env, "reset", "9"); !strings.HasPrefix(out, "deleted floodgate:{u:9}:msg") {
		t.Errorf("reset 9 on a cluster:\n%s", out)
	}

	out = mustRun(t, exitOK, env, "check")
	r = report(out)
	if !strings.HasPrefix(r["cluster"], "cluster_state:ok, 16384 of 16384 slots assigned, 16384 ok, 3 masters") ||
		strings.Count(out, "\nserver:") != 3 || r["result"] != "ok" || !strings.HasPrefix(r["script"], "loaded on ") {
		t.Errorf("check on a cluster:\n%s", out)
	}
}

func TestFlagsOverrideEnvironment(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	lim := newLimiter(t, client, core.PerMinute(3), "ops")
	take(t, lim, core.User(1), 3)

	// Every variable a flag overrides is wrong, even invalid: it is not read.
	env := map[string]string{"FLOODGATE_STORE": "memory", "REDIS_URL": "redis://127.0.0.1:" + closedPort(t) + "/0",
		"FLOODGATE_PREFIX": "wrong", "FLOODGATE_LIMIT": "not a limit"}
	for _, args := range [][]string{
		{"-url", srv.URL(), "-prefix", "ops", "-limit", "3/m", "status", "1"},
		{"status", "-url", srv.URL(), "1", "-prefix", "ops", "-limit", "3/m"},
		{"-url", srv.URL(), "status", "-prefix=ops", "-limit=3/m", "--", "1"},
	} {
		r := report(mustRun(t, exitOK, env, args...))
		if r["key"] != "ops:{u:1}:msg" || first(r["limit"]) != "3/m" || first(r["allowed"]) != "no" {
			t.Errorf("%q: %q", args, r)
		}
	}

	// The replaced middleware's variables work as the bots read them.
	legacy := map[string]string{"REDIS_ENABLED": "true", "REDIS_HOST": "127.0.0.1", "REDIS_PORT": strconv.Itoa(srv.Port),
		"REDIS_KEY_PREFIX": "booking_bot:client1", "FLOODGATE_LIMIT": "3/m"}
	if r := report(mustRun(t, exitOK, legacy, "status", "1")); r["key"] != "booking_bot:client1:{u:1}:msg" {
		t.Errorf("status with REDIS_* variables: %q", r)
	}
}

func TestRedisDown(t *testing.T) {
	t.Parallel()
	const secret = "sup3r-s3cret-pw"
	env := map[string]string{"REDIS_URL": "redis://:" + secret + "@127.0.0.1:" + closedPort(t) + "/0"}
	for _, args := range [][]string{{"status", "1"}, {"reset", "1"}, {"top"}, {"check"}} {
		start := time.Now()
		code, out, errOut := cliRun(t, env, args...)
		t.Logf("%q failed after %v", args, time.Since(start).Round(time.Millisecond))
		// It fails on the refused connection, not on the command's deadline.
		// (Reset, not refused, when another test's listener took the
		// port meanwhile and dropped the connection: as immediate.)
		failedFast := strings.Contains(errOut, "connection refused") || strings.Contains(errOut, "connection reset")
		if code != exitFail || !strings.Contains(errOut, "did not answer PING") || !strings.Contains(errOut, ":xxxxx@127.0.0.1") ||
			!failedFast || strings.Contains(errOut, "deadline") {
			t.Errorf("%q: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, code, exitFail, out, errOut)
		}
		if strings.Contains(out+errOut, secret) {
			t.Errorf("%q: the password appears in the output:\n%s%s", args, out, errOut)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	const secret = "sup3r-s3cret-pw"
	redisEnv := map[string]string{"REDIS_URL": "redis://:" + secret + "@127.0.0.1:" + closedPort(t) + "/0"}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string // in stderr
	}{
		{"no command", redisEnv, nil, "no command given"},
		{"unknown command", redisEnv, []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"status without id", redisEnv, []string{"status"}, "status takes one scope (user:42"},
		{"status with two ids", redisEnv, []string{"status", "1", "2"}, "got 2 arguments"},
		{"bad user id", redisEnv, []string{"status", "bob"}, `bad user id bob`},
		{"zero user id", redisEnv, []string{"reset", "0"}, `bad user id 0`},
		{"negative user id", redisEnv, []string{"reset", "user:-5"}, `bad user id -5: want a positive`},
		{"zero chat id", redisEnv, []string{"reset", "chat:0"}, `bad chat id 0`},
		{"unknown scope kind", redisEnv, []string{"status", "team:5"}, `bad scope team:5`},
		{"hostile scope", redisEnv, []string{"status", "\x1b[2Jchat:1"}, `bad scope "\x1b[2Jchat:1"`},
		{"key without closing brace", redisEnv, []string{"status", "floodgate:{u:1:msg"}, "no } closes"},
		{"window key under GCRA", redisEnv, []string{"status", "floodgate:{u:1}:msg:win"}, "sliding-window key"},
		{"key floodgate does not name", redisEnv, []string{"status", "floodgate:{u:01}:msg"}, "not a key floodgate names"},
		{"-deadline 0", redisEnv, []string{"-deadline", "0", "top"}, "-deadline must be positive"},
		{"-deadline negative", redisEnv, []string{"status", "-deadline", "-1s", "1"}, "-deadline must be positive"},
		{"bad -scope", redisEnv, []string{"top", "-scope", "users"}, "-scope users"},
		{"top with an argument", redisEnv, []string{"top", "5"}, "top takes no arguments"},
		{"top -n 0", redisEnv, []string{"top", "-n", "0"}, "-n must be at least 1"},
		{"-n outside top", redisEnv, []string{"status", "-n", "3", "1"}, "flag provided but not defined: -n"},
		{"unknown flag", redisEnv, []string{"-bogus", "top"}, "flag provided but not defined: -bogus"},
		{"bad -limit", redisEnv, []string{"-limit", "0/s", "top"}, "-limit:"},
		{"bad -prefix", redisEnv, []string{"-prefix", "a{b", "top"}, "-prefix:"},
		{"bad -rule", redisEnv, []string{"-rule", "a b", "top"}, "-rule:"},
		{"bad -deadline", redisEnv, []string{"-deadline", "soon", "top"}, "invalid value"},
		{"bad -url", redisEnv, []string{"-url", "redis://:" + secret + "@host:99999/0", "top"}, "-url:"},
		{"bad -url scheme", redisEnv, []string{"-url", "http://:" + secret + "@host:6379", "top"}, "-url:"},
		{"bad FLOODGATE_LIMIT", map[string]string{"FLOODGATE_LIMIT": "lots"}, []string{"top"}, "FLOODGATE_LIMIT"},
		{"bad REDIS_URL", map[string]string{"REDIS_URL": "redis://:" + secret + "@h:0/x"}, []string{"top"}, "REDIS_URL"},
	} {
		code, out, errOut := cliRun(t, tc.env, tc.args...)
		// One line and a hint, not the whole usage text.
		if code != exitUsage || !strings.Contains(errOut, tc.want) || strings.Contains(errOut, "Usage: floodgate") ||
			!strings.HasSuffix(errOut, "\nRun 'floodgate help' for the commands, scopes and flags.\n") ||
			strings.Count(errOut, "\n") != 2 || out != "" {
			t.Errorf("%s: exit %d, want %d, stderr with %q and a hint\nstdout:\n%s\nstderr:\n%s",
				tc.name, code, exitUsage, tc.want, out, errOut)
		}
		if strings.Contains(out+errOut, secret) {
			t.Errorf("%s: the password appears in the output:\n%s", tc.name, errOut)
		}
	}

	for _, args := range [][]string{{"-h"}, {"help"}, {"status", "-help"}} {
		if code, out, errOut := cliRun(t, nil, args...); code != exitOK || !strings.HasPrefix(out, "Usage: floodgate") || errOut != "" {
			t.Errorf("%q: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, out, errOut)
		}
	}
}

func TestMemoryBackend(t *testing.T) {
	t.Parallel()
	for _, env := range []map[string]string{{}, {"FLOODGATE_STORE": "memory"}, {"REDIS_ENABLED": "false"}} {
		for _, args := range [][]string{{"status", "1"}, {"reset", "1"}, {"top"}} {
			code, out, errOut := cliRun(t, env, args...)
			if code != exitUsage || out != "" || !strings.Contains(errOut, "lives inside each bot process") ||
				!strings.Contains(errOut, "backend=memory") {
				t.Errorf("%v %q: exit %d\nstdout:\n%s\nstderr:\n%s", env, args, code, out, errOut)
			}
		}
		out := mustRun(t, exitOK, env, "check")
		r := report(out)
		if !strings.HasPrefix(r["config"], "backend=memory prefix=floodgate limit=1/s") ||
			!strings.HasPrefix(r["store"], "memory: it lives inside each bot process") || r["result"] != "ok" {
			t.Errorf("check on memory: %q", r)
		}
	}
}
