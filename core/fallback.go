package core

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// localStore is the in-process store FailLocal falls back to when no
// WithFallback store is given: GCRA (Decide) over sharded maps. It lives
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
}

func newLocalStore(now func() time.Time) *localStore {
	s := &localStore{now: now, seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i].tats = map[string]int64{}
		s.shards[i].sweepAt = 1024
	}
	return s
}

var _ Store = (*localStore)(nil)

func (s *localStore) InProcess() {}

func (s *localStore) shard(key string) *localShard {
	return &s.shards[maphash.String(s.seed, key)%uint64(len(s.shards))]
}

func (s *localStore) Take(_ context.Context, key string, l Limit, n int) (Result, error) {
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
	tat := sh.tats[key]
	sh.mu.Unlock()
	res, _ := Decide(l, tat, s.now().UnixMicro(), 1)
	return res, nil
}

func (s *localStore) Reset(_ context.Context, key string) error {
	sh := s.shard(key)
	sh.mu.Lock()
	delete(sh.tats, key)
	sh.mu.Unlock()
	return nil
}
