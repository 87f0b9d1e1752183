package redisstore

import (
	"context"
	_ "embed"
	"time"

	"github.com/floodgate-go/floodgate/core"
)

var (
	//go:embed reserve.lua
	reserveSource string
	// reserve is decide.Reserve in Lua: one EVALSHA finds and records a
	// slot on every lane.
	reserve = newScript(reserveSource)
)

// Reserve implements core.Store with one EVALSHA over all the lanes' keys,
// which in Redis Cluster must share a hash slot (one hash tag), sent
// through the same batches as Take. A lane's list is read whole while it
// is short and at its two ends once it is long (decide.Span), so a call
// costs the same with ten thousand slots reserved ahead as with ten.
func (s *Store) Reserve(ctx context.Context, lanes []core.Lane, n int, from, within time.Duration) (core.Result, error) {
	keys := make([]string, len(lanes))
	for i, ln := range lanes {
		keys[i] = ln.Key
	}
	r := s.batch.request(reserve, newIntSliceCmd, keys...)
	w := within.Microseconds()
	if within < 0 {
		w = -1 // look only, however small the negative duration
	}
	r.arg(n, max(from, 0).Microseconds(), w, s.nowArg())
	for _, ln := range lanes {
		r.arg(ln.Limit.Rate, ln.Limit.Period.Microseconds())
	}
	return s.evalLanes(ctx, r, lanes)
}
