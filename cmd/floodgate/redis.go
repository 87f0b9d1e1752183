package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/store/redisstore"
	"github.com/redis/go-redis/v9"
)

// forEachNode runs fn on every node that holds keys: each master of a
// cluster (concurrently, as redis.ClusterClient.ForEachMaster does), or the
// one server (a standalone or Sentinel failover client).
func forEachNode(ctx context.Context, c redis.UniversalClient, fn func(context.Context, *redis.Client) error) error {
	switch c := c.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, fn)
	case *redis.Client:
		return fn(ctx, c)
	}
	return fmt.Errorf("unsupported Redis client %T", c)
}

// keyShape is how lim names keys: head + "{" + scope + "}" + tail, e.g.
// "floodgate:" and ":msg", or ":msg:win" under a sliding window. It is
// read off the key lim gives the global scope, so the CLI follows
// core.Limiter.Key rather than repeating its layout.
type keyShape struct{ head, tail string }

func shapeOf(lim *core.Limiter) keyShape {
	// The prefix holds no brace (core.ValidatePrefix), so the first "{g}"
	// is the hash tag.
	head, tail, _ := strings.Cut(lim.Key(core.Global()), "{g}")
	return keyShape{head: head, tail: tail}
}

// match is the SCAN MATCH pattern of every key of the shape.
func (k keyShape) match() string { return k.matchScope("*") }

// matchScope is the SCAN MATCH pattern of the keys of the shape whose
// scope matches inner, a pattern of what goes between the braces.
func (k keyShape) matchScope(inner string) string {
	return globEscape(k.head) + "{" + inner + "}" + globEscape(k.tail)
}

// globEscape escapes the characters SCAN's MATCH treats specially, so a
// prefix such as "bot*1" matches only itself.
func globEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// scopeOf returns the scope in key, a key of shape k, in words: "user 42",
// "chat -100123", "user 42 in chat -100123", "sender chat -100123",
// "global"; anything else is "unknown scope {...}". Only canonical forms
// are recognised (what core.Scope writes).
func (k keyShape) scopeOf(key string) string {
	inner, ok := strings.CutPrefix(key, k.head+"{")
	if ok {
		inner, ok = strings.CutSuffix(inner, "}"+k.tail)
	}
	if !ok {
		return "unknown scope"
	}
	unknown := "unknown scope " + quote("{"+inner+"}")
	if inner == "g" {
		return "global"
	}
	kind, ids, ok := strings.Cut(inner, ":")
	if !ok {
		return unknown
	}
	num := func(s string) (int64, bool) {
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil && strconv.FormatInt(n, 10) == s
	}
	switch kind {
	case "u", "c", "s":
		id, ok := num(ids)
		if !ok {
			return unknown
		}
		return map[string]string{"u": "user ", "c": "chat ", "s": "sender chat "}[kind] + strconv.FormatInt(id, 10)
	case "uc":
		u, c, ok := strings.Cut(ids, ":")
		uid, ok1 := num(u)
		cid, ok2 := num(c)
		if !ok || !ok1 || !ok2 {
			return unknown
		}
		return fmt.Sprintf("user %d in chat %d", uid, cid)
	}
	return unknown
}

// otherAlgorithm returns l under the other algorithm, with the same rate
// and period (a sliding window for a GCRA limit, GCRA for a window), or
// false if that is no valid limit. Its keys are where the bots keep their
// state if the limit the CLI was given has the wrong algorithm.
func otherAlgorithm(l core.Limit) (core.Limit, bool) {
	o := core.Window(l.Rate, l.Period)
	if l.Algorithm == core.SlidingWindow {
		o = core.Limit{Rate: l.Rate, Period: l.Period, Burst: l.Rate}
	}
	return o, o.Validate() == nil
}

// foreign explains a key that holds no valid state for l.
func foreign(l core.Limit) string {
	return fmt.Sprintf("the key holds no valid state for %v (another Redis type, or a corrupt value): "+
		"it reads as absent, and the bots' next decision on it overwrites it", l)
}

// blocked reports whether a denial waits longer than its limit alone can
// make an event of cost 1 wait (one interval under GCRA, one period under
// a sliding window): the key holds a Block, a guard penalty or a ban.
func blocked(res core.Result) bool {
	longest := res.Limit.Interval()
	if res.Limit.Algorithm == core.SlidingWindow {
		longest = res.Limit.Period
	}
	return !res.Allowed && res.RetryAfter > longest
}

// formatTTL says what a key's time to live means.
func formatTTL(st redisstore.State) string {
	switch {
	case !st.Exists:
		return "none (no key)"
	case st.TTL < 0:
		return "NONE: the key has no time to live (floodgate never writes such a key; its next write sets one)"
	}
	return st.TTL.String()
}

// formatTime writes t as UTC with µs, after its µs since the epoch.
func formatTime(t time.Time) string {
	return fmt.Sprintf("%d µs = %s", t.UnixMicro(), t.UTC().Format("2006-01-02T15:04:05.000000Z"))
}
