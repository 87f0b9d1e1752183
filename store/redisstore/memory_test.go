package redisstore_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/redisstore"
	"github.com/redis/go-redis/v9"
)

// usedMemory returns INFO memory's used_memory in bytes.
func usedMemory(t *testing.T, c *redis.Client) int64 {
	t.Helper()
	info, err := c.Info(context.Background(), "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no used_memory in INFO memory")
	return 0
}

// TestMemoryPerActiveUser measures what one active user costs Redis: the
// used_memory growth for 20 000 users with one live key each (the default
// rule), and MEMORY USAGE of one key. docs/operations.md sizes a Redis from
// it.
func TestMemoryPerActiveUser(t *testing.T) {
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	lim, err := core.New(redisstore.New(client), core.PerMinute(20), core.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := lim.Allow(ctx, 1); err != nil { // load the script, warm the server
		t.Fatal(err)
	}
	before := usedMemory(t, client)
	const users = 20_000
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < users; i += 16 {
				if _, err := lim.Allow(ctx, int64(100_000_000+i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	after := usedMemory(t, client)
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
