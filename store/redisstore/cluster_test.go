package redisstore_test

// The Redis store on a real 3-master Redis Cluster: the same decisions as
// on one server, every key with a TTL, one user's keys on one slot (the
// hash tag), users spread over all masters, and many processes sharing one
// exact limit.

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/redisstore"
	"github.com/floodgate-go/floodgate/store/storetest"
)

func TestClusterConformance(t *testing.T) {
	redisstore.SkipShort(t, "starts a 3-master cluster")
	t.Parallel()
	cluster := testutil.StartCluster(t)
	client := cluster.Client(t)
	t.Run("suite", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T, now func() time.Time) core.Store {
			return redisstore.New(client, redisstore.WithClock(now))
		})
	})
	n := cluster.AssertEveryKeyHasTTL(t)
	if n == 0 {
		t.Fatal("the suite left no keys to check")
	}
	sizes, err := cluster.DBSizes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the suite left %d keys, all with a TTL; keys per master: %v", n, sizes)
}

// Every key of a user shares the hash tag {u:ID}, so all of them live in
// one slot, on one master, and a multi-key script over them would be legal;
// different users hash to different slots and so spread over every master.
func TestClusterKeysSpreadAcrossSlots(t *testing.T) {
	redisstore.SkipShort(t, "starts a 3-master cluster")
	t.Parallel()
	cluster := testutil.StartCluster(t)
	client := cluster.Client(t)
	ctx := context.Background()
	store := redisstore.New(client)
	msg, err := core.New(store, core.Limit{Rate: 10, Period: time.Hour, Burst: 10})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := msg.Rule("cb", core.Limit{Rate: 2, Period: time.Hour, Burst: 2}) // keys outlive the test: DBSIZE counts them all
	if err != nil {
		t.Fatal(err)
	}
	const users = 300
	for i := range users {
		user := int64(100000 + i)
		for rule, lim := range map[string]*core.Limiter{"msg": msg, "cb": cb} {
			res, err := lim.Take(ctx, core.User(user), 1)
			if err != nil {
				t.Fatalf("Take(%d) on rule %s: %v", user, rule, err)
			}
			if !res.Allowed {
				t.Fatalf("first Take(%d) on rule %s denied", user, rule)
			}
		}
		// Both rules' keys of one user: one slot.
		k1, k2 := msg.Key(core.User(user)), cb.Key(core.User(user))
		s1, err1 := client.ClusterKeySlot(ctx, k1).Result()
		s2, err2 := client.ClusterKeySlot(ctx, k2).Result()
		if err1 != nil || err2 != nil {
			t.Fatalf("CLUSTER KEYSLOT: %v, %v", err1, err2)
		}
		if s1 != s2 {
			t.Errorf("user %d: %s in slot %d but %s in slot %d; the hash tag must keep them together", user, k1, s1, k2, s2)
		}
	}
	sizes, err := cluster.DBSizes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for i, n := range sizes {
		total += n
		if n == 0 {
			t.Errorf("master %d (%s) holds no key: keys per master %v", i, cluster.Addrs()[i], sizes)
		}
		if n%2 != 0 {
			t.Errorf("master %d holds %d keys, an odd number: some user's two keys were split", i, n)
		}
	}
	if total != 2*users {
		t.Errorf("%d keys in the cluster, want %d (2 rules × %d users)", total, 2*users, users)
	}
	t.Logf("%d users × 2 rules → keys per master %v", users, sizes)
	cluster.AssertEveryKeyHasTTL(t)
}

// TestClusterThreeProcessesOneLimit is TestThreeProcessesOneLimit against a
// cluster: three processes, each with its own ClusterClient, flood one
// user, whose key lives on one master; exactly the burst is admitted.
func TestClusterThreeProcessesOneLimit(t *testing.T) {
	redisstore.SkipShort(t, "starts a 3-master cluster")
	t.Parallel()
	cluster := testutil.StartCluster(t)
	client := cluster.Client(t)
	runThreeProcesses(t, clusterTarget+strings.Join(cluster.Addrs(), ","), client)
	cluster.AssertEveryKeyHasTTL(t)
	// The flooded user's key is on exactly one master.
	key := "floodgate:{u:" + strconv.Itoa(floodUser) + "}:msg"
	holders := 0
	for _, node := range cluster.Nodes() {
		if n, err := node.Client(t).Exists(context.Background(), key).Result(); err == nil && n == 1 {
			holders++
			t.Logf("%s lives on %s", key, node.Addr)
		}
	}
	if holders != 1 {
		t.Errorf("%s found on %d masters, want 1", key, holders)
	}
}
