package redisstore

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/redis/go-redis/v9"
)

var (
	//go:embed window.lua
	windowSource string
	//go:embed block.lua
	blockSource string
	// window is decide.Lanes in Lua: one EVALSHA decides every lane.
	window = newScript(windowSource)
	// block is decide.BlockGCRA and decide.BlockWindow in Lua.
	block = newScript(blockSource)
)

// TakeAll implements core.Store with one EVALSHA over all the lanes'
// keys, which in Redis Cluster must share a hash slot (one hash tag). It is
// coalesced with concurrent decisions like Take.
func (s *Store) TakeAll(ctx context.Context, lanes []core.Lane, n int) (core.Result, error) {
	return s.runWindow(ctx, lanes, n, applyTake)
}

// Block implements core.Store with one EVALSHA of the block script, under
// either algorithm: a GCRA key's TAT moves to decide.BlockGCRA's, a
// sliding-window lane's slots to decide.BlockWindow's, never shortening an
// earlier block, with a TTL that covers the block. A value the script
// cannot read is overwritten as if absent.
func (s *Store) Block(ctx context.Context, key string, l core.Limit, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	r := s.batch.request(block, newIntCmd, key)
	if l.Algorithm == core.SlidingWindow {
		r.arg(blockWindow, l.Rate, l.Period.Microseconds(), d.Microseconds(), s.nowArg())
	} else {
		la := s.limits.get(l)
		r.arg(blockGCRA, la.interval, la.burst, d.Microseconds(), s.nowArg())
	}
	c, err := s.batch.run(ctx, r)
	if err == nil {
		err = c.Err()
	}
	if err != nil {
		return storeErr(ctx, "block", err)
	}
	return nil
}

// The block script's ARGV[1], boxed once.
var blockGCRA, blockWindow any = "gcra", "window"

func newIntCmd(ctx context.Context, args ...any) redis.Cmder { return redis.NewIntCmd(ctx, args...) }

func (s *Store) runWindow(ctx context.Context, lanes []core.Lane, n int, apply any) (core.Result, error) {
	keys := make([]string, len(lanes))
	for i, ln := range lanes {
		keys[i] = ln.Key
	}
	r := s.batch.request(window, newIntSliceCmd, keys...)
	r.arg(n, apply, s.nowArg())
	for _, ln := range lanes {
		r.arg(ln.Limit.Rate, ln.Limit.Period.Microseconds())
	}
	return s.evalLanes(ctx, r, lanes)
}

// evalLanes runs a lanes script (window.lua, reserve.lua), whose reply is
// the binding lane's {allowed, remaining, retry_after µs, reset_after µs,
// lane index from 1}, and returns its decision.
func (s *Store) evalLanes(ctx context.Context, r *request, lanes []core.Lane) (core.Result, error) {
	v, err := s.eval(ctx, r, 5)
	if err != nil {
		return core.Result{}, err
	}
	if v[4] < 1 || int(v[4]) > len(lanes) {
		return core.Result{}, storeErr(ctx, "eval", fmt.Errorf("%w %v", errBadReply, v))
	}
	return decision(v, lanes[v[4]-1].Limit), nil
}

// WindowScriptSHA returns the SHA1 of the sliding-window decision script
// (TakeAll, and Take and Peek under a SlidingWindow Limit), as EVALSHA and
// SCRIPT EXISTS know it.
func WindowScriptSHA() string { return window.Hash() }
