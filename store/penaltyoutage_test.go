package store_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store"
)

// TestPenaltyDuringRedisFreeze runs a Guard with penalties over the store
// store.Open returns while Redis is frozen. A penalty writes its block into
// the Guard's own limit key (core.Limiter.Block), so an update that passes
// costs one store call, penalties or not: the breaker opens after exactly
// its threshold of updates, and every later update is decided locally.
// A user who floods during the outage is blocked all the same, by the
// FailLocal fallback, on this instance.
func TestPenaltyDuringRedisFreeze(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos: freezes redis-server")
	}
	srv := testutil.StartRedis(t)
	rec := newRecorder()
	st := openRedis(t, srv, store.Config{Limit: core.PerSecond(1), Timeout: chaosTimeout}, rec)
	lim, err := st.NewLimiter()
	if err != nil {
		t.Fatal(err)
	}
	const block = time.Hour
	g, err := guard.New(lim, guard.WithPenalty(guard.Penalty{Strikes: 1, Window: time.Minute, Blocks: []time.Duration{block}}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	msg := func(user int64) guard.Update {
		return guard.Update{Kind: guard.KindMessage, UserID: user, ChatID: user}
	}
	if v := g.Check(ctx, msg(1)); !v.Pass || v.Result.Source != core.SourceStore {
		t.Fatalf("before the freeze: %+v", v)
	}

	if err := srv.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Signal(syscall.SIGCONT) })
	frozen := rec.mark()
	const updates = 100
	for i := range updates {
		v := g.Check(ctx, msg(int64(100+i)))
		if !v.Pass || v.Result.Source != core.SourceFallback {
			t.Fatalf("update %d during the freeze: %+v; want passed by the fallback", i, v)
		}
		if i == threshold-1 {
			// One store call per passing update: the threshold's worth of
			// updates opened the breaker, no fewer (two calls each, say a
			// Peek of the block and the Take, would have opened it sooner).
			_, _, _, faults := rec.since(frozen)
			rec.mu.Lock()
			open := rec.breakerOpen()
			rec.mu.Unlock()
			if len(faults) != threshold || !open {
				t.Fatalf("after %d passing updates: %d store calls failed, breaker open %v; want %d and open",
					threshold, len(faults), open, threshold)
			}
		}
	}
	opened := rec.mark()
	_, _, latencies, faults := rec.since(frozen)
	p99, worst := percentiles(latencies)
	t.Logf("%d updates against a frozen Redis with penalties on: p99 %v, max %v; %d store calls failed",
		updates, p99, worst, len(faults))

	// User 2 floods during the outage: denied by the fallback, a strike, an
	// offense, and the block goes into the fallback's copy of the limit
	// key, so the next update waits out the block.
	var v guard.Verdict
	for i := 0; i < 10 && v.Reason != guard.ReasonPenalty; i++ {
		v = g.Check(ctx, msg(2))
	}
	if v.Pass || v.Reason != guard.ReasonPenalty || v.Result.Source != core.SourceFallback ||
		v.Result.RetryAfter < block-time.Minute || v.Result.RetryAfter > block {
		t.Fatalf("user 2 flooding during the outage: %+v; want a penalty block of about %v from the fallback", v, block)
	}
	_, _, _, faultsSinceOpen := rec.since(opened)
	assertProbesOnly(t, len(faultsSinceOpen), opened.at)

	// Redis comes back: the breaker closes on a probe, and decisions go
	// back to Redis.
	if err := srv.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(patience)
	for i := int64(0); ; i++ {
		if v := g.Check(ctx, msg(1000+i)); v.Result.Source == core.SourceStore {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no decision from Redis within %v after SIGCONT", patience)
		}
		time.Sleep(10 * time.Millisecond) // polling a resumed process; the breaker probes every 500 ms
	}
	rec.mu.Lock()
	transitions := len(rec.breaker)
	open := rec.breakerOpen()
	rec.mu.Unlock()
	if open || transitions < 2 {
		t.Errorf("after Redis answered again: %d breaker transitions, open %v; want it opened and closed", transitions, open)
	}
}
