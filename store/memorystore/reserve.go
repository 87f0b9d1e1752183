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
	return s.onLanes(lanes, func(logs [][]int64, now int64) core.Result {
		return decide.Reserve(lanes, logs, now, n, from, within)
	}), nil
}
