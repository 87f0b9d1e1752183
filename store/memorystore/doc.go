// Package memorystore is a [core.Store] for a bot that runs as one
// process: GCRA and sliding windows over github.com/patrickmn/go-cache,
// with no network, one clock read and no allocation per GCRA decision on
// an existing key. It implements the whole core.Store contract (Take,
// Peek, Reset, Block, TakeAll) with package core/decide's arithmetic, and
// passes store/storetest. Its methods never return an error but Block's
// ErrTooManyKeys (see Capacity).
//
// Every process has its own memorystore, so two instances of a bot each
// enforce the whole limit on their own: use store/redisstore when the bot
// runs on several machines. A memorystore is also the fallback a
// core.Resilient store decides with while Redis is out (FailLocal).
//
// # Model
//
// go-cache is the index only, split into 64 shards (one go-cache each,
// chosen by a hash of the key) so that parallel decisions on different keys
// do not meet on one RWMutex. Each key is indexed once and points to an
// entry. A GCRA entry is a single int64, the theoretical arrival time (TAT)
// of decide.GCRA, moved forward by compare-and-swap, so concurrent
// decisions and blocks on one key never lose an update and take no lock. A
// naive Get-then-Set on go-cache would: it has no compound atomic
// operation. A sliding-window entry is its events' times under a mutex;
// TakeAll locks the entries of all its lanes, in key order, and decides
// them with decide.Lanes, all or nothing.
//
// A key holding the other algorithm's entry (a Limit switched without the
// Limiter's ":win" key suffix) is read as absent and replaced on the next
// write, never an error.
//
// # Expiry
//
// Items have no go-cache expiration (go-cache would read the clock on every
// Get to check it). A janitor goroutine evicts, every WithCleanupInterval
// (default one minute), the entries whose state the store clock has passed
// by the grace (WithGrace, default one minute): a GCRA entry past its TAT,
// a window whose newest event has left it. They are a full budget, so
// forgetting them changes no decision. Close stops the janitor.
//
// # Capacity
//
// A Store holds at most DefaultMaxKeys keys (1,000,000, about 140 MB of
// GCRA keys) unless WithMaxKeys says otherwise; WithMaxKeys(0) removes
// the cap. At the cap a decision on a new key
// (Take, or a TakeAll with a lane on one) is a denial, retried after one
// Interval of its Limit, not an error: an in-process store that is full
// is not an outage, and keys already held keep deciding exactly. Block on
// a new key returns an error wrapping ErrTooManyKeys, since a block that
// is not recorded must not pass silently. Peek never adds a key. The cap
// frees up as the janitor evicts idle keys (the grace plus at most one
// cleanup interval after their state has run out), so a flood of forged
// ids shuts new users out for minutes, never for good, and never takes
// the process's memory.
//
// # Concurrency
//
// An entry the janitor or Reset removes is first marked dead (a GCRA entry
// by the same compare-and-swap decisions and blocks use; a window entry
// under its mutex), so a decision either lands before (and the entry is no
// longer idle) or finds it dead and starts over under the shard's lock,
// which every write of the shard's keys holds. A live entry is therefore
// always the indexed one and a write to it is always recorded. New keys
// are indexed under that lock, so a key is never indexed twice, and
// WithMaxKeys is an exact cap. All methods are safe for concurrent use.
//
// # Time
//
// Decisions use the store clock: the wall time at New plus the monotonic
// time since, so a step of the wall clock neither frees nor blocks anybody.
// WithClock replaces it (for tests), for eviction too. Store keys and Limits
// are whatever the core.Limiter passes.
//
// # Memory
//
// An idle GCRA key costs its go-cache map slot (the key string header and
// an interface), the 8-byte entry and the key string itself: about 140
// bytes with a 26-byte key (BenchmarkIdleKeys, Go 1.26). A window key adds Rate times 8 bytes. Each
// sweep copies one shard's map at a time (go-cache's Items), so it
// allocates about 1/64 of the index at once.
//
// A Go map never gives its buckets back, so a sweep that leaves a shard
// with under a quarter of the most keys it has held rebuilds that shard's
// map at its present size. After a flood of fresh ids has expired, the
// memory comes back: 2M keys (half of them penalty blocks) took the heap
// from 2.3 MB to 269 MB, and once they expired and 20k new keys came, it
// was 2.3 MB again (TestMemoryComesBackAfterFlood; 193 MB before the
// rebuild existed).
package memorystore
