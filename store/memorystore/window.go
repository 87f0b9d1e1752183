package memorystore

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/patrickmn/go-cache"
)

// windows holds the store's SlidingWindow keys: a go-cache of *windowLog,
// apart from the GCRA entries, written under striped locks. A multi-lane
// decision (TakeAll) holds the stripes of all its keys, taken in index
// order, so it is atomic and cannot deadlock with another.
type windows struct {
	items  *cache.Cache
	locks  [64]sync.Mutex
	writes atomic.Int64 // since the last sweep of expired logs
}

// windowLog is one SlidingWindow key: its events' times, oldest first, in
// µs on the store clock, with capacity for the limit's Rate.
type windowLog struct{ times []int64 }

func newWindows() *windows {
	return &windows{items: cache.New(cache.NoExpiration, 0)}
}

func (w *windows) stripe(seed maphash.Seed, key string) int {
	return int(maphash.String(seed, key) % uint64(len(w.locks)))
}

// lock locks the stripes of keys in index order and returns the unlock.
func (w *windows) lock(seed maphash.Seed, keys ...string) (unlock func()) {
	var held [len(windows{}.locks)]bool
	for _, k := range keys {
		held[w.stripe(seed, k)] = true
	}
	for i, h := range held {
		if h {
			w.locks[i].Lock()
		}
	}
	return func() {
		for i, h := range held {
			if h {
				w.locks[i].Unlock()
			}
		}
	}
}

func (w *windows) get(key string) *windowLog {
	if v, ok := w.items.Get(key); ok {
		return v.(*windowLog)
	}
	return nil
}

// TakeAll implements core.LaneStore: all lanes are decided and recorded
// together under their keys' locks.
func (s *Store) TakeAll(_ context.Context, lanes []core.Lane, n int) (core.Result, error) {
	w := s.windows
	keys := make([]string, len(lanes))
	for i, ln := range lanes {
		keys[i] = ln.Key
	}
	defer w.lock(s.seed, keys...)()
	now := s.now().UnixMicro()
	logs := make([][]int64, len(lanes))
	fresh := 0
	for i, k := range keys {
		if e := w.get(k); e != nil {
			logs[i] = e.times
		} else {
			fresh++
		}
	}
	if fresh > 0 && s.maxKeys > 0 && s.Len()+fresh > s.maxKeys {
		return core.Result{}, fmt.Errorf("%w (limit %d)", ErrTooManyKeys, s.maxKeys)
	}
	res := core.DecideLanes(lanes, logs, now, n)
	if res.Allowed {
		for i, k := range keys {
			s.keepWindow(k, logs[i], lanes[i].Limit, now)
		}
	}
	return res, nil
}

// Block implements core.LaneStore.
func (s *Store) Block(_ context.Context, key string, l core.Limit, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	defer s.windows.lock(s.seed, key)()
	now := s.now().UnixMicro()
	var times []int64
	if e := s.windows.get(key); e != nil {
		times = e.times
	}
	log, _ := core.BlockWindow(l, times, now, d)
	s.keepWindow(key, log, l, now)
	return nil
}

// keepWindow stores key's log with a go-cache expiration that covers its
// newest event's stay in the window plus the grace, on the wall clock.
// Every so many writes it first evicts expired logs, so the window keys
// need no janitor of their own. The caller holds key's lock.
func (s *Store) keepWindow(key string, times []int64, l core.Limit, now int64) {
	w := s.windows
	if w.writes.Add(1) >= int64(max(1024, w.items.ItemCount())) {
		w.writes.Store(0)
		w.items.DeleteExpired()
	}
	ttl := time.Duration(times[len(times)-1]+l.Period.Microseconds()-now)*time.Microsecond + time.Duration(s.grace)
	if cap(times) < l.Rate {
		times = append(make([]int64, 0, l.Rate), times...)
	}
	w.items.Set(key, &windowLog{times: times}, ttl)
}

// peekWindow is Peek for a SlidingWindow limit.
func (s *Store) peekWindow(key string, l core.Limit) core.Result {
	defer s.windows.lock(s.seed, key)()
	var times []int64
	if e := s.windows.get(key); e != nil {
		times = e.times
	}
	res, _ := core.DecideWindow(l, times, s.now().UnixMicro(), 1)
	return res
}

// resetWindow forgets a SlidingWindow key.
func (s *Store) resetWindow(key string) {
	defer s.windows.lock(s.seed, key)()
	s.windows.items.Delete(key)
}
