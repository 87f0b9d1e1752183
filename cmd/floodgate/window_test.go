package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/redisstore"
)

// storedTimes returns the µs times status lists under "stored times", in
// the order printed (newest first), and the "… and N older" line if any.
func storedTimes(t *testing.T, out string) (times []string, more string) {
	t.Helper()
	_, after, ok := strings.Cut(out, "\nstored times: ")
	if !ok {
		t.Fatalf("no stored times in:\n%s", out)
	}
	for _, l := range strings.Split(after, "\n")[1:] {
		if !strings.HasPrefix(l, "              ") {
			break
		}
		f := strings.Fields(l)
		if f[0] == "…" {
			more = strings.TrimSpace(l)
			continue
		}
		times = append(times, f[0])
	}
	return times, more
}

func TestStatusWindow(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	ctx := context.Background()
	limit := core.Window(3, time.Minute)
	lim := newLimiter(t, client, limit, "win")
	take(t, lim, core.User(1), 3) // user 1 floods: 3 admitted...
	if res, _ := lim.Allow(ctx, 1); res.Allowed {
		t.Fatal("user 1 not limited after 3 messages")
	}
	take(t, lim, core.User(2), 1)                                             // user 2: one message
	take(t, newLimiter(t, client, core.PerMinute(3), "win"), core.User(9), 1) // a GCRA key
	many, err := lim.Rule("burst", core.Window(15, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	take(t, many, core.User(5), 12) // twelve events under another rule
	env := map[string]string{"REDIS_URL": srv.URL(), "FLOODGATE_PREFIX": "win", "FLOODGATE_LIMIT": "3/m window"}
	if err := client.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}

	// The flooded user: the decision matches a Peek through the window
	// script made right before, to within the time the two calls take.
	start := time.Now()
	before, err := lim.Peek(ctx, core.User(1))
	if err != nil || before.Allowed {
		t.Fatalf("Peek user 1: %+v, %v", before, err)
	}
	out := mustRun(t, exitOK, env, "status", "1")
	elapsed := time.Since(start)
	r := report(out)
	if r["key"] != "win:{u:1}:msg" || r["limit"] != "3/m window (rule msg)" || first(r["allowed"]) != "no" ||
		r["remaining"] != "0" || !strings.HasPrefix(r["in window"], "3 of 3 events in the last 1m0s; the oldest leaves in ") ||
		r["stored times"] != "3, newest first (LRANGE 0 2)" || r["penalty"] != "none" {
		t.Errorf("status 1: %q", r)
	}
	within(t, "retry after", duration(t, r["retry after"]), before.RetryAfter-elapsed, before.RetryAfter)
	within(t, "reset after", duration(t, r["reset after"]), before.ResetAfter-elapsed, before.ResetAfter)
	within(t, "PTTL", duration(t, r["PTTL"]), before.ResetAfter-elapsed-time.Millisecond, before.ResetAfter+time.Millisecond)
	// Under 3/m window the first event leaves first: what the oldest-first
	// decision waits for.
	leaves, _ := strings.CutPrefix(r["in window"], "3 of 3 events in the last 1m0s; the oldest leaves in ")
	within(t, "the oldest leaves in", duration(t, leaves), before.RetryAfter-elapsed, before.RetryAfter)
	stored, err := client.LRange(ctx, "win:{u:1}:msg", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	if got, more := storedTimes(t, out); strings.Join(got, " ") != strings.Join(stored, " ") || more != "" ||
		strings.Count(out, "ago, in the window") != 3 {
		t.Errorf("stored times %q %q, LRANGE says %q:\n%s", got, more, stored, out)
	}

	// One message: allowed, one left after the next.
	r = report(mustRun(t, exitOK, env, "status", "2"))
	if first(r["allowed"]) != "yes" || r["remaining"] != "1 (after that message; burst 3)" || r["retry after"] != "0s" ||
		!strings.HasPrefix(r["in window"], "1 of 3 events") || r["stored times"] != "1, newest first (LRANGE 0 2)" {
		t.Errorf("status 2: %q", r)
	}

	// Never seen: no key, every event available, and a message now would
	// stay in the window for exactly the period.
	r = report(mustRun(t, exitOK, env, "status", "4"))
	if first(r["allowed"]) != "yes" || first(r["remaining"]) != "2" || r["retry after"] != "0s" || r["reset after"] != "1m0s" ||
		r["in window"] != "0 of 3 events in the last 1m0s" || first(r["stored times"]) != "none" || first(r["PTTL"]) != "none" {
		t.Errorf("status 4: %q", r)
	}

	// Many events: the newest ten are listed.
	out = mustRun(t, exitOK, env, "status", "5", "-rule", "burst", "-limit", "15/m window")
	stored, err = client.LRange(ctx, "win:{u:5}:burst", 0, 9).Result()
	if err != nil {
		t.Fatal(err)
	}
	r = report(out)
	if got, more := storedTimes(t, out); strings.Join(got, " ") != strings.Join(stored, " ") || more != "… and 2 older" ||
		r["stored times"] != "12, newest first (LRANGE 0 14)" || r["remaining"] != "2 (after that message; burst 15)" {
		t.Errorf("status 5 -rule burst: %q %q\n%s", got, more, out)
	}
	// Under a smaller window than the one that wrote the key, status reads
	// as the script does (the newest Rate) and says the list is longer.
	r = report(mustRun(t, exitOK, env, "status", "5", "-rule", "burst", "-limit", "4/m window"))
	if first(r["allowed"]) != "no" || r["stored times"] != "4, newest first (LRANGE 0 3 of a list of 12: written under a larger limit?)" {
		t.Errorf("status 5 under 4/m window: %q", r)
	}

	// status only reads.
	calls, err := testutil.CommandCalls(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	if calls["set"] != 0 || calls["del"] != 0 || calls["lpush"] != 0 || calls["ltrim"] != 0 || calls["pexpire"] != 0 || calls["keys"] != 0 {
		t.Errorf("status wrote or listed: %v", calls)
	}
	if n, _ := client.Exists(ctx, "win:{u:4}:msg").Result(); n != 0 {
		t.Error("status created a key for user 4")
	}

	// A key of the other algorithm's type: a clear message, exit 1, and
	// the key left alone.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"status", "9"}, `win:{u:9}:msg key holds a string: is FLOODGATE_LIMIT (or -limit) a GCRA limit, without "window"?`},
		{[]string{"status", "1", "-limit", "3/m"}, `win:{u:1}:msg key holds a list: is FLOODGATE_LIMIT (or -limit) a sliding window, e.g. "3/m window"?`},
	} {
		code, out, errOut := cliRun(t, env, tc.args...)
		if code != exitFail || !strings.Contains(errOut, tc.want) || !strings.Contains(out, "stored:") {
			t.Errorf("%q: exit %d, want %d and %q\nstdout:\n%s\nstderr:\n%s", tc.args, code, exitFail, tc.want, out, errOut)
		}
	}
	if n, _ := client.Exists(ctx, "win:{u:9}:msg", "win:{u:1}:msg").Result(); n != 2 {
		t.Errorf("%d of the two keys left", n)
	}
}

func TestResetWindow(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	ctx := context.Background()
	lim := newLimiter(t, client, core.Window(3, time.Minute), "floodgate")
	take(t, lim, core.User(7), 3)
	take(t, newLimiter(t, client, core.PerMinute(3), "floodgate"), core.User(8), 3)
	env := map[string]string{"REDIS_URL": srv.URL(), "FLOODGATE_LIMIT": "3/m window"}

	// No deny-cache note: the bots never cache a sliding-window denial.
	if out := mustRun(t, exitOK, env, "reset", "7"); out != "deleted floodgate:{u:7}:msg: user 7 has the full burst (3) under rule msg again\n" {
		t.Errorf("reset 7:\n%s", out)
	}
	if res, err := lim.Allow(ctx, 7); err != nil || !res.Allowed || res.Remaining != 2 {
		t.Errorf("user 7 after reset: %+v, %v; want allowed with 2 left", res, err)
	}
	// A GCRA key under a window limit is deleted all the same, with a note.
	out := mustRun(t, exitOK, env, "reset", "8")
	if !strings.HasPrefix(out, "deleted floodgate:{u:8}:msg") || !strings.Contains(out, "note: key holds a string") {
		t.Errorf("reset 8:\n%s", out)
	}
	if n, _ := client.Exists(ctx, "floodgate:{u:8}:msg").Result(); n != 0 {
		t.Error("the key of user 8 is still there")
	}
}

func TestTopWindow(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	ctx := context.Background()
	limit := core.Window(3, time.Minute)
	lim := newLimiter(t, client, limit, "win")
	take(t, lim, core.User(10), 3)
	time.Sleep(30 * time.Millisecond)
	take(t, lim, core.User(11), 3) // 30 ms later: a longer wait
	time.Sleep(30 * time.Millisecond)
	// A chat's lane and a user's lane decided together, as outbound does:
	// both hold the same three times.
	lanes := []core.Lane{{Key: lim.Key(core.Chat(-100)), Limit: limit}, {Key: lim.Key(core.User(13)), Limit: limit}}
	for range 3 {
		if res, err := lim.TakeAll(ctx, lanes, 1); err != nil || !res.Allowed {
			t.Fatalf("TakeAll: %+v, %v", res, err)
		}
	}
	take(t, lim, core.User(12), 1) // not limited
	if err := lim.Block(ctx, lim.Key(core.User(14)), limit, 2*time.Minute); err != nil {
		t.Fatal(err) // blocked for two minutes: the longest wait
	}
	// Keys of other types under the same prefix and rule: a GCRA key
	// (limited under 3/m) and a foreign hash.
	take(t, newLimiter(t, client, core.PerMinute(3), "win"), core.User(20), 3)
	if err := client.HSet(ctx, "win:{junk}:msg", "a", "b").Err(); err != nil {
		t.Fatal(err)
	}
	// Idle lists, so that SCAN takes several calls and LRANGE several
	// pipelines: one event each.
	for i := range 1200 {
		if _, err := lim.Take(ctx, core.User(int64(50000+i)), 1); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"REDIS_URL": srv.URL(), "FLOODGATE_PREFIX": "win", "FLOODGATE_LIMIT": "3/m window"}
	if err := client.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}

	out := mustRun(t, exitOK, env, "top")
	want := []string{"user 14", "chat -100", "user 13", "user 11", "user 10"}
	if got := topRows(t, out); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("top lists %q, want %q", got, want)
	}
	lines := strings.Split(out, "\n")
	within(t, "the blocked user's retry after", duration(t, lines[1]), 2*time.Minute-time.Second, 2*time.Minute)
	// The two lanes of one TakeAll hold the same times, so they free at
	// the same moment and rank by key, though SCAN may have put them in
	// different pipelines (whose TIMEs differ).
	within(t, "user 10's retry after", duration(t, lines[5]), 59*time.Second, time.Minute)
	var scanned int
	_, after, _ := strings.Cut(out, "5 limited under 3/m window of ")
	if _, err := fmt.Sscanf(after, "%d keys scanned (SCAN MATCH win:{*}:msg COUNT 1000 on 1 node)", &scanned); err != nil || scanned < 1208 {
		t.Errorf("top summary (%v):\n%s", err, out)
	}
	for _, s := range []string{
		"2 keys skipped: not of the type 3/m window keeps (a list)\n",
		"skipped win:{junk}:msg: key holds a hash: not a floodgate key (",
		`skipped win:{u:20}:msg: key holds a string: is FLOODGATE_LIMIT (or -limit) a GCRA limit, without "window"?`,
	} {
		if !strings.Contains(out, s) {
			t.Errorf("top does not say %q:\n%s", s, out)
		}
	}
	calls, err := testutil.CommandCalls(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	if calls["lrange"] != int64(scanned) || calls["get"] != 0 || calls["type"] != 2 || calls["time"] < 2 || calls["scan"] < 2 ||
		calls["keys"] != 0 || calls["evalsha"] != 0 || calls["lpush"] != 0 || calls["del"] != 0 {
		t.Errorf("top's commands: %v; want one LRANGE per key, TYPE for the two odd ones, TIME per pipeline, no writes", calls)
	}

	// Under a GCRA limit the lists are the odd keys: named, not fatal,
	// and the GCRA key is ranked.
	code, out, errOut := cliRun(t, env, "top", "-limit", "3/m", "-n", "2")
	if code != exitOK || errOut != "" {
		t.Fatalf("top -limit 3/m: exit %d\n%s%s", code, out, errOut)
	}
	if got := topRows(t, out); len(got) != 1 || got[0] != "user 20" {
		t.Errorf("top -limit 3/m lists %q:\n%s", got, out)
	}
	for _, s := range []string{
		"1207 keys skipped: not of the type 3/m keeps (a string)\n",
		`skipped win:{c:-100}:msg: key holds a list: is FLOODGATE_LIMIT (or -limit) a sliding window, e.g. "3/m window"?`,
		"skipped win:{junk}:msg: key holds a hash",
		"… and 1205 more keys skipped\n",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("top -limit 3/m does not say %q:\n%s", s, out)
		}
	}
}

func TestCheckWindow(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	ctx := context.Background()
	env := map[string]string{"REDIS_URL": srv.URL(), "FLOODGATE_LIMIT": "20/m window"}

	r := report(mustRun(t, exitOK, env, "check"))
	if !strings.HasSuffix(r["config"], "limit=20/m window") || !strings.HasPrefix(r["script"], "not loaded") ||
		!strings.Contains(r["script"], "; window script not loaded (SCRIPT EXISTS "+redisstore.WindowScriptSHA()+")") ||
		!strings.HasPrefix(r["window"], "allowed in ") ||
		!strings.Contains(r["window"], "on floodgate:{g}:floodgate-check-window (limit 1/s window), PTTL ") ||
		!strings.HasPrefix(r["decision"], "allowed in ") || r["result"] != "ok" {
		t.Errorf("check: %q", r)
	}
	key := "floodgate:{g}:floodgate-check-window"
	if typ, err := client.Type(ctx, key).Result(); err != nil || typ != "list" {
		t.Errorf("the window test key is a %q (%v), want a list", typ, err)
	}
	if pttl, err := client.PTTL(ctx, key).Result(); err != nil || pttl <= 0 || pttl > time.Second {
		t.Errorf("the window test key's PTTL is %v (%v), want (0, 1s]", pttl, err)
	}
	if got := duration(t, strings.SplitN(r["window"], "PTTL ", 2)[1]); got <= 0 || got > time.Second {
		t.Errorf("check reports the window key's PTTL as %v", got)
	}

	// Again within the second: both scripts loaded, both decisions denied.
	r = report(mustRun(t, exitOK, env, "check"))
	if r["script"] != "loaded (SCRIPT EXISTS "+redisstore.ScriptSHA()+"); window script loaded (SCRIPT EXISTS "+
		redisstore.WindowScriptSHA()+")" || !strings.HasPrefix(r["window"], "denied (another check within 1s, retry after ") ||
		r["result"] != "ok" {
		t.Errorf("second check: %q", r)
	}
}

func TestClusterWindow(t *testing.T) {
	t.Parallel()
	cl := testutil.StartCluster(t)
	client := cl.Client(t)
	lim := newLimiter(t, client, core.Window(2, time.Minute), "floodgate")
	for id := int64(1); id <= 6; id++ { // users spread over the three masters
		take(t, lim, core.User(id), 2)
	}
	take(t, lim, core.User(7), 1)
	take(t, newLimiter(t, client, core.PerMinute(2), "floodgate"), core.User(8), 1) // a GCRA key
	env := map[string]string{"REDIS_URL": cl.URL(), "FLOODGATE_LIMIT": "2/m window"}

	out := mustRun(t, exitOK, env, "top")
	if rows := topRows(t, out); len(rows) != 6 || !strings.Contains(out, "6 limited under 2/m window of 8 keys scanned") ||
		!strings.Contains(out, "on 3 masters") || !strings.Contains(out, "1 key skipped: not of the type 2/m window keeps (a list)\n") ||
		!strings.Contains(out, "skipped floodgate:{u:8}:msg: key holds a string") {
		t.Errorf("top on a cluster lists %q:\n%s", rows, out)
	}
	for id, want := range map[int]string{3: "no", 7: "yes"} {
		r := report(mustRun(t, exitOK, env, "status", fmt.Sprint(id)))
		if first(r["allowed"]) != want || r["key"] != fmt.Sprintf("floodgate:{u:%d}:msg", id) {
			t.Errorf("status %d on a cluster: %q", id, r)
		}
		within(t, "PTTL", duration(t, r["PTTL"]), 50*time.Second, time.Minute)
	}
}
