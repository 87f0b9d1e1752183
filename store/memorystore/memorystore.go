package memorystore

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/patrickmn/go-cache"
)

// ErrTooManyKeys is returned by Take for a new key when the store already
// holds WithMaxKeys keys. Keys already present keep working.
var ErrTooManyKeys = errors.New("memorystore: too many keys")

// Defaults of the options.
const (
	// DefaultGrace is how long an entry outlives its TAT before the janitor
	// may evict it.
	DefaultGrace = time.Minute
	// DefaultCleanupInterval is how often the janitor evicts idle entries.
	DefaultCleanupInterval = time.Minute
)

// Store is a core.Store for one process, built on go-cache. Create it with
// New and stop its janitor with Close. It is safe for concurrent use.
type Store struct {
	items     *cache.Cache
	now       func() time.Time
	realClock bool  // now is time.Now: one reading serves both clocks
	grace     int64 // ns
	maxKeys   int
	seed      maphash.Seed
	locks     [64]sync.Mutex
	janitor   *janitor
	windows   *windows // SlidingWindow keys (window.go)
}

var _ core.LaneStore = (*Store)(nil)

// entry is the value go-cache indexes for one key.
type entry struct {
	// tat is the key's theoretical arrival time, in microseconds on the
	// store clock; decisions move it forward by compare-and-swap.
	tat atomic.Int64
	// lease is when go-cache will consider the item expired, in wall-clock
	// Unix nanoseconds (go-cache's own clock), as last set. It only grows
	// while the entry is indexed.
	lease atomic.Int64
}

// Option configures a Store.
type Option func(*Store)

// WithClock makes the store read time from now instead of time.Now, so
// tests can freeze and move time. Idle entries are still evicted by wall
// time (DefaultGrace after their TAT, mapped onto the wall clock).
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now, s.realClock = now, false }
}

// WithGrace sets how long an entry outlives its TAT (default DefaultGrace,
// minimum 1s). Longer keeps idle keys in memory longer; shorter makes the
// store refresh go-cache expirations more often.
func WithGrace(d time.Duration) Option {
	return func(s *Store) { s.grace = int64(max(d, time.Second)) }
}

// WithCleanupInterval sets how often the janitor evicts idle entries
// (default DefaultCleanupInterval). d ≤ 0 disables the janitor; idle entries
// then stay until Reset.
func WithCleanupInterval(d time.Duration) Option {
	return func(s *Store) { s.janitor = &janitor{interval: d} }
}

// WithMaxKeys caps the number of keys held (default 0: no cap). When full,
// Take on a new key returns ErrTooManyKeys, so a flood of fresh user ids
// cannot exhaust memory. A core.Limiter treats that error as a store
// failure: its failure policy decides for the new key (FailOpen admits;
// FailClosed and FailLocal deny) and no error reaches the caller.
func WithMaxKeys(n int) Option { return func(s *Store) { s.maxKeys = n } }

// New returns an empty Store and starts its janitor.
func New(opts ...Option) *Store {
	s := &Store{
		now:       time.Now,
		realClock: true,
		grace:     int64(DefaultGrace),
		seed:      maphash.MakeSeed(),
		janitor:   &janitor{interval: DefaultCleanupInterval},
		windows:   newWindows(),
	}
	for _, opt := range opts {
		opt(s)
	}
	s.items = cache.New(cache.NoExpiration, 0) // our janitor below, so Close can stop it
	if s.janitor.interval > 0 {
		s.janitor.start(s.items)
		// Stop the janitor if the Store is dropped without Close.
		runtime.AddCleanup(s, func(j *janitor) { j.close() }, s.janitor)
	}
	return s
}

// Close stops the janitor. The store keeps working without it, but idle
// entries are no longer evicted. Close is idempotent and returns nil.
func (s *Store) Close() error {
	s.janitor.close()
	return nil
}

// Len returns how many keys the store holds, counting expired entries the
// janitor has not evicted yet.
func (s *Store) Len() int { return s.items.ItemCount() + s.windows.items.ItemCount() }

// Take implements core.Store.
func (s *Store) Take(ctx context.Context, key string, l core.Limit, n int) (core.Result, error) {
	if l.Algorithm == core.SlidingWindow {
		return s.TakeAll(ctx, []core.Lane{{Key: key, Limit: l}}, n)
	}
	t := s.now()
	now := t.UnixMicro()
	wall := t.UnixNano()
	if !s.realClock {
		wall = time.Now().UnixNano()
	}
	sweep := s.janitor.sweeps.Load()
	if sweep%2 == 1 {
		// The janitor is evicting right now: decide under the key lock.
		return s.takeLocked(key, l, n, now, nil, core.Result{})
	}
	v, ok := s.items.Get(key)
	if !ok {
		return s.takeLocked(key, l, n, now, nil, core.Result{})
	}
	e := v.(*entry)
	for {
		old := e.tat.Load()
		res, next := core.Decide(l, old, now, n)
		if !res.Allowed {
			return res, nil
		}
		if e.lease.Load() < wall+(next-now)*1e3+s.grace/2 {
			// The lease must grow first: decide under the key lock.
			return s.takeLocked(key, l, n, now, nil, core.Result{})
		}
		if e.tat.CompareAndSwap(old, next) {
			if s.janitor.sweeps.Load() == sweep {
				// No eviction ran between the lookup and the swap, so e
				// was still indexed: the decision is recorded.
				return res, nil
			}
			// A sweep ran meanwhile and may have evicted e.
			return s.takeLocked(key, l, n, now, e, res)
		}
	}
}

// takeLocked decides under the key's lock, which every go-cache write of
// the key (Set, Delete) holds. It handles new keys and lease renewals. When
// swapped is not nil, the caller already recorded res on that entry but
// cannot tell whether the entry was still indexed at the time: if it still
// is, res stands; otherwise the decision is made again on the key's current
// entry, since a swap on an evicted or reset entry counts for nothing.
func (s *Store) takeLocked(key string, l core.Limit, n int, now int64, swapped *entry, res core.Result) (core.Result, error) {
	mu := &s.locks[maphash.String(s.seed, key)%uint64(len(s.locks))]
	mu.Lock()
	defer mu.Unlock()
	var e *entry
	if v, ok := s.items.Get(key); ok {
		e = v.(*entry)
		if e == swapped {
			s.renew(key, e, now)
			return res, nil
		}
	} else {
		// Absent or expired: nobody else can index the key while we hold the
		// lock, so a fresh entry (or an evicted one, stale by construction)
		// starts from a full bucket.
		if s.maxKeys > 0 && s.items.ItemCount() >= s.maxKeys {
			return core.Result{}, fmt.Errorf("%w (limit %d)", ErrTooManyKeys, s.maxKeys)
		}
		e = &entry{}
	}
	for {
		old := e.tat.Load()
		res, next := core.Decide(l, old, now, n)
		if !res.Allowed {
			return res, nil
		}
		if !e.tat.CompareAndSwap(old, next) {
			continue // a lock-free decision got there first
		}
		s.renew(key, e, now)
		return res, nil
	}
}

// renew (re)indexes e under key with a lease that covers its TAT plus the
// grace. The caller holds the key's lock.
func (s *Store) renew(key string, e *entry, now int64) {
	wall := time.Now().UnixNano()
	lease := max(e.lease.Load(), wall+max(e.tat.Load()-now, 0)*1e3+s.grace)
	s.items.Set(key, e, time.Duration(lease-wall))
	e.lease.Store(lease)
}

// Peek implements core.Store.
func (s *Store) Peek(_ context.Context, key string, l core.Limit) (core.Result, error) {
	if l.Algorithm == core.SlidingWindow {
		return s.peekWindow(key, l), nil
	}
	var tat int64
	if v, ok := s.items.Get(key); ok {
		tat = v.(*entry).tat.Load()
	}
	res, _ := core.Decide(l, tat, s.now().UnixMicro(), 1)
	return res, nil
}

// Reset implements core.Store.
func (s *Store) Reset(_ context.Context, key string) error {
	mu := &s.locks[maphash.String(s.seed, key)%uint64(len(s.locks))]
	mu.Lock()
	s.items.Delete(key)
	mu.Unlock()
	s.resetWindow(key)
	return nil
}

// janitor evicts expired go-cache items on a ticker until closed.
type janitor struct {
	// sweeps is odd while an eviction pass runs and grows by two per pass:
	// a lock-free decision that sees the same even value before its lookup
	// and after its swap knows no eviction happened in between.
	sweeps   atomic.Uint64
	interval time.Duration
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
}

func (j *janitor) start(items *cache.Cache) {
	j.stop, j.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(j.done)
		t := time.NewTicker(j.interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				j.sweeps.Add(1)
				items.DeleteExpired()
				j.sweeps.Add(1)
			case <-j.stop:
				return
			}
		}
	}()
}

func (j *janitor) close() {
	j.once.Do(func() {
		if j.stop != nil {
			close(j.stop)
			<-j.done
		}
	})
}

// InProcess marks the store as in-process (core.InProcess): the Limiter
// skips its decision timeout, circuit breaker and deny cache for it.
func (s *Store) InProcess() {}
