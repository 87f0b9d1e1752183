// Package memorystore is a core.Store for a bot that runs as one process:
// GCRA over github.com/patrickmn/go-cache, with no network, one clock read
// and no allocation per decision on an existing key.
//
// Every process has its own memorystore, so two instances of a bot each
// enforce the whole limit on their own: use store/redisstore when the bot
// runs on several machines.
//
// # Model
//
// go-cache is the index only, split into 64 shards (one go-cache each,
// chosen by a hash of the key) so that parallel decisions on different keys
// do not meet on one RWMutex. Each key is indexed once and points to an
// entry: for GCRA, a single int64 TAT (theoretical arrival time,
// core.Decide) moved forward by compare-and-swap, so concurrent decisions on
// one key never lose an update and take no lock. A naive Get-then-Set on
// go-cache would: it has no compound atomic operation.
//
// # Expiry
//
// Items have no go-cache expiration (go-cache would read the clock on every
// Get to check it). A janitor goroutine evicts, every WithCleanupInterval
// (default one minute), the entries whose TAT the store clock has passed by
// the grace (WithGrace, default one minute): they are full buckets, so
// forgetting them changes no decision. Close stops it.
//
// # Concurrency
//
// An entry the janitor or Reset removes is first marked dead, by the same
// compare-and-swap decisions use, so a decision either lands before (and
// the entry is no longer idle) or finds it dead and starts over under the
// shard's lock, which every write of the shard's keys holds. A live entry is
// therefore always the indexed one and a swap on it is always recorded. New
// keys are indexed under that lock, so a key is never indexed twice, and
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
// An idle key costs its go-cache map slot (the key string header and an
// interface), the 8-byte entry and the key string itself: about 100 bytes
// (BenchmarkIdleKeys). Each sweep copies one shard's map at a time
// (go-cache's Items), so it allocates about 1/64 of the index at once.
package memorystore
