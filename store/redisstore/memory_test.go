package redisstore_test

import (
	"context"
	"sync"
	"testing"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/redisstore"
)

// TestMemoryPerActiveUser measures what one active user costs Redis: the
// used_memory growth for 20 000 users with one live key each (the default
// rule), and MEMORY USAGE of one key. docs/operations.md sizes a Redis from
// it.
func TestMemoryPerActiveUser(t *testing.T) {
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	lim, err := core.New(redisstore.New(client), core.PerMinute(20))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := lim.Take(ctx, core.User(1), 1); err != nil { // load the script, warm the server
		t.Fatal(err)
	}
	before := testutil.UsedMemory(t, client)
	const users = 20_000
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < users; i += 16 {
				if _, err := lim.Take(ctx, core.User(int64(100_000_000+i)), 1); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	after := testutil.UsedMemory(t, client)
	perUser := float64(after-before) / users
	key := lim.Key(core.User(100_000_000))
	usage, err := client.MemoryUsage(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d active users: used_memory grew %d bytes, %.1f bytes per user; MEMORY USAGE %s = %d bytes; 1M users ≈ %.0f MiB",
		users, after-before, perUser, key, usage, perUser*1e6/(1<<20))
	if perUser <= 0 || perUser > 250 {
		t.Fatalf("%.1f bytes per active user, want a positive figure under 250", perUser)
	}
}
