package store_test

import (
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
)

// With penalties on, every update first checks the block with Peek. Against
// a frozen Redis that check used to bypass the circuit breaker and wait the
// whole decision timeout on every update (100 updates: 5 s); now it stops
// calling Redis once the breaker opens, so only the first few updates wait.
func TestPenaltyCheckDuringRedisFreeze(t *testing.T) {
	srv := testutil.StartRedis(t)
	st := openRedis(t, srv)
	lim, err := core.New(st.Store, core.PerSecond(1), core.WithTimeout(chaosTimeout), core.WithBreaker(3, time.Hour),
		core.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	g, err := guard.New(lim, guard.WithPenalty(guard.DefaultPenalty))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if v := g.Check(ctx, guard.Update{Kind: guard.KindMessage, UserID: 1, ChatID: 1}); !v.Pass || v.Result.Source != core.SourceStore {
		t.Fatalf("before the freeze: %+v", v)
	}
	if err := srv.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Signal(syscall.SIGCONT) })

	const updates = 100
	start := time.Now()
	for i := range updates {
		v := g.Check(ctx, guard.Update{Kind: guard.KindMessage, UserID: int64(100 + i), ChatID: int64(100 + i)})
		if !v.Pass || v.Result.Source != core.SourceFallback {
			t.Fatalf("update %d during the freeze: %+v; want passed by the fallback", i, v)
		}
	}
	took := time.Since(start)
	t.Logf("%d updates against a frozen Redis with penalties on: %v (timeout %v, breaker after 3 failures)", updates, took, chaosTimeout)
	// Three failed store calls at 50 ms each open the breaker; every call
	// after that is local. Before, each update's Peek waited 50 ms: 5 s.
	if took > 20*chaosTimeout {
		t.Fatalf("%d updates took %v; the penalty check is still waiting on Redis", updates, took)
	}
}
