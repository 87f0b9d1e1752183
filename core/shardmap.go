package core

import (
	"hash/maphash"
	"sync"
	"time"
)

// expiring is a value of a shardMap: once its expiry has passed, the entry
// means nothing and may be swept.
type expiring interface {
	expiry() time.Time
}

// shardMap is the per-key state core keeps in process (the deny cache, the
// default fallback store, the penalty blocks an instance has seen): a map
// split into 16 shards, each under its own mutex, so concurrent decisions on
// different keys rarely contend. It never grows without bound: a write
// sweeps its shard of every entry whose expiry has passed when the shard
// reaches its sweep size (at first 1024 entries; then twice what the last
// sweep left), and any access sweeps it when sweepEvery has passed since
// its last sweep, so entries that ended go within sweepEvery of the next
// access even when no shard doubles. A sweep that leaves under a quarter
// of the shard's peak rebuilds its map, since a Go map never gives back
// its buckets: after a flood of keys has ended, memory comes back.
//
// The zero shardMap is not usable; call init first.
type shardMap[V expiring] struct {
	seed   maphash.Seed
	shards [16]mapShard[V]
}

type mapShard[V expiring] struct {
	mu      sync.Mutex
	entries map[string]V
	sweepAt int       // sweep expired entries when the map reaches this size
	sweptAt time.Time // the last sweep, on the caller's clock
	peak    int       // the most entries the map has held since it was built
}

const minSweepAt = 1024

// sweepEvery is how often, on the caller's clock, an access sweeps a shard
// that has not reached its sweep size: a shard of n entries costs a pass
// over them every sweepEvery, at most.
const sweepEvery = 10 * time.Second

func (m *shardMap[V]) init() {
	m.seed = maphash.MakeSeed()
	for i := range m.shards {
		m.shards[i].entries = map[string]V{}
		m.shards[i].sweepAt = minSweepAt
	}
}

func (m *shardMap[V]) shard(key string) *mapShard[V] {
	return &m.shards[maphash.String(m.seed, key)%uint64(len(m.shards))]
}

// load returns key's entry, expired or not; now is the time sweeps
// compare expiries with.
func (m *shardMap[V]) load(key string, now time.Time) (V, bool) {
	s := m.shard(key)
	s.mu.Lock()
	if len(s.entries) > 0 && now.Sub(s.sweptAt) >= sweepEvery {
		s.sweep(now)
	}
	v, ok := s.entries[key]
	s.mu.Unlock()
	return v, ok
}

// store sets key's entry; now is the time sweeps compare expiries with.
func (m *shardMap[V]) store(key string, v V, now time.Time) {
	s := m.shard(key)
	s.mu.Lock()
	s.put(key, v, now)
	s.mu.Unlock()
}

// update replaces key's entry with what f returns, atomically with respect
// to every other call on key: f gets the current entry (ok false when there
// is none) and returns the new one and whether to write it.
func (m *shardMap[V]) update(key string, now time.Time, f func(old V, ok bool) (V, bool)) {
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.entries[key]
	if v, write := f(old, ok); write {
		s.put(key, v, now)
	}
}

// delete drops key's entry, if any.
func (m *shardMap[V]) delete(key string) {
	s := m.shard(key)
	s.mu.Lock()
	delete(s.entries, key)
	s.mu.Unlock()
}

// deleteIf drops key's entry if drop reports true for it, atomically with
// respect to every other call on key.
func (m *shardMap[V]) deleteIf(key string, drop func(V) bool) {
	s := m.shard(key)
	s.mu.Lock()
	if v, ok := s.entries[key]; ok && drop(v) {
		delete(s.entries, key)
	}
	s.mu.Unlock()
}

// len returns how many entries the map holds, expired ones included.
func (m *shardMap[V]) len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.entries)
		s.mu.Unlock()
	}
	return n
}

// put writes key under the shard's lock, sweeping first when the shard is
// at its sweep size or was last swept sweepEvery ago.
func (s *mapShard[V]) put(key string, v V, now time.Time) {
	if len(s.entries) >= s.sweepAt || now.Sub(s.sweptAt) >= sweepEvery {
		s.sweep(now)
	}
	s.entries[key] = v
	s.peak = max(s.peak, len(s.entries))
}

// sweep drops the entries whose expiry has passed at now, under the
// shard's lock, and rebuilds the map when it holds under a quarter of its
// peak.
func (s *mapShard[V]) sweep(now time.Time) {
	for k, e := range s.entries {
		if !now.Before(e.expiry()) {
			delete(s.entries, k)
		}
	}
	s.sweepAt = max(minSweepAt, 2*len(s.entries))
	s.sweptAt = now
	if s.peak >= minSweepAt && len(s.entries) <= s.peak/4 {
		fresh := make(map[string]V, len(s.entries))
		for k, e := range s.entries {
			fresh[k] = e
		}
		s.entries, s.peak = fresh, len(fresh)
	}
}

// updateAll is update over several distinct keys at once: it locks their
// shards in index order (so that two calls cannot deadlock), gives f the
// current entries (zero values for missing ones), and writes back every
// entry f leaves in the slice when f returns true.
func (m *shardMap[V]) updateAll(keys []string, now time.Time, f func(entries []V) bool) {
	var held [len(shardMap[V]{}.shards)]bool
	for _, k := range keys {
		held[maphash.String(m.seed, k)%uint64(len(m.shards))] = true
	}
	for i, h := range held {
		if h {
			m.shards[i].mu.Lock()
			defer m.shards[i].mu.Unlock()
		}
	}
	entries := make([]V, len(keys))
	for i, k := range keys {
		entries[i] = m.shard(k).entries[k]
	}
	if f(entries) {
		for i, k := range keys {
			m.shard(k).put(k, entries[i], now)
		}
	}
}
