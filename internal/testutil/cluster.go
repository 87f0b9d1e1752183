package testutil

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterReadyWithin bounds how long StartCluster waits for every node to
// report cluster_state:ok after redis-cli created the cluster.
const clusterReadyWithin = 15 * time.Second

// Cluster is a real Redis Cluster of three masters (no replicas), each a
// redis-server child process started by StartRedis with cluster mode on.
// The 16384 slots are split evenly between the masters by
// `redis-cli --cluster create`. Every node is stopped when the test ends.
type Cluster struct {
	nodes []*Redis
}

// StartCluster starts three cluster-enabled redis-server processes on free
// loopback ports, joins them into one cluster with
// `redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes`, and
// waits (at most 15 s) until CLUSTER INFO reports cluster_state:ok on every
// node. It fails the test, with an install hint, when redis-server or
// redis-cli is missing.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	return startCluster(t, func(int) []string { return nil })
}

// startCluster is StartCluster with more server arguments for node i
// (0, 1, 2) from extra.
func startCluster(t testing.TB, extra func(i int) []string) *Cluster {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatalf("redis-cli not found in PATH (it builds the cluster): %s", InstallHint)
	}
	c := &Cluster{}
	for i := range 3 {
		// The cluster bus listens on a port of its own; by default the data
		// port + 10000, which may be taken or above 65535, so pick a free one.
		bus, err := freePort()
		if err != nil {
			t.Fatalf("testutil: find a free port for the cluster bus: %v", err)
		}
		// StartRedis gives every server a directory of its own (--dir), so
		// the relative nodes.conf is one file per node.
		c.nodes = append(c.nodes, StartRedis(t, append([]string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-port", strconv.Itoa(bus),
			"--cluster-node-timeout", "2000"}, extra(i)...)...))
	}

	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, cli, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("testutil: redis-cli %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	if err := c.waitOK(clusterReadyWithin); err != nil {
		t.Fatalf("testutil: %v\nredis-cli output:\n%s", err, out.String())
	}
	return c
}

// waitOK polls CLUSTER INFO on every node until all say cluster_state:ok
// with every slot assigned and every node known.
func (c *Cluster) waitOK(within time.Duration) error {
	deadline := time.Now().Add(within)
	for _, n := range c.nodes {
		client := redis.NewClient(&redis.Options{Addr: n.Addr, DialTimeout: time.Second,
			ReadTimeout: time.Second, MaxRetries: -1})
		var last string
		for {
			info, err := client.ClusterInfo(context.Background()).Result()
			if err == nil {
				last = info
				if clusterField(info, "cluster_state") == "ok" &&
					clusterField(info, "cluster_slots_assigned") == "16384" &&
					clusterField(info, "cluster_known_nodes") == strconv.Itoa(len(c.nodes)) {
					break
				}
			} else {
				last = err.Error()
			}
			if time.Now().After(deadline) {
				_ = client.Close()
				return fmt.Errorf("cluster node %s not ready (cluster_state:ok, 16384 slots, %d nodes) within %v; last CLUSTER INFO: %s",
					n.Addr, len(c.nodes), within, strings.Join(strings.Fields(last), " "))
			}
			time.Sleep(20 * time.Millisecond) // polling other processes' progress
		}
		_ = client.Close()
	}
	return nil
}

// clusterField returns the value of name in CLUSTER INFO text.
func clusterField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}

// Addrs returns the host:port of every node, e.g. for
// redis.ClusterOptions.Addrs or a redis+cluster:// URL.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		addrs[i] = n.Addr
	}
	return addrs
}

// Nodes returns the cluster's redis-server processes (all masters).
func (c *Cluster) Nodes() []*Redis { return c.nodes }

// Client returns a go-redis cluster client seeded with every node, closed
// when the test ends.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// URL returns redis+cluster://addr1,addr2,addr3, the form store.Config
// accepts for a cluster.
func (c *Cluster) URL() string { return "redis+cluster://" + strings.Join(c.Addrs(), ",") }

// AssertEveryKeyHasTTL runs the package's AssertEveryKeyHasTTL on every
// node in turn (each through a *redis.Client of its own) and returns how
// many keys it checked in all. Use it rather than passing a ClusterClient
// to AssertEveryKeyHasTTL: ClusterClient.ForEachMaster runs its callbacks
// concurrently.
func (c *Cluster) AssertEveryKeyHasTTL(t testing.TB) int {
	t.Helper()
	n := 0
	for _, node := range c.nodes {
		client := redis.NewClient(&redis.Options{Addr: node.Addr})
		n += AssertEveryKeyHasTTL(t, client)
		_ = client.Close()
	}
	return n
}

// DBSizes returns the number of keys on each node, in Nodes order.
func (c *Cluster) DBSizes(ctx context.Context) ([]int64, error) {
	sizes := make([]int64, len(c.nodes))
	for i, node := range c.nodes {
		client := redis.NewClient(&redis.Options{Addr: node.Addr})
		n, err := client.DBSize(ctx).Result()
		_ = client.Close()
		if err != nil {
			return nil, fmt.Errorf("DBSIZE on %s: %w", node.Addr, err)
		}
		sizes[i] = n
	}
	return sizes, nil
}
