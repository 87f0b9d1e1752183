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
// through the same batches as Take. It reads each lane's whole list (the
// slots reserved ahead included), so its cost grows with how far ahead
// slots are reserved: a broadcast that keeps a bounded number of sends in
// flight keeps it small.
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
