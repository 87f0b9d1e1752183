package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/store/redisstore"
	"github.com/redis/go-redis/v9"
)

// pings is how many PING round trips check measures.
const pings = 5

// checkRule is the rule of check's throw-away key, "<prefix>:{g}:floodgate-check".
const checkRule = "floodgate-check"

// checkLimit is the limit of check's test decision: the key lives at most
// one second.
var checkLimit = core.Every(time.Second)

// check reports the configuration, PING round trips, each node's version
// and role and whether it has the decision script, the cluster's slot
// coverage, and one test decision on a throw-away key with a TTL. It prints
// every line it can, and fails (exit 1) when Redis does not answer or a
// line says something is wrong (a replica, a cluster not ok, a decision
// that did not go through, a key without TTL).
func (c *cli) check(ctx context.Context) error {
	w := c.stdout
	var problems []string
	problem := func(format string, args ...any) string {
		p := fmt.Sprintf(format, args...)
		problems = append(problems, p)
		return "PROBLEM: " + p
	}
	line(w, "config", "%v", c.cfg)

	var rtts []time.Duration
	for range pings {
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

	_, isCluster := c.client.(*redis.ClusterClient)
	type node struct {
		addr, version, role, mode string
		script                    bool
	}
	var (
		mu    sync.Mutex
		nodes []node
	)
	err := forEachNode(ctx, c.client, func(ctx context.Context, cl *redis.Client) error {
		info, err := cl.Info(ctx).Result() // the default sections: server and replication among them
		if err != nil {
			return fmt.Errorf("INFO on %s: %w", cl.Options().Addr, err)
		}
		loaded, err := cl.ScriptExists(ctx, redisstore.ScriptSHA()).Result()
		if err != nil {
			return fmt.Errorf("SCRIPT EXISTS on %s: %w", cl.Options().Addr, err)
		}
		mu.Lock()
		defer mu.Unlock()
		nodes = append(nodes, node{addr: cl.Options().Addr, version: infoField(info, "redis_version"),
			role: infoField(info, "role"), mode: infoField(info, "redis_mode"), script: len(loaded) == 1 && loaded[0]})
		return nil
	})
	if err != nil {
		return err
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].addr < nodes[j].addr })
	scripts := 0
	for _, n := range nodes {
		s := fmt.Sprintf("%s: redis %s, role %s", n.addr, n.version, n.role)
		if n.role != "master" {
			s += "; " + problem("%s is a %s: decisions write, so the bots must reach the master", n.addr, n.role)
		}
		if !isCluster && n.mode == "cluster" {
			s += "; " + problem("%s runs in cluster mode: use a redis+cluster:// URL", n.addr)
		}
		line(w, "server", "%s", s)
		if n.script {
			scripts++
		}
	}
	sha := redisstore.ScriptSHA()
	switch {
	case scripts == len(nodes) && !isCluster:
		line(w, "script", "loaded (SCRIPT EXISTS %s)", sha)
	case scripts == len(nodes):
		line(w, "script", "loaded on all %d masters (SCRIPT EXISTS %s)", len(nodes), sha)
	case !isCluster:
		line(w, "script", "not loaded (SCRIPT EXISTS %s): the first decision loads it with EVAL", sha)
	default:
		line(w, "script", "loaded on %d of %d masters (SCRIPT EXISTS %s): the first decision on a node loads it with EVAL",
			scripts, len(nodes), sha)
	}

	if cc, ok := c.client.(*redis.ClusterClient); ok {
		info, err := cc.ClusterInfo(ctx).Result()
		if err != nil {
			return fmt.Errorf("CLUSTER INFO: %w", err)
		}
		state, assigned, ok := infoField(info, "cluster_state"), infoField(info, "cluster_slots_assigned"),
			infoField(info, "cluster_slots_ok")
		s := fmt.Sprintf("cluster_state:%s, %s of 16384 slots assigned, %s ok, %d masters", state, assigned, ok, len(nodes))
		if state != "ok" || assigned != "16384" || ok != "16384" {
			s += "; " + problem("the cluster does not serve every slot: decisions for some keys fail")
		}
		line(w, "cluster", "%s", s)
	} else {
		line(w, "cluster", "standalone")
	}

	probe, err := c.lim.Rule(checkRule, checkLimit)
	if err != nil {
		return err
	}
	key := probe.Key(core.Global())
	start := time.Now()
	// The store itself, not the Limiter, so that an error shows as one
	// rather than as a decision of the failure policy.
	res, err := c.opened.Take(ctx, key, checkLimit, 1)
	took := time.Since(start)
	if err != nil {
		line(w, "decision", "%s", problem("test decision on %s: %v", key, err))
	} else {
		pttl, err := c.client.PTTL(ctx, key).Result()
		if err != nil {
			return fmt.Errorf("PTTL %s: %w", key, err)
		}
		verdict := "allowed"
		if !res.Allowed {
			verdict = fmt.Sprintf("denied (another check within %v, retry after %v)", checkLimit.Period, res.RetryAfter)
		}
		s := fmt.Sprintf("%s in %v on %s (limit %v), PTTL %s", verdict, took.Round(time.Microsecond), key,
			checkLimit, formatPTTL(pttl))
		if pttl <= 0 && pttl != -2 { // -2: it expired already
			s += "; " + problem("the test key has no TTL")
		}
		line(w, "decision", "%s", s)
	}

	if len(problems) > 0 {
		line(w, "result", "%d problem(s)", len(problems))
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	line(w, "result", "ok")
	return nil
}

// checkMemory is check for the memory backend: there is no server.
func (c *cli) checkMemory() int {
	line(c.stdout, "config", "%v", c.cfg)
	line(c.stdout, "store", "memory: it lives inside each bot process, so there is nothing to reach from here; "+
		"each instance limits on its own (status, reset and top need the Redis store)")
	line(c.stdout, "result", "ok")
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
