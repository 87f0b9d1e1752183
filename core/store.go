package core

import "context"

// Store keeps one GCRA state per key and applies decisions to it atomically.
// Users do not call a Store; they hand one to New and call the Limiter.
// floodgate ships two: store/memorystore (one process, go-cache) and
// store/redisstore (many processes, Redis).
//
// # Contract for implementers
//
// A third-party Store must, for every key:
//
//   - Take: atomically read the key's TAT, compute Decide(limit, tat, now, n)
//     with now from a single clock shared by every process using the store,
//     and, only when the result is Allowed, write the new TAT with a time to
//     live of at least newTAT-now (so no key lives forever and none expires
//     early). A denial writes nothing. Concurrent Takes on one key must be
//     linearizable: 64 goroutines racing on a frozen clock admit exactly
//     Burst events.
//   - Peek: return what Take(ctx, key, limit, 1) would return, writing
//     nothing.
//   - Reset: forget the key (a Reset key behaves as never seen).
//
// The limit is passed on every call, so one key may be decided under
// different limits over time; the TAT stays meaningful across them. The
// caller has validated limit, checked 1 ≤ n ≤ limit.Burst, and checked that
// ctx is not done. Keys are at most a few hundred bytes of printable ASCII
// and may carry a Redis Cluster hash tag ("{...}").
//
// Methods honour ctx cancellation where they do I/O and return errors
// prefixed with the package name and wrapped with %w. A Store is safe for
// concurrent use. internal/testutil.RunStoreSuite checks all of this; run it
// against your store.
type Store interface {
	// Take applies cost n to key under limit and returns the decision.
	Take(ctx context.Context, key string, limit Limit, n int) (Result, error)
	// Peek returns the decision Take(ctx, key, limit, 1) would make, without
	// recording anything.
	Peek(ctx context.Context, key string, limit Limit) (Result, error)
	// Reset forgets key. Resetting an unknown key is not an error.
	Reset(ctx context.Context, key string) error
}
