package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/store/redisstore"
	"github.com/redis/go-redis/v9"
)

// check reports connectivity, the server, whether the decision script is
// loaded, the cluster's slots, the configuration, and the result of one
// test decision. It fails (exit 1) if Redis does not answer or the test
// decision does not come from Redis.
func (c *cli) check(ctx context.Context) error {
	w := c.stdout
	line(w, "config", "%v", c.cfg)

	var rtts []time.Duration
	for i := 0; i < 5; i++ {
		start := time.Now()
		if err := c.client.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("PING: %w", err)
		}
		rtts = append(rtts, time.Since(start))
	}
	lo, hi, sum := rtts[0], rtts[0], time.Duration(0)
	for _, d := range rtts {
		lo, hi, sum = min(lo, d), max(hi, d), sum+d
	}
	line(w, "ping", "min %v, avg %v, max %v over %d round trips", lo.Round(time.Microsecond),
		(sum / time.Duration(len(rtts))).Round(time.Microsecond), hi.Round(time.Microsecond), len(rtts))

	var nodes []string
	err := forEachNode(ctx, c.client, func(ctx context.Context, node *redis.Client) error {
		server, err := node.Info(ctx, "server", "replication").Result()
		if err != nil {
			return err
		}
		loaded, err := node.ScriptExists(ctx, redisstore.ScriptSHA()).Result()
		if err != nil {
			return err
		}
		script := "not loaded yet (the first decision loads it)"
		if len(loaded) == 1 && loaded[0] {
			script = "loaded"
		}
		nodes = append(nodes, fmt.Sprintf("%s: redis %s, role %s, decision script %s",
			node.Options().Addr, infoField(server, "redis_version"), infoField(server, "role"), script))
		return nil
	})
	if err != nil {
		return err
	}
	for _, n := range nodes {
		line(w, "server", "%s", n)
	}

	if cc, ok := c.client.(*redis.ClusterClient); ok {
		info, err := cc.ClusterInfo(ctx).Result()
		if err != nil {
			return fmt.Errorf("CLUSTER INFO: %w", err)
		}
		line(w, "cluster", "state %s, %s of 16384 slots assigned, %s known nodes",
			infoField(info, "cluster_state"), infoField(info, "cluster_slots_assigned"), infoField(info, "cluster_known_nodes"))
	} else {
		line(w, "cluster", "no (one server)")
	}

	probe, err := c.lim.Rule("floodgate-check", core.Every(time.Second))
	if err != nil {
		return err
	}
	res, err := probe.Take(ctx, core.Global(), 1)
	if err != nil {
		return fmt.Errorf("test decision: %w", err)
	}
	key := probe.Key(core.Global())
	pttl, err := c.client.PTTL(ctx, key).Result()
	if err != nil {
		return fmt.Errorf("test decision: PTTL %s: %w", key, err)
	}
	line(w, "decision", "on %s: allowed=%v from %v, key TTL %s", key, res.Allowed, res.Source, formatPTTL(pttl))
	if res.Source != core.SourceStore {
		return errors.New("the test decision did not come from Redis")
	}
	line(w, "result", "ok")
	return nil
}

// checkMemory is check for the memory backend: there is no server.
func (c *cli) checkMemory() int {
	line(c.stdout, "config", "%v", c.cfg)
	line(c.stdout, "store", "memory: it lives inside each bot process, so there is nothing to reach from here;"+
		" each instance limits on its own")
	return exitOK
}

// infoField returns the value of name in an INFO or CLUSTER INFO reply.
func infoField(info, name string) string {
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), name+":"); ok {
			return v
		}
	}
	return "?"
}
