package core

import (
	"context"
	"errors"
	"time"
)

// Store keeps the state of each key and applies decisions to it
// atomically. Bots do not call a Store: they hand one to New and call the
// Limiter (package outbound calls TakeAll and Block). floodgate ships
// store/memorystore (one process) and store/redisstore (many processes),
// and Resilient wraps a remote store with a timeout, a circuit breaker and
// a failure policy.
//
// # Contract for implementers
//
// Time is the store's own clock in whole microseconds, one clock shared by
// every process using the store (Redis' TIME, or the process clock of an
// in-process store). The arithmetic is package core/decide's, written once:
//
//   - Take under a GCRA Limit: atomically read the key's theoretical
//     arrival time (TAT; absent is 0), compute decide.GCRA, and, only when
//     the result is Allowed, write the new TAT with a time to live of at
//     least newTAT−now, rounded up to the store's TTL unit. A denial writes
//     nothing. Under a SlidingWindow Limit, Take is TakeAll over one lane.
//   - Peek: return what Take(ctx, key, limit, 1) would return, writing
//     nothing.
//   - Reset: forget the key; resetting an unknown key is not an error.
//   - Block: make the key admit nothing under limit for d from now
//     (decide.BlockGCRA, decide.BlockWindow), shared by every process; a
//     Block never shortens an earlier one, and sets a time to live.
//   - TakeAll: decide cost n on every lane with decide.Lanes and record it
//     on all of them, or on none (all or nothing), atomically. The Result
//     is the binding lane's.
//   - Reserve: read every lane's log, compute decide.Reserve, and, when it
//     records the slot, write every lane's new log, atomically; the logs
//     may then hold events ahead of now and more than Rate of them, which
//     TakeAll, Peek and Block must keep counting (decide.Window and
//     decide.BlockWindow do).
//
// Concurrent calls on one key are linearizable: 64 goroutines racing on a
// frozen clock admit exactly Burst events. Every write sets a time to
// live, so no key lives forever.
//
// GCRA and SlidingWindow state never share a key (a Limiter gives window
// keys a ":win" suffix), but a key may still hold something a store cannot
// read: another algorithm's state, a value corrupted by hand, a value out
// of range. Such a key is the key's problem only. A store should heal it:
// read it as absent and overwrite it, with a time to live, on the next
// write, and never return an error for it. A store that cannot must return
// an error wrapping ErrKeyFault, which never counts against the store as a
// whole (see Resilient). An error wrapping ErrMisconfigured reports a
// fault of the deployment (a missing permission); every other error means
// the store itself failed.
//
// The caller has validated every limit, checked 1 ≤ n ≤ Burst (Rate for
// lanes), 0 < d ≤ MaxBlock, 0 ≤ from ≤ MaxBlock and within ≤ MaxBlock,
// that lanes are SlidingWindow Limits on distinct keys, and that ctx is
// not done. Keys are at most a few hundred bytes of printable ASCII and
// may carry a Redis Cluster hash tag ("{...}"); the keys of one TakeAll or
// Reserve share one. Methods honour ctx where they do I/O, return errors
// prefixed with the package name and wrapped with %w, and
// are safe for concurrent use.
//
// Package store/storetest checks all of this: run storetest.Run against
// your store.
type Store interface {
	// Take applies cost n to key under limit and returns the decision.
	Take(ctx context.Context, key string, limit Limit, n int) (Result, error)
	// Peek returns the decision Take(ctx, key, limit, 1) would make,
	// recording nothing.
	Peek(ctx context.Context, key string, limit Limit) (Result, error)
	// Reset forgets key.
	Reset(ctx context.Context, key string) error
	// Block makes key admit nothing under limit for d from now, on every
	// process sharing the store, without shortening an earlier block.
	Block(ctx context.Context, key string, limit Limit, d time.Duration) error
	// TakeAll admits cost n only if every lane admits it, and then records
	// it on every lane; otherwise it records nothing. The Result is the
	// binding lane's: when denied, the lane with the longest RetryAfter;
	// when admitted, the lane with the fewest Remaining (the first on a
	// tie).
	TakeAll(ctx context.Context, lanes []Lane, n int) (Result, error)
	// Reserve finds the earliest instant, from now+from on, at which every
	// lane admits cost n, counting the slots already reserved ahead, and
	// records it on every lane when it lies at most within from now; it
	// records nothing otherwise. The Result's RetryAfter is the wait until
	// that instant, Allowed that it was recorded (the caller then sends at
	// that instant, asking nothing more). A within below from only looks.
	// Slots are recorded in the order calls reach the store: a later call
	// never takes an instant an earlier one was given.
	Reserve(ctx context.Context, lanes []Lane, n int, from, within time.Duration) (Result, error)
}

// Lane is one limit a TakeAll must satisfy: a full store key and its
// SlidingWindow Limit. Package outbound paces a bot's own requests over a
// global lane and a per-chat lane this way.
type Lane struct {
	Key   string
	Limit Limit
}

// MaxBlock is the longest Block a store accepts: 30 days.
const MaxBlock = 30 * 24 * time.Hour

var (
	// ErrKeyFault is wrapped by a store error that concerns one key only:
	// a value the store can neither read nor heal. It never counts against
	// the store as a whole.
	ErrKeyFault = errors.New("fault of one key")
	// ErrMisconfigured is wrapped by a store error caused by the
	// deployment, not by an outage: a permission the store's user lacks.
	// Fix the configuration; retrying does not help.
	ErrMisconfigured = errors.New("store misconfigured")
)
