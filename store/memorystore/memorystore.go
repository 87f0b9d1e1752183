package memorystore

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/core/decide"
	"github.com/patrickmn/go-cache"
)

// ErrTooManyKeys is returned (wrapped) by Block for a new key while the
// store holds WithMaxKeys keys. A decision on a new key is a denial
// instead (see WithMaxKeys). Keys already held keep working.
var ErrTooManyKeys = errors.New("memorystore: too many keys")

// Defaults of the options.
const (
	// DefaultGrace is how long an entry outlives its TAT before the janitor
	// may evict it.
	DefaultGrace = time.Minute
	// DefaultCleanupInterval is how often the janitor evicts idle entries.
	DefaultCleanupInterval = time.Minute
	// DefaultMaxKeys is how many keys a Store holds at most unless
	// WithMaxKeys says otherwise: about 140 MB of GCRA keys, and far more
	// users than one process sees within a few minutes (a key is evicted
	// about the grace plus one cleanup interval after its state has run
	// out). A flood of fresh ids (forged updates behind an unauthenticated
	// webhook) stops there instead of at the machine's memory.
	DefaultMaxKeys = 1_000_000
)

// Store is a core.Store for one process, built on go-cache. Create it with
// New and stop its janitor with Close. It is safe for concurrent use.
type Store struct {
	*index  // shared with the janitor goroutine, which must not keep the Store alive
	janitor *janitor
}

var _ core.Store = (*Store)(nil)

// index is the store's state: the keys, in go-cache shards, and the clock.
type index struct {
	shards  [numShards]shard
	seed    maphash.Seed
	clock   func() time.Time // WithClock; nil: the monotonic clock below
	start   time.Time        // origin of the monotonic clock (carries a monotonic reading)
	startUS int64            // start on the wall clock, µs
	grace   int64            // µs
	maxKeys int64            // 0: no cap
	keys    atomic.Int64     // keys indexed, dead entries not yet deleted included
}

// numShards is how many go-cache instances share the keys. Each has its own
// RWMutex, so parallel decisions on different keys rarely meet on one lock.
const numShards = 64

// shard is one go-cache and the lock every write of its keys holds.
type shard struct {
	// items maps a key to its entry. Nothing in it has a go-cache
	// expiration: Get then reads no clock, and the janitor does the expiry.
	items *shardItems
	// mu is held by every Set and Delete of this shard's keys, so a key is
	// never indexed twice and a live entry is never replaced.
	mu sync.Mutex
	_  [64 - 16]byte // one cache line per shard: a write to mu slows no reader of another shard
}

// shardItems is a shard's go-cache behind a pointer, so that a sweep can
// replace a map that has emptied with a compact copy: a Go map never
// shrinks, so after a flood of fresh keys the emptied buckets would stay
// allocated for good. Lookups load the pointer without a lock; every
// write holds the shard lock and writes the current cache. A lookup that
// raced with a swap reads the old cache, whose entries are the same
// pointers: a dead entry, or a key missing there, sends the decision to
// the shard lock, which reads the current one.
type shardItems struct {
	c atomic.Pointer[cache.Cache]
	// peak is the most items the current cache has held; under the
	// shard lock.
	peak int
}

func newShardItems() *shardItems {
	s := &shardItems{}
	s.c.Store(cache.New(cache.NoExpiration, 0)) // no go-cache janitor: ours below
	return s
}

// Get returns key's entry.
func (s *shardItems) Get(key string) (any, bool) { return s.c.Load().Get(key) }

// Set indexes v for key; the caller holds the shard lock. d must be
// cache.NoExpiration.
func (s *shardItems) Set(key string, v any, d time.Duration) {
	c := s.c.Load()
	c.Set(key, v, d)
	s.peak = max(s.peak, c.ItemCount())
}

// Delete drops key; the caller holds the shard lock.
func (s *shardItems) Delete(key string) { s.c.Load().Delete(key) }

// ItemCount returns how many items the shard holds.
func (s *shardItems) ItemCount() int { return s.c.Load().ItemCount() }

// Items returns a copy of the shard's items.
func (s *shardItems) Items() map[string]cache.Item { return s.c.Load().Items() }

// minCompact is the peak below which a shard's map is never rebuilt: a
// few hundred idle slots cost less than copying them.
const minCompact = 256

// compact replaces the cache with a copy sized for what it holds once it
// holds under a quarter of its peak; the caller holds the shard lock.
func (s *shardItems) compact() {
	c := s.c.Load()
	n := c.ItemCount()
	if s.peak < minCompact || n > s.peak/4 {
		return
	}
	s.c.Store(cache.NewFrom(cache.NoExpiration, 0, c.Items()))
	s.peak = n
}

// entry is what the index holds for a key, one kind per algorithm (GCRA
// keys hold a *gcraEntry). The janitor knows entries only by this method.
//
// Every kind follows one rule: a live entry is always the one indexed for
// its key. Only a dead entry is deleted or replaced, and a decision that
// meets a dead entry is made again under the shard lock, where it finds the
// key absent or a fresh entry. A decision made on a live entry is therefore
// recorded, whatever the janitor does meanwhile.
type entry interface {
	// retire marks the entry dead if it has been idle since cutoff or
	// earlier (µs on the store clock), where idle means that forgetting the
	// entry changes no decision. It reports whether this call did so. A dead
	// entry never comes back to life. retire(math.MaxInt64) kills a live
	// entry whatever its state (Reset).
	retire(cutoff int64) bool
}

// gcraEntry is a GCRA key's state: its theoretical arrival time, in µs on
// the store clock, moved forward by compare-and-swap, or dead.
type gcraEntry struct{ tat atomic.Int64 }

// dead is the TAT of a retired gcraEntry. Real TATs are positive.
const dead = math.MinInt64

// take decides on e without a lock. ok is false when e is dead: the caller
// must decide again on the key's current entry. Take has the same loop
// written out.
func (e *gcraEntry) take(l core.Limit, now int64, n int) (res core.Result, ok bool) {
	for {
		old := e.tat.Load()
		if old == dead {
			return core.Result{}, false
		}
		res, next := decide.GCRA(l, old, now, n)
		// A denial writes nothing; an admission counts once its swap lands.
		if !res.Allowed || e.tat.CompareAndSwap(old, next) {
			return res, true
		}
	}
}

// retire implements entry. A GCRA key is idle once its TAT has passed:
// it is back to a full burst, exactly like a key never seen.
func (e *gcraEntry) retire(cutoff int64) bool {
	for {
		t := e.tat.Load()
		if t == dead || t > cutoff {
			return false
		}
		if e.tat.CompareAndSwap(t, dead) {
			return true
		}
	}
}

// Option configures a Store.
type Option func(*Store)

// WithClock makes the store read time from now instead of its own clock, so
// tests can freeze and move time. The janitor reads the same clock: an idle
// entry is evicted once now has passed its TAT by the grace, so a frozen
// clock evicts nothing until it is moved.
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.clock = now }
}

// WithGrace sets how long an entry outlives its TAT (default DefaultGrace,
// minimum 1s). Longer keeps idle keys in memory longer; it never changes a
// decision, since an entry past its TAT is a full bucket either way.
func WithGrace(d time.Duration) Option {
	return func(s *Store) { s.grace = max(d, time.Second).Microseconds() }
}

// WithCleanupInterval sets how often the janitor evicts idle entries
// (default DefaultCleanupInterval). d ≤ 0 disables the janitor; idle entries
// then stay until Reset.
func WithCleanupInterval(d time.Duration) Option {
	return func(s *Store) { s.janitor = &janitor{interval: d} }
}

// WithMaxKeys caps the number of keys held (default DefaultMaxKeys; n ≤ 0
// removes the cap), so a flood of fresh user ids cannot exhaust memory. While the store holds n keys, a
// Take on a new key, or a TakeAll with a lane on one, is a denial (no
// error) with Remaining 0 and RetryAfter and ResetAfter one Interval of
// that key's Limit, recording nothing; Block on a new key returns an error
// wrapping ErrTooManyKeys; Peek answers as usual. Keys already held keep
// working. The cap is exact: Len never exceeds n, however many goroutines
// add keys. Keys count until Reset or the janitor deletes them.
func WithMaxKeys(n int) Option { return func(s *Store) { s.maxKeys = int64(max(n, 0)) } }

// Cap returns the most keys the store holds (WithMaxKeys), or 0 for no
// cap.
func (s *Store) Cap() int { return int(s.maxKeys) }

// New returns an empty Store and starts its janitor.
func New(opts ...Option) *Store {
	start := time.Now()
	s := &Store{
		index: &index{
			seed:    maphash.MakeSeed(),
			start:   start,
			startUS: start.UnixMicro(),
			grace:   DefaultGrace.Microseconds(),
			maxKeys: DefaultMaxKeys,
		},
		janitor: &janitor{interval: DefaultCleanupInterval},
	}
	for _, opt := range opts {
		opt(s)
	}
	for i := range s.shards {
		s.shards[i].items = newShardItems()
	}
	if s.janitor.interval > 0 {
		s.janitor.start(s.index)
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

// Len returns how many keys the store holds, counting idle entries the
// janitor has not evicted yet.
func (s *Store) Len() int { return int(s.keys.Load()) }

// now reads the store clock, in µs. Without WithClock it is the wall time
// at New plus the monotonic time since: one reading of the monotonic clock
// (about half the cost of time.Now, which reads two clocks), and immune to
// steps of the wall clock.
func (x *index) now() int64 {
	if x.clock != nil {
		return x.clock().UnixMicro()
	}
	return x.startUS + time.Since(x.start).Microseconds()
}

func (x *index) shard(key string) *shard {
	return &x.shards[maphash.String(x.seed, key)%numShards]
}

// Take implements core.Store.
func (s *Store) Take(ctx context.Context, key string, l core.Limit, n int) (core.Result, error) {
	if l.Algorithm == core.SlidingWindow {
		return s.TakeAll(ctx, []core.Lane{{Key: key, Limit: l}}, n)
	}
	now := s.now()
	sh := s.shard(key)
	if v, ok := sh.items.Get(key); ok {
		if e, ok := v.(*gcraEntry); ok {
			// e.take, written out: a Result is nine words, and passing it
			// up through one more call cost ~7% of a decision.
			for {
				old := e.tat.Load()
				if old == dead {
					break
				}
				res, next := decide.GCRA(l, old, now, n)
				if !res.Allowed || e.tat.CompareAndSwap(old, next) {
					return res, nil
				}
			}
		}
	}
	return s.takeLocked(sh, key, l, n, now)
}

// takeLocked decides under the shard lock, for a key that was absent, dead
// or held another kind of entry when Take looked.
func (x *index) takeLocked(sh *shard, key string, l core.Limit, n int, now int64) (core.Result, error) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if v, ok := sh.items.Get(key); !ok {
		if !x.addKey() {
			return full(l), nil
		}
	} else if e, ok := v.(*gcraEntry); ok {
		if res, ok := e.take(l, now, n); ok {
			return res, nil // indexed by another decision since Take looked
		}
	} else {
		v.(entry).retire(math.MaxInt64) // the key changed algorithm: start over
	}
	// The key is absent, or its entry dead or retired above: nobody else can
	// index it while we hold the lock, so it starts from a full bucket, as a
	// key never seen.
	e := &gcraEntry{}
	res, next := decide.GCRA(l, 0, now, n)
	e.tat.Store(next)
	sh.items.Set(key, e, cache.NoExpiration)
	return res, nil
}

// full is the decision on a new key while the store holds WithMaxKeys
// keys: a denial, retried after one interval. Its RetryAfter is no longer
// than the limit alone imposes, so a guard does not read it as a penalty.
func full(l core.Limit) core.Result {
	return core.Result{Limit: l, RetryAfter: l.Interval(), ResetAfter: l.Interval()}
}

// addKey counts a key about to be indexed, or reports that the cap is
// reached. The caller holds the key's shard lock.
func (x *index) addKey() bool {
	if x.maxKeys == 0 {
		x.keys.Add(1)
		return true
	}
	for {
		k := x.keys.Load()
		if k >= x.maxKeys {
			return false
		}
		if x.keys.CompareAndSwap(k, k+1) {
			return true
		}
	}
}

// Peek implements core.Store.
func (s *Store) Peek(_ context.Context, key string, l core.Limit) (core.Result, error) {
	if l.Algorithm == core.SlidingWindow {
		return s.peekWindow(key, l), nil
	}
	now := s.now()
	var tat int64 // a dead or absent entry is a key never seen
	if v, ok := s.shard(key).items.Get(key); ok {
		if e, ok := v.(*gcraEntry); ok {
			tat = max(e.tat.Load(), 0)
		}
	}
	res, _ := decide.GCRA(l, tat, now, 1)
	return res, nil
}

// Reset implements core.Store.
func (s *Store) Reset(_ context.Context, key string) error {
	sh := s.shard(key)
	sh.mu.Lock()
	if v, ok := sh.items.Get(key); ok {
		// Kill it first, so a decision holding it swaps in vain and starts
		// over on the key's next entry.
		v.(entry).retire(math.MaxInt64)
		sh.items.Delete(key)
		s.keys.Add(-1)
	}
	sh.mu.Unlock()
	return nil
}

// sweep evicts the entries idle for the grace or longer, one shard at a
// time. It retires each one first (no lock: a decision racing with it either
// lands first, and the entry is no longer idle, or finds it dead and starts
// over), then deletes the retired ones under the shard lock, and rebuilds
// a shard's map that holds under a quarter of its peak (shardItems), so
// the memory of a flood of fresh keys comes back once they expire.
func (x *index) sweep() {
	cutoff := x.now() - x.grace
	type victim struct {
		key string
		e   any
	}
	var retired []victim
	for i := range x.shards {
		sh := &x.shards[i]
		retired = retired[:0]
		for k, it := range sh.items.Items() { // a copy: decisions go on meanwhile
			if it.Object.(entry).retire(cutoff) {
				retired = append(retired, victim{k, it.Object})
			}
		}
		sh.mu.Lock()
		for _, r := range retired {
			// A decision or Reset may have replaced or deleted it since.
			if v, ok := sh.items.Get(r.key); ok && v == r.e {
				sh.items.Delete(r.key)
				x.keys.Add(-1)
			}
		}
		sh.items.compact() // also after Resets emptied it
		sh.mu.Unlock()
		clear(retired) // let the victims go before the next shard's copy
	}
}

// janitor sweeps the index on a ticker until closed.
type janitor struct {
	interval time.Duration
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
}

func (j *janitor) start(x *index) {
	j.stop, j.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(j.done)
		t := time.NewTicker(j.interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				x.sweep()
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

// blockGCRA is Block under a GCRA limit: the key's TAT moves to
// decide.BlockGCRA's, never back.
func (x *index) blockGCRA(key string, l core.Limit, d time.Duration) error {
	now := x.now()
	sh := x.shard(key)
	for {
		if v, ok := sh.items.Get(key); ok {
			if e, ok := v.(*gcraEntry); ok {
				old := e.tat.Load()
				if old != dead && e.tat.CompareAndSwap(old, decide.BlockGCRA(l, max(old, 0), now, d)) {
					return nil
				}
				if old != dead {
					continue // another decision moved it: block on top of that
				}
			}
		}
		if done, err := x.blockLocked(sh, key, l, now, d); done || err != nil {
			return err
		}
	}
}

// blockLocked indexes a blocked GCRA entry for key under the shard lock,
// unless a live one appeared since blockGCRA looked (done is then false).
func (x *index) blockLocked(sh *shard, key string, l core.Limit, now int64, d time.Duration) (done bool, err error) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	v, ok := sh.items.Get(key)
	switch {
	case !ok:
		if !x.addKey() {
			return false, fmt.Errorf("%w (limit %d)", ErrTooManyKeys, x.maxKeys)
		}
	case isLiveGCRA(v):
		return false, nil
	default:
		v.(entry).retire(math.MaxInt64) // dead, or the key changed algorithm
	}
	e := &gcraEntry{}
	e.tat.Store(decide.BlockGCRA(l, 0, now, d))
	sh.items.Set(key, e, cache.NoExpiration)
	return true, nil
}

func isLiveGCRA(v any) bool {
	e, ok := v.(*gcraEntry)
	return ok && e.tat.Load() != dead
}
