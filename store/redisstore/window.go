package redisstore

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/redis/go-redis/v9"
)

var (
	//go:embed window.lua
	windowSource string
	//go:embed block.lua
	blockSource string
	// window is core.DecideLanes in Lua: one EVALSHA decides every lane.
	window = redis.NewScript(windowSource)
	// block is core.BlockWindow in Lua.
	block = redis.NewScript(blockSource)
)

var _ core.LaneStore = (*Store)(nil)

// TakeAll implements core.LaneStore with one EVALSHA over all the lanes'
// keys, which in Redis Cluster must share a hash slot (one hash tag).
func (s *Store) TakeAll(ctx context.Context, lanes []core.Lane, n int) (core.Result, error) {
	return s.runWindow(ctx, lanes, n, "1")
}

// Block implements core.LaneStore with one EVALSHA.
func (s *Store) Block(ctx context.Context, key string, l core.Limit, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	err := block.Run(ctx, s.client, []string{key}, l.Rate, l.Period.Microseconds(), d.Microseconds(), s.nowArg()).Err()
	if err != nil {
		return fmt.Errorf("redisstore: block: %w", err)
	}
	return nil
}

// nowArg is the "now" argument of the window scripts: "" for the server's
// TIME, or the WithClock time in µs.
func (s *Store) nowArg() string {
	if s.now == nil {
		return ""
	}
	return strconv.FormatInt(s.now().UnixMicro(), 10)
}

func (s *Store) runWindow(ctx context.Context, lanes []core.Lane, n int, apply string) (core.Result, error) {
	keys := make([]string, len(lanes))
	args := make([]any, 3, 3+2*len(lanes))
	args[0], args[1], args[2] = n, apply, s.nowArg()
	for i, ln := range lanes {
		keys[i] = ln.Key
		args = append(args, ln.Limit.Rate, ln.Limit.Period.Microseconds())
	}
	reply, err := window.Run(ctx, s.client, keys, args...).Slice()
	if err != nil {
		return core.Result{}, fmt.Errorf("redisstore: eval: %w", err)
	}
	var v [5]int64
	if err := readInts(reply, v[:]); err != nil {
		return core.Result{}, err
	}
	if v[4] < 1 || int(v[4]) > len(lanes) {
		return core.Result{}, fmt.Errorf("redisstore: eval: unexpected reply %v", reply)
	}
	return core.Result{
		Allowed:    v[0] == 1,
		Remaining:  int(v[1]),
		RetryAfter: time.Duration(v[2]) * time.Microsecond,
		ResetAfter: time.Duration(v[3]) * time.Microsecond,
		Limit:      lanes[v[4]-1].Limit,
	}, nil
}

// readInts copies a script's reply of len(v) integers into v.
func readInts(reply []any, v []int64) error {
	if len(reply) != len(v) {
		return fmt.Errorf("redisstore: eval: unexpected reply %v", reply)
	}
	for i, x := range reply {
		var ok bool
		if v[i], ok = x.(int64); !ok {
			return fmt.Errorf("redisstore: eval: unexpected reply %v", reply)
		}
	}
	return nil
}

// WindowScriptSHA returns the SHA1 of the sliding-window decision script
// (TakeAll, and Take and Peek under a SlidingWindow Limit), as EVALSHA and
// SCRIPT EXISTS know it.
func WindowScriptSHA() string { return window.Hash() }
