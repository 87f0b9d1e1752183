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
	deny(t, lim, core.User(1))
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
	if r["key"] != "win:{u:1}:msg:win" || r["limit"] != "3/m window" || first(r["allowed"]) != "no" ||
		r["remaining"] != "0" || !strings.HasPrefix(r["in window"], "3 of 3 events in the last 1m0s; the oldest leaves in ") ||
		r["stored times"] != "3, newest first" || r["block"] != "none" {
		t.Errorf("status 1: %q", r)
	}
	within(t, "retry after", duration(t, r["retry after"]), before.RetryAfter-elapsed, before.RetryAfter)
	within(t, "reset after", duration(t, r["reset after"]), before.ResetAfter-elapsed, before.ResetAfter)
	within(t, "TTL", duration(t, r["TTL"]), before.ResetAfter-elapsed-time.Millisecond, before.ResetAfter+time.Millisecond)
	// Under 3/m window the first event leaves first: what the oldest-first
	// decision waits for.
	leaves, _ := strings.CutPrefix(r["in window"], "3 of 3 events in the last 1m0s; the oldest leaves in ")
	within(t, "the oldest leaves in", duration(t, leaves), before.RetryAfter-elapsed, before.RetryAfter)
	stored, err := client.LRange(ctx, "win:{u:1}:msg:win", 0, -1).Result()
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
		!strings.HasPrefix(r["in window"], "1 of 3 events") || r["stored times"] != "1, newest first" {
		t.Errorf("status 2: %q", r)
	}

	// Never seen: no key, every event available, and a message now would
	// stay in the window for exactly the period.
	r = report(mustRun(t, exitOK, env, "status", "4"))
	if first(r["allowed"]) != "yes" || first(r["remaining"]) != "2" || r["retry after"] != "0s" || r["reset after"] != "1m0s" ||
		r["in window"] != "0 of 3 events in the last 1m0s" || first(r["stored times"]) != "none" || first(r["TTL"]) != "none" {
		t.Errorf("status 4: %q", r)
	}

	// Many events: the newest ten are listed.
	out = mustRun(t, exitOK, env, "status", "5", "-rule", "burst", "-limit", "15/m window")
	stored, err = client.LRange(ctx, "win:{u:5}:burst:win", 0, 9).Result()
	if err != nil {
		t.Fatal(err)
	}
	r = report(out)
	if got, more := storedTimes(t, out); strings.Join(got, " ") != strings.Join(stored, " ") || more != "… and 2 older" ||
		r["stored times"] != "12, newest first" || r["remaining"] != "2 (after that message; burst 15)" {
		t.Errorf("status 5 -rule burst: %q %q\n%s", got, more, out)
	}
	// Under a smaller window than the one that wrote the key, status reads
	// what the decision script reads: the newest Rate times.
	r = report(mustRun(t, exitOK, env, "status", "5", "-rule", "burst", "-limit", "4/m window"))
	if first(r["allowed"]) != "no" || r["stored times"] != "4, newest first" {
		t.Errorf("status 5 under 4/m window: %q", r)
	}

	// A user with a GCRA key only: no window key, and a note that the
	// bots may use a GCRA limit.
	out = mustRun(t, exitOK, env, "status", "9")
	if r := report(out); first(r["stored times"]) != "none" ||
		!strings.Contains(out, `note: win:{u:9}:msg exists: do the bots use "3/m"?`) {
		t.Errorf("status 9:\n%s", out)
	}

	// status only reads.
	assertReadOnly(t, "status", client)
	if n, _ := client.Exists(ctx, "win:{u:4}:msg:win").Result(); n != 0 {
		t.Error("status created a key for user 4")
	}

	// A window key that holds no valid log: reported as foreign, read as
	// absent, left alone.
	for key, set := range map[string]func() error{
		"win:{u:6}:msg:win": func() error { return client.Set(ctx, "win:{u:6}:msg:win", "1", time.Minute).Err() },
		"win:{u:7}:msg:win": func() error { return client.RPush(ctx, "win:{u:7}:msg:win", "a", "b").Err() },
	} {
		if err := set(); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
	}
	for _, id := range []string{"6", "7"} {
		out := mustRun(t, exitOK, env, "status", id)
		if r := report(out); !strings.HasPrefix(r["stored"], "FOREIGN: the key holds no valid state for 3/m window") ||
			r["stored times"] != "" || r["in window"] != "" || first(r["allowed"]) != "yes" || r["remaining"] != "2 (after that message; burst 3)" {
			t.Errorf("status %s of a foreign window key:\n%s", id, out)
		}
	}
	if n, _ := client.Exists(ctx, "win:{u:6}:msg:win", "win:{u:7}:msg:win").Result(); n != 2 {
		t.Errorf("%d of the two foreign keys left", n)
	}
}

func TestResetWindow(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	ctx := context.Background()
	lim := newLimiter(t, client, core.Window(3, time.Minute), "floodgate")
	take(t, lim, core.User(7), 3)
	take(t, newLimiter(t, client, core.PerMinute(3), "floodgate"), core.User(7), 3)
	env := map[string]string{"REDIS_URL": srv.URL(), "FLOODGATE_LIMIT": "3/m window", "FLOODGATE_PREFIX": "floodgate"}

	// No deny-cache note: a sliding-window denial is never cached. The
	// GCRA key of the same rule is another key, left alone.
	if out := mustRun(t, exitOK, env, "reset", "7", "-rule", "msg"); out !=
		"deleted floodgate:{u:7}:msg:win: user 7 has the full burst (3) again\n"+
			"penalties: user 7: strikes and offense level are cleared too (guard.Reset); a next offense starts from the first block\n" {
		t.Errorf("reset 7:\n%s", out)
	}
	if res, err := lim.Take(ctx, core.User(7), 1); err != nil || !res.Allowed || res.Remaining != 2 {
		t.Errorf("user 7 after reset: %+v, %v; want allowed with 2 left", res, err)
	}
	if n, _ := client.Exists(ctx, "floodgate:{u:7}:msg").Result(); n != 1 {
		t.Error("reset under a window limit deleted the GCRA key")
	}
}

func TestTopWindow(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	ctx := context.Background()
	limit := core.Window(3, time.Minute)
	clk := newStepClock()
	started := clk.Now() // the CLI reads the keys later, on Redis' real clock
	rs := redisstore.New(client, redisstore.WithClock(clk.Now))
	lim, err := core.New(rs, limit, core.WithPrefix("win"))
	if err != nil {
		t.Fatal(err)
	}
	take(t, lim, core.User(10), 3)
	clk.Advance(30 * time.Millisecond)
	take(t, lim, core.User(11), 3) // 30 ms later: a longer wait
	clk.Advance(30 * time.Millisecond)
	// A chat's lane and a user's lane decided together, as outbound does:
	// both hold the same three times.
	lanes := []core.Lane{{Key: lim.Key(core.Chat(-100)), Limit: limit}, {Key: lim.Key(core.User(13)), Limit: limit}}
	for range 3 {
		if res, err := rs.TakeAll(ctx, lanes, 1); err != nil || !res.Allowed {
			t.Fatalf("TakeAll: %+v, %v", res, err)
		}
	}
	take(t, lim, core.User(12), 1) // not limited
	if err := lim.Block(ctx, core.User(14), 2*time.Minute); err != nil {
		t.Fatal(err) // blocked for two minutes: the longest wait
	}
	// A GCRA key of the same prefix and rule (another key, not scanned
	// under the window limit) and a foreign window key.
	take(t, newLimiter(t, client, core.PerMinute(3), "win"), core.User(20), 3)
	if err := client.HSet(ctx, "win:{junk}:msg:win", "a", "b").Err(); err != nil {
		t.Fatal(err)
	}
	// Idle lists, so that SCAN takes several calls and the keys are read
	// in several batches: one event each.
	for i := range 1200 {
		take(t, lim, core.User(int64(50000+i)), 1)
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
	// Real time has passed since the block (however long a busy machine
	// took), and the bots' clock ran a few 30 ms steps ahead of it.
	within(t, "the blocked user's retry after", duration(t, lines[1]), 2*time.Minute-time.Since(started), 2*time.Minute+time.Second)
	// The order is by when each key admits again, on the bots' clock,
	// whichever batch read it: the two lanes of one TakeAll hold the same
	// times, so they free at the same moment and rank by key.
	within(t, "user 10's retry after", duration(t, lines[5]), 59*time.Second, time.Minute)
	var scanned int
	_, after, _ := strings.Cut(out, "5 limited under 3/m window of ")
	if _, err := fmt.Sscanf(after, "%d keys scanned (SCAN MATCH win:{*}:msg:win COUNT 1000 on 1 node)", &scanned); err != nil || scanned < 1207 {
		t.Errorf("top summary (%v):\n%s", err, out)
	}
	for _, s := range []string{
		"\n1 key skipped: the key holds no valid state for 3/m window",
		"\nskipped win:{junk}:msg:win\n",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("top does not say %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "user 20") || strings.Contains(out, "win:{u:20}:msg") {
		t.Errorf("top under a window limit read the GCRA key of user 20:\n%s", out)
	}
	calls, err := testutil.CommandCalls(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	if calls["scan"] < 2 {
		t.Errorf("top ran SCAN %d times; want several", calls["scan"])
	}
	assertReadOnly(t, "top", client)

	// Under a GCRA limit only the GCRA keys are read: user 20 is ranked.
	code, out, errOut := cliRun(t, env, "top", "-limit", "3/m")
	if code != exitOK || errOut != "" {
		t.Fatalf("top -limit 3/m: exit %d\n%s%s", code, out, errOut)
	}
	if got := topRows(t, out); len(got) != 1 || got[0] != "user 20" || !strings.Contains(out, "1 limited under 3/m of 1 keys scanned") {
		t.Errorf("top -limit 3/m lists %q:\n%s", got, out)
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
		!strings.Contains(r["window"], "on floodgate:{g}:floodgate-check:win (limit 1/s window), TTL ") ||
		!strings.HasPrefix(r["decision"], "allowed in ") || r["result"] != "ok" {
		t.Errorf("check: %q", r)
	}
	key := "floodgate:{g}:floodgate-check:win"
	if typ, err := client.Type(ctx, key).Result(); err != nil || typ != "list" {
		t.Errorf("the window test key is a %q (%v), want a list", typ, err)
	}
	if pttl, err := client.PTTL(ctx, key).Result(); err != nil || pttl <= 0 || pttl > time.Second {
		t.Errorf("the window test key's PTTL is %v (%v), want (0, 1s]", pttl, err)
	}
	if got := duration(t, strings.SplitN(r["window"], "TTL ", 2)[1]); got <= 0 || got > time.Second {
		t.Errorf("check reports the window key's TTL as %v", got)
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
	if testing.Short() {
		t.Skip("starts a 3-node Redis Cluster")
	}
	t.Parallel()
	cl := testutil.StartCluster(t)
	client := cl.Client(t)
	lim := newLimiter(t, client, core.Window(2, time.Minute), "floodgate")
	for id := int64(1); id <= 6; id++ { // users spread over the three masters
		take(t, lim, core.User(id), 2)
	}
	take(t, lim, core.User(7), 1)
	take(t, newLimiter(t, client, core.PerMinute(2), "floodgate"), core.User(8), 1) // a GCRA key: not scanned
	env := map[string]string{"REDIS_URL": cl.URL(), "FLOODGATE_LIMIT": "2/m window"}

	out := mustRun(t, exitOK, env, "top")
	if rows := topRows(t, out); len(rows) != 6 || !strings.Contains(out, "6 limited under 2/m window of 7 keys scanned") ||
		!strings.Contains(out, "on 3 masters") || strings.Contains(out, "skipped") {
		t.Errorf("top on a cluster lists %q:\n%s", rows, out)
	}
	for id, want := range map[int]string{3: "no", 7: "yes"} {
		r := report(mustRun(t, exitOK, env, "status", fmt.Sprint(id)))
		if first(r["allowed"]) != want || r["key"] != fmt.Sprintf("floodgate:{u:%d}:msg:win", id) {
			t.Errorf("status %d on a cluster: %q", id, r)
		}
		within(t, "TTL", duration(t, r["TTL"]), 50*time.Second, time.Minute)
	}
}
