package memorystore

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/core/decide"
	"github.com/patrickmn/go-cache"
)

// windowEntry is a SlidingWindow key's state: its events' times, oldest
// first, in µs on the store clock, under a mutex. Multi-lane decisions lock
// the entries of all their keys, in key order, so that they are atomic and
// cannot deadlock with one another.
type windowEntry struct {
	mu      sync.Mutex
	times   []int64 // capacity Rate once written
	expires int64   // when the newest event leaves the window, µs
	// dead is set, under mu, once the entry is retired; a lookup reads it
	// without the lock, and a decision checks it again under mu.
	dead atomic.Bool
}

// retire implements entry: a window is idle once its newest event has left
// it.
func (e *windowEntry) retire(cutoff int64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.dead.Load() || e.expires > cutoff {
		return false
	}
	e.dead.Store(true)
	return true
}

// window returns key's live window entry, indexing a new one when the key
// is absent, dead or held another kind of entry.
func (x *index) window(key string) (*windowEntry, error) {
	sh := x.shard(key)
	if v, ok := sh.items.Get(key); ok && isLiveWindow(v) {
		return v.(*windowEntry), nil // maybe dead by now: the caller checks under e.mu
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	v, ok := sh.items.Get(key)
	switch {
	case !ok:
		if !x.addKey() {
			return nil, fmt.Errorf("%w (limit %d)", ErrTooManyKeys, x.maxKeys)
		}
	case isLiveWindow(v):
		return v.(*windowEntry), nil
	default:
		v.(entry).retire(math.MaxInt64) // dead, or the key changed algorithm
	}
	e := &windowEntry{}
	sh.items.Set(key, e, cache.NoExpiration)
	return e, nil
}

func isLiveWindow(v any) bool {
	e, ok := v.(*windowEntry)
	return ok && !e.dead.Load()
}

// lockWindows returns the live entries of keys, locked in key order; the
// caller unlocks them. Entries are looked up first, with no entry locked,
// and then locked: the lock order is always shard lock, then entry lock. It
// starts over when the janitor or a Reset retired an entry in between.
//
// When the store is full and keys[i] is new, it returns i and an error
// wrapping ErrTooManyKeys, with nothing locked, and forgets the entries it
// indexed for the other keys meanwhile.
func (x *index) lockWindows(keys []string) ([]*windowEntry, int, error) {
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(keys[a], keys[b]) })
	entries := make([]*windowEntry, len(keys))
	for {
		for i, k := range keys {
			e, err := x.window(k)
			if err != nil {
				x.dropEmpty(keys[:i], entries[:i])
				return nil, i, err
			}
			entries[i] = e
		}
		live := true
		for _, i := range order {
			entries[i].mu.Lock()
			live = live && !entries[i].dead.Load()
		}
		if live {
			return entries, 0, nil
		}
		unlockWindows(entries)
	}
}

// dropEmpty forgets the entries of keys that hold no event: entries indexed
// for a decision that recorded nothing. The caller holds none of their
// locks. Each is retired first, under its lock, so a decision waiting on it
// starts over on the key's next entry.
func (x *index) dropEmpty(keys []string, entries []*windowEntry) {
	for i, e := range entries {
		e.mu.Lock()
		empty := !e.dead.Load() && len(e.times) == 0
		if empty {
			e.dead.Store(true)
		}
		e.mu.Unlock()
		if empty {
			x.forget(keys[i], e)
		}
	}
}

// forget deletes key from the index if its entry is still e, a dead entry.
func (x *index) forget(key string, e entry) {
	sh := x.shard(key)
	sh.mu.Lock()
	if v, ok := sh.items.Get(key); ok && v == e {
		sh.items.Delete(key)
		x.keys.Add(-1)
	}
	sh.mu.Unlock()
}

func unlockWindows(entries []*windowEntry) {
	for _, e := range entries {
		if e != nil {
			e.mu.Unlock()
		}
	}
}

// TakeAll implements core.Store: the lanes are decided together, under
// the locks of all their entries. A lane on a new key while the store holds
// WithMaxKeys keys denies the call (see full). A denial leaves no entry
// behind for a lane that was new.
func (s *Store) TakeAll(_ context.Context, lanes []core.Lane, n int) (core.Result, error) {
	return s.onLanes(lanes, func(logs [][]int64, now int64) core.Result { return decide.Lanes(lanes, logs, now, n) }), nil
}

// onLanes runs decision over the lanes' logs under the locks of all their
// entries, and stores the logs it returns when its result is Allowed (a
// decide function replaces logs[i] then, and only then). A lane on a new
// key while the store holds WithMaxKeys keys denies the call (see full); a
// call that records nothing leaves no entry behind for a lane that was new.
func (s *Store) onLanes(lanes []core.Lane, decision func(logs [][]int64, now int64) core.Result) core.Result {
	keys := make([]string, len(lanes))
	for i, ln := range lanes {
		keys[i] = ln.Key
	}
	entries, i, err := s.lockWindows(keys)
	if err != nil {
		return full(lanes[i].Limit)
	}
	logs := make([][]int64, len(lanes))
	for i, e := range entries {
		logs[i] = e.times
	}
	res := decision(logs, s.now())
	if res.Allowed {
		for i, e := range entries {
			e.keep(logs[i], lanes[i].Limit)
		}
	}
	unlockWindows(entries)
	if !res.Allowed {
		s.dropEmpty(keys, entries)
	}
	return res
}

// Block implements core.Store.
func (s *Store) Block(_ context.Context, key string, l core.Limit, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if l.Algorithm == core.GCRA {
		return s.blockGCRA(key, l, d)
	}
	entries, _, err := s.lockWindows([]string{key})
	if err != nil {
		return err
	}
	defer unlockWindows(entries)
	log, _ := decide.BlockWindow(l, entries[0].times, s.now(), d)
	entries[0].keep(log, l)
	return nil
}

// keep stores a log on e, whose lock the caller holds.
func (e *windowEntry) keep(times []int64, l core.Limit) {
	if cap(times) < l.Rate {
		times = append(make([]int64, 0, l.Rate), times...)
	}
	e.times = times
	e.expires = times[len(times)-1] + l.Period.Microseconds()
}

// peekWindow is Peek for a SlidingWindow limit: a key absent, dead or of
// another kind reads as never seen.
func (s *Store) peekWindow(key string, l core.Limit) core.Result {
	var times []int64
	if v, ok := s.shard(key).items.Get(key); ok {
		if e, ok := v.(*windowEntry); ok {
			e.mu.Lock()
			if !e.dead.Load() {
				times = slices.Clone(e.times)
			}
			e.mu.Unlock()
		}
	}
	res, _ := decide.Window(l, times, s.now(), 1)
	return res
}
