package main

import (
	"context"
	"errors"
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

// checkRule is the rule of check's throw-away keys:
// "<prefix>:{g}:floodgate-check" under GCRA and, as core.Limiter.Key names
// a sliding window's key, "<prefix>:{g}:floodgate-check:win".
const checkRule = "floodgate-check"

// checkLimit is the limit of check's GCRA test decision: the key lives at
// most one second.
var checkLimit = core.Every(time.Second)

// checkWindowLimit is the limit of check's sliding-window test decision:
// the list lives at most one second.
var checkWindowLimit = core.Window(1, time.Second)

// check reports the configuration, PING round trips, each node's version
// and role and whether it has the decision scripts (GCRA and sliding
// window), the cluster's slot coverage, and two test decisions on
// throw-away keys, each of which must have a TTL: one under GCRA (a string
// key) and one under a sliding window (a list key, as "20/m window" limits
// and outbound lanes write). It prints every line it can, and fails (exit
// 1) when Redis does not answer or a line says something is wrong (a
// replica, a cluster not ok, a decision that did not go through, a key
// without TTL).
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

	// What the CLI needs besides: a refusal is noted, and the rest of
	// the check goes on without what it would have read.
	denied := map[string]bool{}
	refused := func(cmd string, err error) bool {
		if err != nil && redis.HasErrorPrefix(err, "NOPERM") {
			denied[cmd] = true
			return true
		}
		return false
	}
	if err := c.client.Scan(ctx, 0, globEscape(c.cfg.Prefix)+":{floodgate-probe}*", 1).Err(); err != nil && !refused("scan", err) {
		return fmt.Errorf("SCAN: %w", err)
	}

	_, isCluster := c.client.(*redis.ClusterClient)
	type node struct {
		addr, version, role, mode string
		script, windowScript      bool
		scriptsKnown              bool
		policy                    string
		maxmemory                 int64
	}
	var (
		mu    sync.Mutex
		nodes []node
	)
	err := forEachNode(ctx, c.client, func(ctx context.Context, cl *redis.Client) error {
		n := node{addr: cl.Options().Addr, version: "?", role: "?", mode: "?"}
		info, err := cl.Info(ctx).Result() // the default sections: server and replication among them
		mu.Lock()
		isRefused := refused("info", err)
		mu.Unlock()
		if err != nil && !isRefused {
			return fmt.Errorf("INFO on %s: %w", n.addr, err)
		}
		if err == nil {
			n.version, n.role, n.mode = infoField(info, "redis_version"), infoField(info, "role"), infoField(info, "redis_mode")
		}
		loaded, err := cl.ScriptExists(ctx, redisstore.ScriptSHA(), redisstore.WindowScriptSHA()).Result()
		mu.Lock()
		isRefused = refused("script|exists", err)
		mu.Unlock()
		switch {
		case err != nil && !isRefused:
			return fmt.Errorf("SCRIPT EXISTS on %s: %w", n.addr, err)
		case err == nil && len(loaded) != 2:
			return fmt.Errorf("SCRIPT EXISTS on %s: %d answers for 2 scripts", n.addr, len(loaded))
		case err == nil:
			n.script, n.windowScript, n.scriptsKnown = loaded[0], loaded[1], true
		}
		if n.policy, n.maxmemory, err = redisstore.MaxmemoryPolicy(ctx, cl); err != nil {
			return fmt.Errorf("maxmemory-policy on %s: %w", n.addr, err)
		}
		mu.Lock()
		defer mu.Unlock()
		nodes = append(nodes, n)
		return nil
	})
	if err != nil {
		return err
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].addr < nodes[j].addr })
	scripts, windowScripts, known := 0, 0, 0
	for _, n := range nodes {
		s := fmt.Sprintf("%s: redis %s, role %s", n.addr, n.version, n.role)
		if n.role != "master" && n.role != "?" {
			s += "; " + problem("%s is a %s: decisions write, so the bots must reach the master", n.addr, n.role)
		}
		if !isCluster && n.mode == "cluster" {
			s += "; " + problem("%s runs in cluster mode: use a redis+cluster:// URL", n.addr)
		}
		line(w, "server", "%s", s)
		switch p := redisstore.EvictionProblem(n.policy); {
		case n.policy == "":
			line(w, "eviction", "%s: unknown (neither CONFIG GET nor INFO is permitted): make sure maxmemory-policy "+
				"is noeviction", n.addr)
		case p != "":
			line(w, "eviction", "%s: %s", n.addr, problem("%s: %s", n.addr, p))
		default:
			line(w, "eviction", "%s: maxmemory-policy %s (maxmemory %d): floodgate's keys are never evicted", n.addr,
				n.policy, n.maxmemory)
		}
		if n.scriptsKnown {
			known++
		}
		if n.script {
			scripts++
		}
		if n.windowScript {
			windowScripts++
		}
	}
	if known == len(nodes) {
		line(w, "script", "%s; window script %s", scriptState(scripts, len(nodes), isCluster, redisstore.ScriptSHA()),
			scriptState(windowScripts, len(nodes), isCluster, redisstore.WindowScriptSHA()))
	} else {
		line(w, "script", "unknown: SCRIPT EXISTS is not permitted")
	}

	// The bots' permissions: every command they need, on their keys (after
	// SCRIPT EXISTS: the probe loads the decision script).
	var pe *redisstore.PermissionError
	switch err := c.rs.CheckPermissions(ctx, c.cfg.Prefix); {
	case errors.As(err, &pe):
		line(w, "permissions", "%s", problem("%v", pe))
	case err != nil:
		return fmt.Errorf("check permissions: %w", err)
	default:
		line(w, "permissions", "ok: the Redis user may run %s on %s:*", strings.Join(redisstore.Commands(), " "),
			c.cfg.Prefix)
	}
	if cc, ok := c.client.(*redis.ClusterClient); !ok {
		line(w, "cluster", "standalone")
	} else if info, err := cc.ClusterInfo(ctx).Result(); refused("cluster|info", err) {
		line(w, "cluster", "unknown: CLUSTER INFO is not permitted")
	} else if err != nil {
		return fmt.Errorf("CLUSTER INFO: %w", err)
	} else {
		state, assigned, ok := infoField(info, "cluster_state"), infoField(info, "cluster_slots_assigned"),
			infoField(info, "cluster_slots_ok")
		s := fmt.Sprintf("cluster_state:%s, %s of 16384 slots assigned, %s ok, %d masters", state, assigned, ok, len(nodes))
		if state != "ok" || assigned != "16384" || ok != "16384" {
			s += "; " + problem("the cluster does not serve every slot: decisions for some keys fail")
		}
		line(w, "cluster", "%s", s)
	}

	for _, p := range []struct {
		label string
		limit core.Limit
	}{{"decision", checkLimit}, {"window", checkWindowLimit}} {
		s, err := c.testDecision(ctx, p.limit, problem)
		if err != nil {
			return err
		}
		line(w, p.label, "%s", s)
	}

	if len(denied) > 0 {
		var cmds []string
		for cmd := range denied {
			cmds = append(cmds, cmd)
		}
		sort.Strings(cmds)
		line(w, "cli access", "%s", problem("the Redis user may not run %s, which this command reads with; the CLI "+
			"needs the ACL rule: %s", strings.Join(cmds, ", "), cliACLRule(c.cfg.Prefix, isCluster)))
	}
	if len(problems) > 0 {
		line(w, "result", "%d problem(s)", len(problems))
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	line(w, "result", "ok")
	return nil
}

// cliACLRule is the ACL rule of an operator's user for the CLI: the bots'
// (reset deletes keys, check decides) plus what status, top and check
// read with. CONFIG GET is optional: check reads the eviction policy from
// INFO when CONFIG is refused.
func cliACLRule(prefix string, cluster bool) string {
	r := redisstore.ACLRule(prefix) + " +info +script|exists +scan"
	if cluster {
		r += " +cluster|info +cluster|slots"
	}
	return r
}

// scriptState says whether a script is loaded on the loaded of nodes nodes.
func scriptState(loaded, nodes int, isCluster bool, sha string) string {
	switch {
	case loaded == nodes && !isCluster:
		return fmt.Sprintf("loaded (SCRIPT EXISTS %s)", sha)
	case loaded == nodes:
		return fmt.Sprintf("loaded on all %d masters (SCRIPT EXISTS %s)", nodes, sha)
	case !isCluster:
		return fmt.Sprintf("not loaded (SCRIPT EXISTS %s): the first decision loads it with EVAL", sha)
	}
	return fmt.Sprintf("loaded on %d of %d masters (SCRIPT EXISTS %s): the first decision on a node loads it with EVAL",
		loaded, nodes, sha)
}

// testDecision makes one decision under limit on the check rule's global
// key through the bare Redis store (so that an error shows as one rather
// than as a decision of the failure policy), and reads the key back with
// Inspect: every key floodgate writes must have a TTL and hold a state the
// store reads as valid. It returns the report line; what is wrong goes
// through problem.
func (c *cli) testDecision(ctx context.Context, limit core.Limit, problem func(string, ...any) string) (string, error) {
	lim, err := core.New(c.rs, limit, core.WithPrefix(c.cfg.Prefix))
	if err != nil {
		return "", err
	}
	if lim, err = lim.Rule(checkRule, limit); err != nil {
		return "", err
	}
	key := lim.Key(core.Global())
	start := time.Now()
	res, err := lim.Take(ctx, core.Global(), 1)
	took := time.Since(start)
	if err != nil {
		return problem("test decision on %s: %v", key, err), nil
	}
	states, err := c.rs.Inspect(ctx, limit, key)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", key, err)
	}
	st := states[0]
	verdict := "allowed"
	if !res.Allowed {
		verdict = fmt.Sprintf("denied (another check within %v, retry after %v)", limit.Period, res.RetryAfter)
	}
	s := fmt.Sprintf("%s in %v on %s (limit %v), TTL %s", verdict, took.Round(time.Microsecond), key,
		limit, formatTTL(st))
	switch {
	case st.Foreign:
		s += "; " + problem("the test key holds no valid state right after the decision wrote it")
	case st.Exists && st.TTL < 0:
		s += "; " + problem("the test key has no TTL")
	}
	return s, nil
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
