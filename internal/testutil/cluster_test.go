package testutil

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestStartCluster(t *testing.T) {
	t.Parallel()
	start := time.Now()
	c := StartCluster(t)
	t.Logf("3-master cluster ready in %v: %v", time.Since(start).Round(time.Millisecond), c.Addrs())
	if len(c.Nodes()) != 3 || len(c.Addrs()) != 3 {
		t.Fatalf("%d nodes, %d addrs; want 3", len(c.Nodes()), len(c.Addrs()))
	}
	ctx := context.Background()
	client := c.Client(t)
	for i := range 100 {
		if err := client.Set(ctx, "k"+strconv.Itoa(i), i, time.Minute).Err(); err != nil {
			t.Fatalf("SET on the cluster: %v", err)
		}
	}
	var masters, keys atomic.Int64
	if err := client.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		masters.Add(1)
		k, err := n.DBSize(ctx).Result()
		keys.Add(k)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if masters.Load() != 3 || keys.Load() != 100 {
		t.Errorf("%d masters holding %d keys, want 3 and 100", masters.Load(), keys.Load())
	}
	sizes, err := c.DBSizes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range sizes {
		if n == 0 {
			t.Errorf("node %d holds no key of 100: %v", i, sizes)
		}
	}
	if n := c.AssertEveryKeyHasTTL(t); n != 100 {
		t.Errorf("AssertEveryKeyHasTTL checked %d keys, want 100", n)
	}
	if got, want := c.URL(), "redis+cluster://"+c.Addrs()[0]+","+c.Addrs()[1]+","+c.Addrs()[2]; got != want {
		t.Errorf("URL() = %q, want %q", got, want)
	}
}
