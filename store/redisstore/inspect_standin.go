package redisstore

// TEMPORARY STAND-IN, owned by branch h-cli: the real Inspect is being
// written on branch h-redis with exactly this API. cmd/floodgate codes
// against it; this file is deleted before h-cli is merged, and nothing
// else may depend on it.

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/core/decide"
	"github.com/redis/go-redis/v9"
)

// State is what Inspect read for one key.
type State struct {
	Key     string
	Exists  bool          // false: no such key (Result is then a fresh key's)
	Foreign bool          // the value is not a valid state for limit's algorithm (another type, corrupt): the next write heals it
	TAT     time.Time     // GCRA: the theoretical arrival time (zero when absent or foreign)
	Times   []time.Time   // SlidingWindow: admission times, oldest first (nil when absent or foreign)
	TTL     time.Duration // the key's time to live; -1 when it has none; 0 when absent
	Now     time.Time     // the server's clock when read
	Result  core.Result   // what Peek(key, limit) answers now
}

// inspectScript reads one key atomically: TIME, TYPE, the value as either
// algorithm keeps it, PTTL.
var inspectScript = redis.NewScript(`
local tm = redis.call("TIME")
local typ = redis.call("TYPE", KEYS[1]).ok
local v = {}
if typ == "string" then
  v = {redis.call("GET", KEYS[1])}
elseif typ == "list" then
  v = redis.call("LRANGE", KEYS[1], 0, tonumber(ARGV[1]) - 1)
end
return {tm[1], tm[2], typ, redis.call("PTTL", KEYS[1]), v}
`)

// Inspect reads keys under limit, writing nothing (stand-in).
func (s *Store) Inspect(ctx context.Context, limit core.Limit, keys ...string) ([]State, error) {
	pipe := s.client.Pipeline()
	cmds := make([]*redis.Cmd, len(keys))
	for i, k := range keys {
		cmds[i] = inspectScript.Eval(ctx, pipe, []string{k}, limit.Rate)
	}
	if len(keys) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("redisstore: inspect: %w", err)
		}
	}
	out := make([]State, len(keys))
	for i, c := range cmds {
		v, err := c.Slice()
		if err != nil || len(v) != 5 {
			return nil, fmt.Errorf("redisstore: inspect %s: %v %w", keys[i], v, err)
		}
		sec, _ := strconv.ParseInt(fmt.Sprint(v[0]), 10, 64)
		usec, _ := strconv.ParseInt(fmt.Sprint(v[1]), 10, 64)
		now := sec*1_000_000 + usec
		if s.now != nil {
			now = s.now().UnixMicro()
		}
		typ, _ := v[2].(string)
		pttl, _ := v[3].(int64)
		vals, _ := v[4].([]any)
		st := State{Key: keys[i], Exists: typ != "none", Now: time.UnixMicro(now)}
		switch {
		case pttl == -1:
			st.TTL = -1
		case pttl > 0:
			st.TTL = time.Duration(pttl) * time.Millisecond
		}
		var tat int64
		var times []int64
		if st.Exists {
			st.Foreign = true
			if limit.Algorithm == core.SlidingWindow && typ == "list" {
				times = make([]int64, 0, len(vals))
				ok := true
				for _, e := range vals {
					t, err := strconv.ParseInt(fmt.Sprint(e), 10, 64)
					if err != nil {
						ok = false
						break
					}
					times = append(times, t)
				}
				slices.Reverse(times)
				if ok && decide.ValidTimes(times, now) {
					st.Foreign = false
					for _, t := range times {
						st.Times = append(st.Times, time.UnixMicro(t))
					}
				} else {
					times = nil
				}
			}
			if limit.Algorithm == core.GCRA && typ == "string" && len(vals) == 1 {
				t, err := strconv.ParseInt(fmt.Sprint(vals[0]), 10, 64)
				if err == nil && decide.ValidTAT(t, now) {
					st.Foreign, tat, st.TAT = false, t, time.UnixMicro(t)
				}
			}
		}
		if limit.Algorithm == core.SlidingWindow {
			st.Result, _ = decide.Window(limit, times, now, 1)
		} else {
			st.Result, _ = decide.GCRA(limit, tat, now, 1)
		}
		out[i] = st
	}
	return out, nil
}
