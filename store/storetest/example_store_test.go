package storetest_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/core/decide"
	"github.com/floodgate-go/floodgate/store/storetest"
)

// mapStore is a complete core.Store written outside floodgate with its
// public API only: one mutex over a map, the arithmetic from package
// core/decide. It is a template for store authors, short on purpose: a
// real store would shard its lock and evict expired keys (here they stay
// in the map until overwritten, and read as absent).
type mapStore struct {
	mu   sync.Mutex
	now  func() time.Time
	keys map[string]mapEntry
}

// mapEntry is one key: a GCRA TAT or a sliding window's log, and when it
// expires (µs on the store clock). Both are written whole, under mu.
type mapEntry struct {
	window  bool
	tat     int64
	times   []int64
	expires int64
}

func newMapStore(now func() time.Time) *mapStore {
	return &mapStore{now: now, keys: map[string]mapEntry{}}
}

var _ core.Store = (*mapStore)(nil)

// get returns key's live state of the wanted kind. An expired key, or one
// holding the other algorithm's state, reads as absent: the next write
// overwrites it (the store heals it instead of failing).
func (s *mapStore) get(key string, window bool, now int64) mapEntry {
	e, ok := s.keys[key]
	if !ok || e.expires <= now || e.window != window {
		return mapEntry{window: window}
	}
	return e
}

func (s *mapStore) Take(ctx context.Context, key string, l core.Limit, n int) (core.Result, error) {
	if l.Algorithm == core.SlidingWindow {
		return s.TakeAll(ctx, []core.Lane{{Key: key, Limit: l}}, n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UnixMicro()
	res, tat := decide.GCRA(l, s.get(key, false, now).tat, now, n)
	if res.Allowed { // a denial writes nothing
		s.keys[key] = mapEntry{tat: tat, expires: tat}
	}
	return res, nil
}

func (s *mapStore) Peek(_ context.Context, key string, l core.Limit) (core.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UnixMicro()
	if l.Algorithm == core.SlidingWindow {
		// decide.Window appends to the log it is given: hand it a copy.
		res, _ := decide.Window(l, slices.Clone(s.get(key, true, now).times), now, 1)
		return res, nil
	}
	res, _ := decide.GCRA(l, s.get(key, false, now).tat, now, 1)
	return res, nil
}

func (s *mapStore) Reset(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.keys, key)
	return nil
}

func (s *mapStore) Block(_ context.Context, key string, l core.Limit, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UnixMicro()
	if l.Algorithm == core.SlidingWindow {
		log, ttl := decide.BlockWindow(l, s.get(key, true, now).times, now, d)
		s.keys[key] = mapEntry{window: true, times: log, expires: now + ttl.Microseconds()}
		return nil
	}
	tat := decide.BlockGCRA(l, s.get(key, false, now).tat, now, d)
	s.keys[key] = mapEntry{tat: tat, expires: tat}
	return nil
}

func (s *mapStore) TakeAll(_ context.Context, lanes []core.Lane, n int) (core.Result, error) {
	return s.onLanes(lanes, func(logs [][]int64, now int64) core.Result { return decide.Lanes(lanes, logs, now, n) }), nil
}

func (s *mapStore) Reserve(_ context.Context, lanes []core.Lane, n int, from, within time.Duration) (core.Result, error) {
	return s.onLanes(lanes, func(logs [][]int64, now int64) core.Result {
		return decide.Reserve(lanes, logs, now, n, from, within)
	}), nil
}

// onLanes runs decision over the lanes' logs, all or nothing: the decide
// functions change logs only when the result is Allowed.
func (s *mapStore) onLanes(lanes []core.Lane, decision func(logs [][]int64, now int64) core.Result) core.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UnixMicro()
	logs := make([][]int64, len(lanes))
	for i, ln := range lanes {
		logs[i] = s.get(ln.Key, true, now).times
	}
	res := decision(logs, now)
	if res.Allowed {
		for i, ln := range lanes {
			newest := logs[i][len(logs[i])-1]
			s.keys[ln.Key] = mapEntry{window: true, times: logs[i], expires: newest + ln.Limit.Period.Microseconds()}
		}
	}
	return res
}

// ttl is what the suite's TTL check asks: how long key still lives.
func (s *mapStore) ttl(key string) (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UnixMicro()
	e, ok := s.keys[key]
	if !ok || e.expires <= now {
		return 0, false
	}
	return time.Duration(e.expires-now) * time.Microsecond, true
}

// TestExampleStore runs the conformance suite against mapStore, with the
// TTL checks on. Run(t, newStore) alone runs every case but those.
func TestExampleStore(t *testing.T) {
	storetest.RunWith(t, func(t *testing.T, now func() time.Time) core.Store { return newMapStore(now) },
		storetest.Options{TTL: func(t *testing.T, st core.Store, key string) (time.Duration, bool) {
			return st.(*mapStore).ttl(key)
		}})
}
