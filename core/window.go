package core

import (
	"context"
	"fmt"
	"time"
)

// Algorithm selects how a Limit is enforced.
type Algorithm uint8

const (
	// GCRA (the zero value) spaces events Period/Rate apart on average and
	// lets Burst of them through at once after a quiet spell. It keeps one
	// integer per key whatever the Limit, so it suits per-user limits. Over
	// any span of Period it may admit up to Burst + Rate - 1 events: "20/m"
	// is a rate, not a cap on every minute.
	GCRA Algorithm = iota
	// SlidingWindow admits at most Rate events in ANY span of Period, which
	// is what an upstream quota such as "20 messages per minute to one
	// group" means. It remembers the time of each of the last Rate events,
	// so a key costs O(Rate) memory and time: keep Rate small (at most
	// MaxWindowRate). Burst must equal Rate.
	SlidingWindow
)

// MaxWindowRate is the largest Rate a SlidingWindow Limit may have: each
// key keeps one timestamp per admitted event still in its window.
const MaxWindowRate = 10_000

// String returns "gcra" or "window".
func (a Algorithm) String() string {
	switch a {
	case GCRA:
		return "gcra"
	case SlidingWindow:
		return "window"
	}
	return fmt.Sprintf("Algorithm(%d)", uint8(a))
}

// Window returns a SlidingWindow Limit: at most n events in any span of
// period (n ≥ 1, period ≥ MinPeriod; Validate says what is wrong otherwise).
func Window(n int, period time.Duration) Limit {
	return Limit{Rate: n, Period: period, Burst: n, Algorithm: SlidingWindow}
}

// DecideWindow is the sliding-window decision every store implements,
// written once in Go; the Redis store runs the same arithmetic in Lua.
//
// times are the admission times of the key's recorded events in
// microseconds on the store clock, oldest first, at most l.Rate of them (a
// key never seen has none). An event at t counts while now < t + Period.
// n is the cost (1 ≤ n ≤ l.Rate) and l a valid SlidingWindow Limit.
//
// When the result is Allowed, log is what to store: the events still in
// the window followed by n copies of the admission time, oldest first. The
// admission time is now, or the newest recorded time if that is later (a
// clock that stepped back, or a Block), so the log stays ordered and no
// event is forgotten early. log reuses times' backing array, so a caller
// that keeps cap(times) ≥ l.Rate allocates nothing. The key's time to live
// must be at least ResetAfter. When denied, log is times and nothing must
// be written.
//
// Result.Remaining is how many unit events fit now; RetryAfter the wait
// until the same request fits; ResetAfter the time until the window is
// empty.
func DecideWindow(l Limit, times []int64, now int64, n int) (res Result, log []int64) {
	p := l.Period.Microseconds()
	gone := 0
	for gone < len(times) && times[gone]+p <= now {
		gone++
	}
	live := len(times) - gone
	res.Limit = l
	if live+n > l.Rate {
		// The (live+n-Rate)-th oldest live event must leave first.
		res.RetryAfter = micros(times[gone+live+n-l.Rate-1] + p - now)
		res.ResetAfter = micros(times[len(times)-1] + p - now)
		res.Remaining = max(0, l.Rate-live)
		return res, times
	}
	at := now
	if live > 0 {
		at = max(at, times[len(times)-1])
	}
	log = times[:copy(times, times[gone:])]
	for range n {
		log = append(log, at)
	}
	res.Allowed = true
	res.Remaining = l.Rate - live - n
	res.ResetAfter = micros(at + p - now)
	return res, log
}

// BlockWindow returns the log that makes a SlidingWindow key admit nothing
// for d from now, given its current log (oldest first, as in
// DecideWindow): every one of the Rate slots holds at least now+d-Period,
// and slots already blocked for longer keep their time, so a block never
// shortens an earlier one. The key's time to live must be at least the
// returned ttl.
func BlockWindow(l Limit, times []int64, now int64, d time.Duration) (log []int64, ttl time.Duration) {
	p := l.Period.Microseconds()
	floor := now + d.Microseconds() - p
	log = make([]int64, l.Rate)
	// Align the newest events with the newest slots.
	off := l.Rate - len(times)
	for i := range log {
		log[i] = floor
		if j := i - off; j >= 0 && times[j] > floor {
			log[i] = times[j]
		}
	}
	return log, micros(max(log[l.Rate-1]+p-now, 0))
}

// Lane is one limit a multi-lane decision (LaneStore.TakeAll) must satisfy:
// a full store key and its SlidingWindow Limit.
type Lane struct {
	Key   string
	Limit Limit
}

// LaneStore is a Store that can decide several SlidingWindow keys at once
// and block one for a while. memorystore, redisstore and the Limiter's
// in-process fallback implement it. outbound uses it to pace a bot's
// requests to Telegram over the global, per-chat and paid-broadcast lanes
// together.
//
// In Redis Cluster all keys of one TakeAll must hash to one slot: give them
// one hash tag, as in "floodgate:{bot:123}:out:chat:-100".
type LaneStore interface {
	Store
	// TakeAll admits cost n only if every lane admits it, and then records
	// it on every lane; otherwise it records nothing. Every lane's Limit is
	// a valid SlidingWindow Limit with n ≤ Rate, and keys are distinct
	// (the Limiter checks). The Result is the binding lane's: when denied,
	// the lane with the longest RetryAfter; when admitted, the lane with
	// the fewest Remaining (the first on a tie).
	TakeAll(ctx context.Context, lanes []Lane, n int) (Result, error)
	// Block makes key, a lane under the SlidingWindow Limit l, admit
	// nothing for d (see BlockWindow): a block shared by every process
	// using the store, e.g. after Telegram answered 429 with retry_after.
	// It never shortens an existing block; d ≤ 0 does nothing.
	Block(ctx context.Context, key string, l Limit, d time.Duration) error
}

// bindingLane merges the result of one more lane into the binding result
// so far (see LaneStore.TakeAll); first reports that r is the first lane.
func bindingLane(best, r Result, first bool) Result {
	switch {
	case first:
		return r
	case !r.Allowed && (best.Allowed || r.RetryAfter > best.RetryAfter):
		return r
	case r.Allowed && best.Allowed && r.Remaining < best.Remaining:
		return r
	}
	return best
}

// DecideLanes runs DecideWindow on every lane, all or nothing: logs[i] is
// lane i's current log (oldest first), which DecideLanes replaces with the
// log to store when the result is Allowed. In-process LaneStores call it
// while they hold every lane's lock.
func DecideLanes(lanes []Lane, logs [][]int64, now int64, n int) Result {
	var best Result
	next := make([][]int64, len(lanes))
	for i, ln := range lanes {
		r, log := DecideWindow(ln.Limit, append([]int64(nil), logs[i]...), now, n)
		next[i] = log
		best = bindingLane(best, r, i == 0)
	}
	if best.Allowed {
		copy(logs, next)
	}
	return best
}
