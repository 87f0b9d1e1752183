package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

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
	exists bool
	value  string        // the stored value (the TAT) when exists
	pttl   time.Duration // -1ns: no TTL; -2ns: no key (go-redis' encoding)
	now    int64         // the node's TIME in µs, read just before the key
}

// readRaw reads key's value and PTTL, and the node's TIME, in one round trip
// to the node that holds it.
func readRaw(ctx context.Context, c redis.UniversalClient, key string) (rawState, error) {
	node, err := nodeForKey(ctx, c, key)
	if err != nil {
		return rawState{}, err
	}
	pipe := node.Pipeline()
	tm := pipe.Time(ctx)
	get := pipe.Get(ctx, key)
	pttl := pipe.PTTL(ctx, key)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return rawState{}, err
	}
	var st rawState
	st.now = tm.Val().UnixMicro()
	switch v, err := get.Result(); {
	case err == nil:
		st.exists, st.value = true, v
	case !errors.Is(err, redis.Nil):
		return rawState{}, err
	}
	if st.pttl, err = pttl.Result(); err != nil {
		return rawState{}, err
	}
	return st, nil
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
