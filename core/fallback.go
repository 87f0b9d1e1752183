package core

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// localStore is the in-process store FailLocal falls back to when no
// WithFallback store is given: GCRA (Decide) and sliding windows
// (DecideWindow) over sharded maps. It lives
// only while the main store is out, so it is kept minimal: entries whose
// TAT has passed are swept when a shard doubles in size. For a full
// in-process store use store/memorystore, and pass it with WithFallback.
type localStore struct {
	now    func() time.Time
	seed   maphash.Seed
	shards [16]localShard
}

type localShard struct {
	mu      sync.Mutex
	tats    map[string]int64
	sweepAt int
	logs    map[string]laneLog // SlidingWindow keys
	logsAt  int                // sweep logs when it holds this many
}

// laneLog is a SlidingWindow key's events, oldest first, and when the
// newest leaves the window (µs).
type laneLog struct {
	times   []int64
	expires int64
}

func newLocalStore(now func() time.Time) *localStore {
	s := &localStore{now: now, seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i].tats = map[string]int64{}
		s.shards[i].logs = map[string]laneLog{}
		s.shards[i].logsAt = 1024
		s.shards[i].sweepAt = 1024
	}
	return s
}

var _ LaneStore = (*localStore)(nil)

func (s *localStore) InProcess() {}

func (s *localStore) shard(key string) *localShard {
	return &s.shards[maphash.String(s.seed, key)%uint64(len(s.shards))]
}

func (s *localStore) Take(ctx context.Context, key string, l Limit, n int) (Result, error) {
	if l.Algorithm == SlidingWindow {
		return s.TakeAll(ctx, []Lane{{key, l}}, n)
	}
	now := s.now().UnixMicro()
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	res, next := Decide(l, sh.tats[key], now, n)
	if res.Allowed {
		if len(sh.tats) >= sh.sweepAt {
			for k, tat := range sh.tats {
				if tat <= now {
					delete(sh.tats, k)
				}
			}
			sh.sweepAt = max(1024, 2*len(sh.tats))
		}
		sh.tats[key] = next
	}
	return res, nil
}

func (s *localStore) Peek(_ context.Context, key string, l Limit) (Result, error) {
	sh := s.shard(key)
	sh.mu.Lock()
	tat, log := sh.tats[key], sh.logs[key]
	sh.mu.Unlock()
	if l.Algorithm == SlidingWindow {
		res, _ := DecideWindow(l, log.times, s.now().UnixMicro(), 1)
		return res, nil
	}
	res, _ := Decide(l, tat, s.now().UnixMicro(), 1)
	return res, nil
}

func (s *localStore) Reset(_ context.Context, key string) error {
	sh := s.shard(key)
	sh.mu.Lock()
	delete(sh.tats, key)
	delete(sh.logs, key)
	sh.mu.Unlock()
	return nil
}

// lock locks the shards of keys in index order, so that concurrent
// multi-key calls cannot deadlock, and returns the unlock.
func (s *localStore) lock(keys ...string) (unlock func()) {
	var held [len(localStore{}.shards)]bool
	for _, k := range keys {
		held[maphash.String(s.seed, k)%uint64(len(s.shards))] = true
	}
	for i, h := range held {
		if h {
			s.shards[i].mu.Lock()
		}
	}
	return func() {
		for i, h := range held {
			if h {
				s.shards[i].mu.Unlock()
			}
		}
	}
}

func (s *localStore) TakeAll(_ context.Context, lanes []Lane, n int) (Result, error) {
	keys := make([]string, len(lanes))
	for i, ln := range lanes {
		keys[i] = ln.Key
	}
	defer s.lock(keys...)()
	now := s.now().UnixMicro()
	logs := make([][]int64, len(lanes))
	for i, k := range keys {
		logs[i] = s.shard(k).logs[k].times
	}
	res := DecideLanes(lanes, logs, now, n)
	if res.Allowed {
		for i, k := range keys {
			s.keep(k, logs[i], lanes[i].Limit, now)
		}
	}
	return res, nil
}

func (s *localStore) Block(_ context.Context, key string, l Limit, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	defer s.lock(key)()
	now := s.now().UnixMicro()
	log, _ := BlockWindow(l, s.shard(key).logs[key].times, now, d)
	s.keep(key, log, l, now)
	return nil
}

// keep stores key's log; once the shard's window keys have doubled in
// number since the last sweep, it first drops those whose events have all
// left their window. The caller holds the key's shard lock.
func (s *localStore) keep(key string, times []int64, l Limit, now int64) {
	sh := s.shard(key)
	if len(sh.logs) >= sh.logsAt {
		for k, log := range sh.logs {
			if log.expires <= now {
				delete(sh.logs, k)
			}
		}
		sh.logsAt = max(1024, 2*len(sh.logs))
	}
	sh.logs[key] = laneLog{times: times, expires: times[len(times)-1] + l.Period.Microseconds()}
}
