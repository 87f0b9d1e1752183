package core

import (
	"context"
	"slices"
	"time"
)

// localStore is the in-process store FailLocal falls back to when no
// WithFallback store is given: GCRA (Decide) over a shardMap of TATs, and
// sliding windows (DecideWindow, DecideLanes) over a shardMap of logs. It
// lives only while the main store is out, so it is kept minimal: entries
// whose time has passed are swept when a shard doubles in size. For a full
// in-process store use store/memorystore, and pass it with WithFallback.
type localStore struct {
	now  func() time.Time
	tats shardMap[tat]
	logs shardMap[laneLog]
}

// tat is a key's theoretical arrival time in Unix microseconds; once it
// has passed, the key is fully replenished, as if never seen.
type tat int64

func (t tat) expiry() time.Time { return time.UnixMicro(int64(t)) }

// laneLog is a SlidingWindow key's events, oldest first, in Unix
// microseconds, and when the newest leaves the window.
type laneLog struct {
	times   []int64
	expires int64
}

func (l laneLog) expiry() time.Time { return time.UnixMicro(l.expires) }

func newLocalStore(now func() time.Time) *localStore {
	s := &localStore{now: now}
	s.tats.init()
	s.logs.init()
	return s
}

var _ LaneStore = (*localStore)(nil)

func (s *localStore) InProcess() {}

func (s *localStore) Take(ctx context.Context, key string, l Limit, n int) (Result, error) {
	if l.Algorithm == SlidingWindow {
		return s.TakeAll(ctx, []Lane{{key, l}}, n)
	}
	t := s.now()
	var res Result
	s.tats.update(key, t, func(old tat, _ bool) (tat, bool) {
		var next int64
		res, next = Decide(l, int64(old), t.UnixMicro(), n)
		return tat(next), res.Allowed
	})
	return res, nil
}

func (s *localStore) Peek(_ context.Context, key string, l Limit) (Result, error) {
	if l.Algorithm == SlidingWindow {
		log, _ := s.logs.load(key)
		// A copy: DecideWindow reuses its input, and the stored log is
		// only safe to touch under the shard lock.
		res, _ := DecideWindow(l, slices.Clone(log.times), s.now().UnixMicro(), 1)
		return res, nil
	}
	old, _ := s.tats.load(key)
	res, _ := Decide(l, int64(old), s.now().UnixMicro(), 1)
	return res, nil
}

func (s *localStore) Reset(_ context.Context, key string) error {
	s.tats.delete(key)
	s.logs.delete(key)
	return nil
}

func (s *localStore) TakeAll(_ context.Context, lanes []Lane, n int) (Result, error) {
	keys := make([]string, len(lanes))
	for i, ln := range lanes {
		keys[i] = ln.Key
	}
	var res Result
	t := s.now()
	s.logs.updateAll(keys, t, func(logs []laneLog) bool {
		now := t.UnixMicro()
		times := make([][]int64, len(logs))
		for i, log := range logs {
			times[i] = log.times
		}
		if res = DecideLanes(lanes, times, now, n); !res.Allowed {
			return false
		}
		for i, ts := range times {
			logs[i] = laneLog{times: ts, expires: ts[len(ts)-1] + lanes[i].Limit.Period.Microseconds()}
		}
		return true
	})
	return res, nil
}

func (s *localStore) Block(_ context.Context, key string, l Limit, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := s.now()
	s.logs.update(key, t, func(old laneLog, _ bool) (laneLog, bool) {
		ts, _ := BlockWindow(l, old.times, t.UnixMicro(), d)
		return laneLog{times: ts, expires: ts[len(ts)-1] + l.Period.Microseconds()}, true
	})
	return nil
}
