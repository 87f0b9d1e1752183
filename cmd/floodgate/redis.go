package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/floodgate-go/floodgate/core"
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

// nodeForKey returns the client of the node that holds key.
func nodeForKey(ctx context.Context, c redis.UniversalClient, key string) (*redis.Client, error) {
	switch c := c.(type) {
	case *redis.ClusterClient:
		return c.MasterForKey(ctx, key)
	case *redis.Client:
		return c, nil
	}
	return nil, fmt.Errorf("unsupported Redis client %T", c)
}

// rawState is what Redis holds for one key, read on the key's own node.
type rawState struct {
	kind   string        // TYPE: "none" (no key), "string", "list", or another type
	value  string        // a string key's value (a GCRA key's TAT)
	times  []string      // a list key's newest Rate elements, OLDEST first (a sliding window's times)
	length int64         // a list key's LLEN (more than Rate: the list was written under another limit)
	pttl   time.Duration // -1ns: no TTL; -2ns: no key (go-redis' encoding)
	now    int64         // the node's TIME in µs, read just before the key
}

// readRaw reads key's type, value and PTTL, and the node's TIME, in one
// round trip to the node that holds it. The value is read as l keeps it: a
// GCRA key with GET, a sliding-window key with LRANGE key 0 Rate-1 (the
// newest Rate times, as window.lua reads them) and LLEN. A key of another
// type has kind set and no value; wrongType says what that means.
func readRaw(ctx context.Context, c redis.UniversalClient, key string, l core.Limit) (rawState, error) {
	node, err := nodeForKey(ctx, c, key)
	if err != nil {
		return rawState{}, err
	}
	pipe := node.Pipeline()
	tm := pipe.Time(ctx)
	typ := pipe.Type(ctx, key)
	var (
		get    *redis.StringCmd
		lrange *redis.StringSliceCmd
		llen   *redis.IntCmd
	)
	if l.Algorithm == core.SlidingWindow {
		lrange = pipe.LRange(ctx, key, 0, int64(l.Rate)-1)
		llen = pipe.LLen(ctx, key)
	} else {
		get = pipe.Get(ctx, key)
	}
	pttl := pipe.PTTL(ctx, key)
	// A key of the wrong type fails its GET or LRANGE alone (WRONGTYPE):
	// look at each reply rather than at Exec's first error.
	_, _ = pipe.Exec(ctx)
	var st rawState
	if err := tm.Err(); err != nil {
		return rawState{}, err
	}
	st.now = tm.Val().UnixMicro()
	if st.kind, err = typ.Result(); err != nil {
		return rawState{}, err
	}
	if st.pttl, err = pttl.Result(); err != nil {
		return rawState{}, err
	}
	if st.kind != expectedType(l) {
		return st, nil
	}
	if get != nil {
		switch st.value, err = get.Result(); {
		case errors.Is(err, redis.Nil): // expired since TYPE
			st.kind = "none"
		case err != nil:
			return rawState{}, err
		}
		return st, nil
	}
	newestFirst, err := lrange.Result()
	if err != nil {
		return rawState{}, err
	}
	if st.length, err = llen.Result(); err != nil {
		return rawState{}, err
	}
	st.times = oldestFirst(newestFirst)
	return st, nil
}

// expectedType is the Redis type of a key kept under l: a GCRA key is a
// string (its TAT), a sliding-window key a list (its events' times).
func expectedType(l core.Limit) string {
	if l.Algorithm == core.SlidingWindow {
		return "list"
	}
	return "string"
}

// wrongType explains a key of type kind (neither "none" nor
// expectedType(l)) under the limit l: most often the limit given to the
// CLI is not the one the bots use.
func wrongType(kind string, l core.Limit) string {
	switch {
	case kind == "list" && l.Algorithm != core.SlidingWindow:
		return fmt.Sprintf("key holds a list: is FLOODGATE_LIMIT (or -limit) a sliding window, e.g. %q? "+
			"Under %v (GCRA) a key is a string holding a TAT", windowOf(l), l)
	case kind == "string" && l.Algorithm == core.SlidingWindow:
		return fmt.Sprintf("key holds a string: is FLOODGATE_LIMIT (or -limit) a GCRA limit, without \"window\"? "+
			"Under %v a key is a list of event times", l)
	}
	return fmt.Sprintf("key holds a %s: not a floodgate key (a GCRA key is a string, a sliding-window key a list)", kind)
}

// windowOf is l written as a sliding window ("20/m window"), for messages.
func windowOf(l core.Limit) string {
	w := core.Window(l.Rate, l.Period)
	return w.String()
}

// oldestFirst returns a copy of a list read newest first (LRANGE of a
// sliding-window key) in the opposite order, as core.DecideWindow takes it.
func oldestFirst(newestFirst []string) []string {
	out := make([]string, len(newestFirst))
	for i, v := range newestFirst {
		out[len(out)-1-i] = v
	}
	return out
}

// parseTimes reads a sliding-window key's elements (µs, oldest first). It
// fails on the first element that is not an integer.
func parseTimes(elems []string) ([]int64, error) {
	times := make([]int64, len(elems))
	for i, e := range elems {
		t, err := strconv.ParseInt(e, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("list element %q is not a time in µs", e)
		}
		times[i] = t
	}
	return times, nil
}

// isWrongType reports whether err is Redis' WRONGTYPE reply: the command
// does not apply to the key's type.
func isWrongType(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "WRONGTYPE")
}

// formatPTTL says what a PTTL reply means.
func formatPTTL(d time.Duration) string {
	switch {
	case d == -2: // go-redis returns -2 and -1 unscaled
		return "none (no key)"
	case d == -1:
		return "NONE: the key has no time to live (floodgate never writes such a key)"
	case d < 0:
		return strconv.FormatInt(int64(d), 10)
	}
	return d.String()
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

// scopeOf returns the scope in key ("<prefix>:{<scope>}:<rule>") in words:
// "user 42", "chat -100123", "user 42 in chat -100123", "sender chat
// -100123", "global"; anything else is "unknown scope {...}". Only
// canonical forms are recognised (what core.Limiter.Key writes).
func scopeOf(key, prefix, rule string) string {
	inner, ok := strings.CutPrefix(key, prefix+":{")
	if ok {
		inner, ok = strings.CutSuffix(inner, "}:"+rule)
	}
	if !ok {
		return "unknown scope"
	}
	unknown := "unknown scope {" + inner + "}"
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
