package core

import (
	"context"
	"time"
)

// localStore is the in-process store FailLocal falls back to when no
// WithFallback store is given: GCRA (Decide) over a shardMap of TATs. It
// lives only while the main store is out, so it is kept minimal: entries
// whose TAT has passed are swept when a shard doubles in size. For a full
// in-process store use store/memorystore, and pass it with WithFallback.
type localStore struct {
	now  func() time.Time
	tats shardMap[tat]
}

// tat is a key's theoretical arrival time in Unix microseconds; once it
// has passed, the key is fully replenished, as if never seen.
type tat int64

func (t tat) expiry() time.Time { return time.UnixMicro(int64(t)) }

func newLocalStore(now func() time.Time) *localStore {
	s := &localStore{now: now}
	s.tats.init()
	return s
}

var _ Store = (*localStore)(nil)

func (s *localStore) InProcess() {}

func (s *localStore) Take(_ context.Context, key string, l Limit, n int) (Result, error) {
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
	old, _ := s.tats.load(key)
	res, _ := Decide(l, int64(old), s.now().UnixMicro(), 1)
	return res, nil
}

func (s *localStore) Reset(_ context.Context, key string) error {
	s.tats.delete(key)
	return nil
}
