package core

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// A bot that meets many users must not remember every block it ever saw:
// ended blocks are swept. Each of 20 000 users floods, is blocked for a
// millisecond, and is never heard from again.
func TestEndedBlocksAreSwept(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	lim, err := New(newLocalStore(clock), PerMinute(1), WithClock(clock), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewGuard(lim, WithPenalty(Penalty{Strikes: 1, Window: time.Minute, Blocks: []time.Duration{time.Millisecond}}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const users = 20000
	for id := int64(1); id <= users; id++ {
		u := Update{Kind: KindMessage, UserID: id, ChatID: id}
		g.Check(ctx, u) // allowed
		g.Check(ctx, u) // denied: the tolerated strike
		g.Check(ctx, u) // denied: the offense, blocked for 1ms
		if v := g.Check(ctx, u); v.Reason != ReasonPenalty {
			t.Fatalf("user %d: %+v, want blocked", id, v)
		}
		mu.Lock()
		now = now.Add(time.Second) // the block ends
		mu.Unlock()
	}
	if n, most := g.pen.blocked.len(), 16*1024; n > most {
		t.Fatalf("%d ended blocks still held after %d users; want at most %d (a sweep per shard)", n, users, most)
	}
}
