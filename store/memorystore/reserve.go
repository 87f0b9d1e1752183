package memorystore

import (
	"context"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/core/decide"
)

// Reserve implements core.Store: decide.Reserve over the lanes, under the
// locks of all their entries, like TakeAll. A lane on a new key while the
// store holds WithMaxKeys keys denies the call (see full), and a call that
// records nothing leaves no entry behind for a lane that was new.
func (s *Store) Reserve(_ context.Context, lanes []core.Lane, n int, from, within time.Duration) (core.Result, error) {
	keys := make([]string, len(lanes))
	for i, ln := range lanes {
		keys[i] = ln.Key
	}
	entries, i, err := s.lockWindows(keys)
	if err != nil {
		return full(lanes[i].Limit), nil
	}
	logs := make([][]int64, len(lanes))
	for i, e := range entries {
		logs[i] = e.times
	}
	res := decide.Reserve(lanes, logs, s.now(), n, from, within)
	if res.Allowed {
		for i, e := range entries {
			e.keep(logs[i], lanes[i].Limit)
		}
	}
	unlockWindows(entries)
	if !res.Allowed {
		s.dropEmpty(keys, entries)
	}
	return res, nil
}
