package redisstore_test

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/redisstore"
	"github.com/floodgate-go/floodgate/store/storetest"
	"github.com/redis/go-redis/v9"
)

func TestConformance(t *testing.T) {
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	t.Run("suite", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T, now func() time.Time) core.Store {
			return redisstore.New(client, redisstore.WithClock(now))
		})
	})
	if n := testutil.AssertEveryKeyHasTTL(t, client); n == 0 {
		t.Fatal("the suite left no keys to check")
	}
}

// resetStats zeroes INFO commandstats.
func resetStats(t *testing.T, c *redis.Client) {
	t.Helper()
	if err := c.ConfigResetStat(context.Background()).Err(); err != nil {
		t.Fatalf("CONFIG RESETSTAT: %v", err)
	}
}

// commandCalls returns the calls per command since the last RESETSTAT.
func commandCalls(t *testing.T, c *redis.Client) map[string]int64 {
	t.Helper()
	calls, err := testutil.CommandCalls(context.Background(), c)
	if err != nil {
		t.Fatalf("INFO commandstats: %v", err)
	}
	return calls
}

// logCommandStats logs the cmdstat_ lines of INFO commandstats. This INFO
// does not count itself (Redis updates a command's stats after it replies),
// so cmdstat_info shows the INFO calls made before it.
func logCommandStats(t *testing.T, c *redis.Client) {
	t.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatalf("INFO commandstats: %v", err)
	}
	var lines []string
	for _, line := range strings.Split(info, "\n") {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "cmdstat_") {
			lines = append(lines, line)
		}
	}
	sort.Strings(lines)
	t.Logf("INFO commandstats:\n%s", strings.Join(lines, "\n"))
}

// checkCalls fails the test unless calls holds exactly want (commands absent
// from want must not have run at all).
func checkCalls(t *testing.T, calls, want map[string]int64) {
	t.Helper()
	for name, n := range want {
		if calls[name] != n {
			t.Errorf("%s: %d calls, want %d", name, calls[name], n)
		}
	}
	for name, n := range calls {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected command %s: %d calls", name, n)
		}
	}
}

// Redis 7.0 counts the commands a script runs (redis.call) in INFO
// commandstats as calls of their own, beside the EVALSHA that ran the
// script. So the exact counts are: one EVALSHA, one GET and one TIME per
// decision (Take or Peek, on the server's clock), one SET per admitted Take,
// one PTTL per denied Take (a key planted without a TTL would get one), and
// nothing else: no EVAL, no SCRIPT LOAD, no PEXPIRE, no write on a denial.
func TestOneEvalshaPerDecision(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	store := redisstore.New(client)
	ctx := context.Background()
	// 1 per hour, burst 50: the first 50 Takes of each key are admitted,
	// the next 50 denied (nothing replenishes during the test).
	limit := core.Limit{Rate: 1, Period: time.Hour, Burst: 50}
	const keys, takes, peeks = 10, 1000, 100
	key := func(i int) string { return "floodgate:{u:" + strconv.Itoa(1000+i%keys) + "}:msg" }

	resetStats(t, client)
	// Warm up: a fresh server has no script cached, so the first decision
	// is EVALSHA (NOSCRIPT) then EVAL.
	if _, err := store.Take(ctx, "floodgate:{u:1}:warm", limit, 1); err != nil {
		t.Fatal(err)
	}
	if calls := commandCalls(t, client); calls["eval"] != 1 || calls["evalsha"] != 1 {
		t.Errorf("warm-up on a fresh server: evalsha=%d eval=%d, want 1 and 1 (NOSCRIPT, then EVAL)",
			calls["evalsha"], calls["eval"])
	}

	resetStats(t, client)
	allowed := 0
	for i := range takes {
		res, err := store.Take(ctx, key(i), limit, 1)
		if err != nil {
			t.Fatal(err)
		}
		if res.Allowed {
			allowed++
		}
	}
	for i := range peeks {
		if _, err := store.Peek(ctx, key(i), limit); err != nil {
			t.Fatal(err)
		}
	}
	if allowed != keys*limit.Burst {
		t.Errorf("admitted %d of %d Takes, want %d", allowed, takes, keys*limit.Burst)
	}
	calls := commandCalls(t, client)
	logCommandStats(t, client)
	checkCalls(t, calls, map[string]int64{
		"evalsha":          takes + peeks,
		"get":              takes + peeks,
		"time":             takes + peeks,
		"set":              int64(allowed),
		"pttl":             int64(takes - allowed),
		"config|resetstat": 1,
	})
}

// After SCRIPT FLUSH (or a restart, or a failover) the first decision gets
// NOSCRIPT and is retried once as EVAL; the NOSCRIPT attempt ran nothing, so
// the event is recorded exactly once.
func TestNoScriptFallback(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	clock := testutil.NewClock()
	store := redisstore.New(client, redisstore.WithClock(clock.Now))
	ctx := context.Background()
	limit := core.PerMinute(5) // T = 12 s, burst 5
	const key = "floodgate:{u:7}:msg"

	first, err := store.Take(ctx, key, limit, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Allowed || first.Remaining != 4 {
		t.Fatalf("first Take: %+v, want allowed with 4 remaining", first)
	}
	if err := client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	resetStats(t, client)

	second, err := store.Take(ctx, key, limit, 1)
	if err != nil {
		t.Fatalf("Take after SCRIPT FLUSH: %v", err)
	}
	if !second.Allowed || second.Remaining != 3 || second.ResetAfter != 24*time.Second {
		t.Errorf("Take after SCRIPT FLUSH: %+v, want allowed, 3 remaining, reset after 24s (one more event)", second)
	}
	calls := commandCalls(t, client)
	logCommandStats(t, client)
	// WithClock: the script reads no TIME. The failed EVALSHA runs nothing.
	checkCalls(t, calls, map[string]int64{
		"evalsha": 1, "eval": 1, "get": 1, "set": 1, "config|resetstat": 1,
	})
	tat, err := client.Get(ctx, key).Int64()
	if err != nil {
		t.Fatal(err)
	}
	if want := clock.Now().Add(24 * time.Second).UnixMicro(); tat != want {
		t.Errorf("stored TAT %d, want %d (now + 2 × 12 s)", tat, want)
	}

	// The EVAL cached the script again: the next decision is a plain EVALSHA.
	exists, err := client.ScriptExists(ctx, redisstore.ScriptSHA()).Result()
	if err != nil || len(exists) != 1 || !exists[0] {
		t.Errorf("SCRIPT EXISTS %s after the fallback: %v, %v; want [true]", redisstore.ScriptSHA(), exists, err)
	}
	resetStats(t, client)
	if _, err := store.Take(ctx, key, limit, 1); err != nil {
		t.Fatal(err)
	}
	if calls := commandCalls(t, client); calls["evalsha"] != 1 || calls["eval"] != 0 {
		t.Errorf("third Take: evalsha=%d eval=%d, want 1 and 0", calls["evalsha"], calls["eval"])
	}
}

// On the server's own clock, the TTL is the time to the TAT rounded up to a
// millisecond, and a denial changes neither the value nor the TTL.
func TestTTLFollowsTAT(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	store := redisstore.New(client) // the server's TIME
	ctx := context.Background()
	limit := core.Limit{Rate: 3, Period: time.Hour, Burst: 3} // T = 1200 s
	const key = "floodgate:{u:8}:msg"
	take := func(wantAllowed bool) {
		t.Helper()
		res, err := store.Take(ctx, key, limit, 1)
		if err != nil {
			t.Fatal(err)
		}
		if res.Allowed != wantAllowed {
			t.Fatalf("Take: %+v, want Allowed=%v", res, wantAllowed)
		}
	}

	take(true)
	take(true)
	pttl, err := client.PTTL(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	const ttl = 2 * 1200 * time.Second
	if pttl <= ttl-time.Second || pttl > ttl {
		t.Errorf("PTTL after 2 events of T=1200s: %v, want in (%v, %v]", pttl, ttl-time.Second, ttl)
	}

	take(true) // the third event fills the burst
	before, err := client.Get(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	ttlBefore, err := client.PTTL(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		take(false)
	}
	after, err := client.Get(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	ttlAfter, err := client.PTTL(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("denials changed the stored TAT from %s to %s; a denial must write nothing", before, after)
	}
	if ttlAfter > ttlBefore {
		t.Errorf("denials raised PTTL from %v to %v; a denial must write nothing", ttlBefore, ttlAfter)
	}
	testutil.AssertEveryKeyHasTTL(t, client)
}

// Without WithClock the store decides on Redis' TIME.
func TestRealClock(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	store := redisstore.New(client)
	ctx := context.Background()
	limit := core.PerSecond(5) // T = 200 ms, burst 5

	// The burst of 5 must be spent within one T (200 ms) for the sixth
	// event to be denied; a machine too slow for that gets more attempts.
	for attempt := range 3 {
		key := "floodgate:{u:" + strconv.Itoa(attempt) + "}:msg"
		start := time.Now()
		for i := range 5 {
			res, err := store.Take(ctx, key, limit, 1)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Allowed {
				t.Fatalf("event %d of the burst of 5 denied: %+v", i+1, res)
			}
		}
		res, err := store.Take(ctx, key, limit, 1)
		if err != nil {
			t.Fatal(err)
		}
		if elapsed := time.Since(start); res.Allowed && elapsed >= limit.Interval() {
			t.Logf("attempt %d: 6 Takes took %v ≥ T, so the sixth was rightly admitted; retrying", attempt, elapsed)
			continue
		}
		if res.Allowed || res.RetryAfter <= 0 || res.RetryAfter > limit.Interval() {
			t.Fatalf("sixth event: %+v, want denied with 0 < RetryAfter ≤ %v", res, limit.Interval())
		}
		return
	}
	t.Fatal("could not spend a burst of 5 within 200 ms in 3 attempts")
}

// A canceled context reaches the caller as an error wrapping
// context.Canceled, from every method.
func TestContextCanceled(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	store := redisstore.New(client)
	limit := core.PerSecond(1)
	const key = "floodgate:{u:9}:msg"
	if _, err := store.Take(context.Background(), key, limit, 1); err != nil { // a pooled connection exists
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, call := range map[string]func() error{
		"Take":  func() error { _, err := store.Take(ctx, key, limit, 1); return err },
		"Peek":  func() error { _, err := store.Peek(ctx, key, limit); return err },
		"Reset": func() error { return store.Reset(ctx, key) },
	} {
		err := call()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled ctx: %v, want an error wrapping context.Canceled", name, err)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "redisstore: ") {
			t.Errorf("%s: error %q lacks the redisstore: prefix", name, err)
		}
	}
}

// A dead server is an error, returned fast with the client options bounded,
// never a panic or a silent decision; once the server is back, so is the
// store.
func TestServerDown(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	srv.Stop()
	client := redis.NewClient(&redis.Options{
		Addr:               srv.Addr,
		DialTimeout:        100 * time.Millisecond,
		ReadTimeout:        100 * time.Millisecond,
		WriteTimeout:       100 * time.Millisecond,
		MaxRetries:         -1, // no command retries
		DialerRetries:      1,  // one dial per attempt (the default is 5)
		DialerRetryTimeout: 10 * time.Millisecond,
	})
	t.Cleanup(func() { _ = client.Close() })
	store := redisstore.New(client)
	ctx := context.Background()
	limit := core.PerSecond(1)
	const key = "floodgate:{u:10}:msg"

	for name, call := range map[string]func() error{
		"Take":  func() error { _, err := store.Take(ctx, key, limit, 1); return err },
		"Peek":  func() error { _, err := store.Peek(ctx, key, limit); return err },
		"Reset": func() error { return store.Reset(ctx, key) },
	} {
		start := time.Now()
		err := call()
		elapsed := time.Since(start)
		if err == nil {
			t.Fatalf("%s against a stopped server: no error", name)
		}
		if !strings.HasPrefix(err.Error(), "redisstore: ") {
			t.Errorf("%s: error %q lacks the redisstore: prefix", name, err)
		}
		if elapsed > 2*time.Second {
			t.Errorf("%s took %v against a stopped server, want < 2s with these client options", name, elapsed)
		}
		t.Logf("%s: %v after %v", name, err, elapsed.Round(time.Millisecond))
	}

	if err := srv.Restart(); err != nil {
		t.Fatalf("restart redis-server: %v", err)
	}
	res, err := store.Take(ctx, key, limit, 1)
	if err != nil || !res.Allowed {
		t.Fatalf("Take after the server came back: %+v, %v; want allowed", res, err)
	}
}

// A hung server (SIGSTOP: connections accepted, nothing answered) is the
// case a context deadline exists for: the decision fails at the deadline
// with a redisstore: error instead of blocking the bot. go-redis honours the
// deadline on socket reads only with ContextTimeoutEnabled; without it the
// call waits for ReadTimeout (5 s by default) whatever the context says.
func TestServerHung(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = client.Close() })
	store := redisstore.New(client)
	limit := core.PerSecond(1)
	const key = "floodgate:{u:11}:msg"
	if _, err := store.Take(context.Background(), key, limit, 1); err != nil { // a pooled connection exists
		t.Fatal(err)
	}
	if err := srv.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Signal(syscall.SIGCONT) })

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := store.Take(ctx, key, limit, 1)
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("Take against a hung server: no error")
	}
	if !strings.HasPrefix(err.Error(), "redisstore: ") {
		t.Errorf("error %q lacks the redisstore: prefix", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %q does not wrap context.DeadlineExceeded", err)
	}
	if elapsed > time.Second {
		t.Errorf("Take took %v with a 100ms deadline", elapsed)
	}
	t.Logf("hung server: %v after %v", err, elapsed.Round(time.Millisecond))
}

func TestPenalties(t *testing.T) {
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	testutil.RunPenaltySuite(t, func(t *testing.T, now func() time.Time) core.Store {
		return redisstore.New(client, redisstore.WithClock(now))
	})
	if n := testutil.AssertEveryKeyHasTTL(t, client); n == 0 {
		t.Fatal("no penalty keys to check")
	}
}
