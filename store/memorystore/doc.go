// Package memorystore is a core.Store for a bot that runs as one process:
// GCRA over github.com/patrickmn/go-cache, with no network and no
// allocation per decision on an existing key.
//
// Every process has its own memorystore, so two instances of a bot each
// enforce the whole limit on their own: use store/redisstore when the bot
// runs on several machines.
//
// # Model
//
// go-cache is the expiring index only. Each key is indexed once, pointing to
// an entry whose TAT (theoretical arrival time, core.Decide) is moved forward
// by compare-and-swap, so concurrent decisions on one key never lose an
// update and need no lock. A naive Get-then-Set on go-cache would: it has one
// lock and no compound atomic operation.
//
// # Expiry
//
// The item's go-cache expiration follows the TAT: it is kept at least half
// the grace (WithGrace, default one minute) beyond the TAT, and refreshed,
// under a per-key lock, when a decision moves the TAT past that margin. An
// entry therefore expires only after it has been fully replenished and idle
// for a while, when forgetting it changes no decision. A janitor goroutine
// evicts expired entries every WithCleanupInterval (default one minute);
// Close stops it.
//
// # Concurrency
//
// A decision that races with an eviction pass, or that finds no entry, or
// must extend an expiration, is decided under one of 64 striped locks that
// every go-cache write of that key also holds, so a key is never indexed
// twice. All methods are safe for concurrent use.
//
// # Time
//
// Decisions use time.Now, or the clock given with WithClock (for tests).
// Store keys and Limits are whatever the core.Limiter passes.
package memorystore
