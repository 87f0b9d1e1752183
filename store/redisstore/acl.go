package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/floodgate-go/floodgate/core"
	"github.com/redis/go-redis/v9"
)

// commands are the Redis commands a Store sends, directly (PING from
// store.Open, EVALSHA, EVAL on NOSCRIPT, DEL for Reset) or from its
// scripts (gcra.lua, window.lua, block.lua, reserve.lua), in the order ACLRule lists
// them. TestCommandsCoverScripts keeps it in step with the scripts.
var commands = []string{"ping", "evalsha", "eval", "time", "get", "set", "pttl", "pexpire", "del",
	"lrange", "llen", "ltrim", "lpush", "rpush", "linsert"}

// Commands returns the Redis commands a Store needs the right to run, in
// lower case: those it sends and those its scripts call, plus PING (which
// store.Open sends). A fresh slice on every call.
func Commands() []string { return append([]string(nil), commands...) }

// ACLRule returns the least-privilege Redis ACL rule of a bot whose keys
// start with prefix + ":" (core.WithPrefix): its keys and its commands,
// nothing else, e.g. for prefix "floodgate":
//
//	resetkeys ~floodgate:* resetchannels -@all +ping +evalsha +eval +time +get +set +pttl +pexpire +del +lrange +llen +ltrim +lpush +rpush +linsert
//
// Use it as ACL SETUSER <user> on ><password> <rule>. A database other
// than 0 also needs +select; a cluster client needs +cluster|slots. The
// glob characters * ? [ ] \ in prefix are escaped.
func ACLRule(prefix string) string {
	var b strings.Builder
	b.WriteString("resetkeys ~")
	for i := 0; i < len(prefix); i++ {
		switch prefix[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(prefix[i])
	}
	b.WriteString(":* resetchannels -@all")
	for _, c := range commands {
		b.WriteString(" +")
		b.WriteString(c)
	}
	return b.String()
}

// PermissionError reports what the Redis user may not do that a Store
// needs. It wraps core.ErrMisconfigured.
type PermissionError struct {
	// Missing are the commands the user may not run (NOPERM, or a
	// command renamed away), lower case, in ACLRule's order.
	Missing []string
	// Unchecked are commands that were not tried because trying them
	// safely needs one in Missing (LPUSH and RPUSH create a key, which
	// needs PEXPIRE or DEL to go again); LINSERT too, which needs a list.
	Unchecked []string
	// Keys is set when the user may not touch the keys under the prefix
	// (its key patterns do not cover them).
	Keys bool
	// Prefix is the key prefix checked.
	Prefix string
}

// Error names the missing commands and key access, and the ACL rule a bot
// needs, e.g. "the Redis user may not run evalsha; a bot needs the ACL
// rule: …". It never contains a password.
func (e *PermissionError) Error() string {
	var what []string
	if len(e.Missing) > 0 {
		what = append(what, "may not run "+strings.Join(e.Missing, ", "))
	}
	if e.Keys {
		what = append(what, fmt.Sprintf("may not touch the keys %s:*", e.Prefix))
	}
	s := "the Redis user " + strings.Join(what, " and ")
	if len(e.Unchecked) > 0 {
		s += " (" + strings.Join(e.Unchecked, ", ") + " not checked)"
	}
	return s + "; a bot needs the ACL rule: " + ACLRule(e.Prefix)
}

// Unwrap returns core.ErrMisconfigured: a deployment fault.
func (e *PermissionError) Unwrap() error { return core.ErrMisconfigured }

// CheckPermissions verifies, before the bot takes traffic, that the
// client's Redis user may run every command the Store needs (Commands) on
// keys under prefix, by running each one on a probe key,
// <prefix>:{floodgate-probe}:probe (and the same with ":win"): PING,
// TIME, GET, SET with a one-second TTL, PTTL, PEXPIRE, LRANGE, LTRIM, EVAL
// and EVALSHA of the decision script (so it is loaded before the first
// decision), then LPUSH, RPUSH, LINSERT, and DEL of both keys. It takes two round
// trips and leaves no key without a TTL.
//
// It returns nil when everything passed, a *PermissionError naming every
// command refused (NOPERM, or unknown: renamed away) and whether the keys
// are out of the user's reach, or another error when Redis did not
// answer. Other error replies (OOM, LOADING) are not permission faults
// and are left to the decisions.
func (s *Store) CheckPermissions(ctx context.Context, prefix string) error {
	key := prefix + ":{floodgate-probe}:probe"
	list := key + ":win"
	// A probe looks (apply "0"), so it writes nothing but loads the script.
	probeArgs := []any{1_000_000, 1, 1, "0", ""}
	pe := &PermissionError{Prefix: prefix}
	pipe := s.client.Pipeline()
	first := map[string]redis.Cmder{
		"ping":    pipe.Ping(ctx),
		"time":    pipe.Time(ctx),
		"get":     pipe.Get(ctx, key),
		"set":     pipe.Set(ctx, key, "0", 1_000_000_000),
		"pttl":    pipe.PTTL(ctx, key),
		"pexpire": pipe.PExpire(ctx, key, 1_000_000_000),
		"lrange":  pipe.LRange(ctx, list, 0, 0),
		"llen":    pipe.LLen(ctx, list),
		"ltrim":   pipe.LTrim(ctx, list, 0, -1),
		"eval":    pipe.Eval(ctx, gcraSource, []string{key}, probeArgs...),
		"evalsha": pipe.EvalSha(ctx, gcra.Hash(), []string{key}, probeArgs...),
	}
	if _, err := pipe.Exec(ctx); err != nil && !isReply(err) {
		return fmt.Errorf("redisstore: check permissions: %w", err)
	}
	refused := map[string]bool{}
	for name, cmd := range first {
		if err := cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
			classify(pe, refused, name, err)
		}
	}

	// LPUSH and RPUSH create the list: try them only when it can be
	// removed again.
	canExpire := !refused["pexpire"]
	pipe = s.client.Pipeline()
	second := map[string]redis.Cmder{}
	if canExpire {
		second["lpush"] = pipe.LPush(ctx, list, "0")
		second["rpush"] = pipe.RPush(ctx, list, "0")
		second["linsert"] = pipe.LInsertBefore(ctx, list, "0", "0")
		pipe.PExpire(ctx, list, 1_000_000_000)
	}
	second["del"] = pipe.Del(ctx, key, list)
	if _, err := pipe.Exec(ctx); err != nil && !isReply(err) {
		return fmt.Errorf("redisstore: check permissions: %w", err)
	}
	for name, cmd := range second {
		if err := cmd.Err(); err != nil {
			classify(pe, refused, name, err)
		}
	}
	if !canExpire && !refused["del"] {
		pipe = s.client.Pipeline()
		second = map[string]redis.Cmder{"lpush": pipe.LPush(ctx, list, "0"), "rpush": pipe.RPush(ctx, list, "0"),
			"linsert": pipe.LInsertBefore(ctx, list, "0", "0")}
		pipe.Del(ctx, list)
		if _, err := pipe.Exec(ctx); err != nil && !isReply(err) {
			return fmt.Errorf("redisstore: check permissions: %w", err)
		}
		for name, cmd := range second {
			if err := cmd.Err(); err != nil {
				classify(pe, refused, name, err)
			}
		}
	} else if !canExpire {
		pe.Unchecked = []string{"lpush", "rpush", "linsert"}
	}

	for _, c := range commands {
		if refused[c] {
			pe.Missing = append(pe.Missing, c)
		}
	}
	if len(pe.Missing) == 0 && !pe.Keys {
		return nil
	}
	return pe
}

// classify records err, the reply of command name in a permission probe.
func classify(pe *PermissionError, refused map[string]bool, name string, err error) {
	msg := err.Error()
	// The reply names the command refused: a script's reply may be about
	// a command the script called, which its own probe reports.
	named := strings.Contains(msg, "'"+name+"'")
	switch {
	case strings.HasPrefix(msg, "NOPERM") && strings.Contains(msg, "access"):
		pe.Keys = true // "no permissions to access one of the keys"
	case named && (strings.HasPrefix(msg, "NOPERM") || strings.HasPrefix(msg, "ERR unknown command")):
		refused[name] = true
	}
}

// isReply reports whether err is an error reply of Redis (one command's
// fault), not a failure of the connection.
func isReply(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr)
}

// MaxmemoryPolicy returns the server's maxmemory-policy and maxmemory (in
// bytes, 0 for no limit), from CONFIG GET or, where CONFIG is not
// permitted (managed Redis often refuses it), from INFO memory. It returns
// "" and no error when neither is permitted. On a cluster client, c is one
// node: ask each master (ForEachMaster) for the whole picture.
func MaxmemoryPolicy(ctx context.Context, c redis.Cmdable) (policy string, maxmemory int64, err error) {
	kv, err := c.ConfigGet(ctx, "maxmemory*").Result()
	if err == nil {
		n, _ := strconv.ParseInt(kv["maxmemory"], 10, 64)
		return kv["maxmemory-policy"], n, nil
	}
	if !isReply(err) {
		return "", 0, err
	}
	info, err := c.Info(ctx, "memory").Result()
	if err != nil {
		if isReply(err) {
			return "", 0, nil
		}
		return "", 0, err
	}
	for _, l := range strings.Split(info, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(l), ":")
		switch k {
		case "maxmemory_policy":
			policy = v
		case "maxmemory":
			maxmemory, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return policy, maxmemory, nil
}

// EvictionProblem explains what policy (a maxmemory-policy) does to a
// limiter's keys, or returns "" for noeviction and for "" (unknown). Every
// other policy evicts them under memory pressure: floodgate's keys all
// have a TTL, so the volatile-* policies pick them too. An evicted key is
// a user with a full budget again: limits, penalty blocks and 429 pauses
// are lifted without a trace.
func EvictionProblem(policy string) string {
	if policy == "" || policy == "noeviction" {
		return ""
	}
	return fmt.Sprintf("maxmemory-policy is %s: under memory pressure Redis evicts floodgate's keys, and each "+
		"evicted key lifts a limit, a penalty block or a 429 pause at once; use noeviction on a dedicated "+
		"database or instance (a full Redis then fails decisions, which the failure policy decides)", policy)
}
