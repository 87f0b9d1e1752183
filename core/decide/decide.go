// Package decide is the arithmetic every floodgate store runs, written
// once: GCRA and sliding-window decisions, lanes, and blocks, on integer
// microseconds of the store's clock. It is for store implementers; bots
// use core.Limiter.
//
// A store keeps one state per key (a GCRA theoretical arrival time, or a
// window's event times), reads it atomically, calls the function below
// with its own clock, and writes back what the function returns, with a
// time to live, all in one atomic step. store/memorystore calls these
// functions; store/redisstore runs the same arithmetic in Lua, and
// store/storetest checks that a store's answers equal these functions'
// step by step.
//
// Inputs are trusted: the caller has validated every Limit and checked
// the cost (1 ≤ n ≤ Burst) and the block (0 < d ≤ core.MaxBlock). Every
// value stays below 2^53, so Lua's doubles compute what Go computes.
package decide

import (
	"time"

	"github.com/floodgate-go/floodgate/core"
)

// GCRA decides an event of cost n at now under the GCRA Limit l, for a key
// whose stored theoretical arrival time (TAT) is tat: the instant the key
// would be fully replenished, 0 for a key never seen. An event is admitted
// when max(tat, now) + n·T − Burst·T ≤ now, T being l.Interval(), and the
// TAT then moves to max(tat, now) + n·T.
//
// When the result is Allowed, newTAT is the value to store, with a time to
// live of at least newTAT−now; when denied, newTAT == tat and nothing must
// be written, so a denied caller cannot extend its own wait.
func GCRA(l core.Limit, tat, now int64, n int) (res core.Result, newTAT int64) {
	t := l.Interval().Microseconds()
	tolerance := int64(l.Burst) * t
	base := max(tat, now)
	next := base + int64(n)*t
	allowAt := next - tolerance
	res.Limit = l
	if allowAt > now {
		res.RetryAfter = micros(allowAt - now)
		res.ResetAfter = micros(base - now)
		res.Remaining = int(max(0, tolerance-(base-now)) / t)
		return res, tat
	}
	res.Allowed = true
	res.Remaining = int((now - allowAt) / t)
	res.ResetAfter = micros(next - now)
	return res, next
}

// BlockGCRA returns the TAT that makes a GCRA key admit nothing for d from
// now: now + d + (Burst−1)·T, or tat if that is later (a block never
// shortens an earlier one). When the block ends one event is admitted, and
// the key is full again (Burst−1)·T later. The key's time to live must be
// at least the returned TAT − now.
func BlockGCRA(l core.Limit, tat, now int64, d time.Duration) int64 {
	t := l.Interval().Microseconds()
	return max(tat, now+d.Microseconds()+int64(l.Burst-1)*t)
}

// ValidTAT reports whether tat, read from a store, can be a GCRA state at
// now: no real state lies further ahead than the longest Limit allows
// (about 35 years) plus the longest block. (A TAT at or before now is a
// full budget, like an absent key.) A store treats any other value
// as absent and overwrites it (healing a key corrupted by hand); memory
// stores never hold one.
func ValidTAT(tat, now int64) bool { return tat <= now+maxAhead }

// maxAhead bounds how far ahead of the clock a stored time can lie: 2^51
// µs (about 71 years), above every tolerance a valid Limit has (2^50 µs)
// plus core.MaxBlock.
const maxAhead = int64(1) << 51

// Window decides an event of cost n at now under the SlidingWindow Limit l,
// for a key whose recorded admission times are times (oldest first, at
// most l.Rate of them; none for a key never seen). An event at t counts
// while now < t + Period.
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
func Window(l core.Limit, times []int64, now int64, n int) (res core.Result, log []int64) {
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

// ValidTimes reports whether times, read from a store, can be a window's
// log at now: oldest first, none further ahead than a block allows. A store
// treats any other log as absent and overwrites it.
func ValidTimes(times []int64, now int64) bool {
	for i, t := range times {
		if t > now+maxAhead || i > 0 && t < times[i-1] {
			return false
		}
	}
	return true
}

// BlockWindow returns the log that makes a SlidingWindow key admit nothing
// for d from now, given its current log (oldest first): Rate events at
// now+d−Period, followed by the events recorded after that instant, which
// keep their time (slots reserved ahead are sends already promised), so a
// block never shortens an earlier one. An instant holding Rate events is a
// barrier to Reserve: no slot is placed before it. The whole window is
// free again when the block ends, unless later events hold it. When an
// instant from now+d−Period on already holds Rate events (a longer block,
// or Rate slots at one instant), the log is returned unchanged: so a log
// holds at most one block's mark. The key's time to live must be at least
// the returned ttl.
func BlockWindow(l core.Limit, times []int64, now int64, d time.Duration) (log []int64, ttl time.Duration) {
	p := l.Period.Microseconds()
	floor := now + d.Microseconds() - p
	if k := len(times); k > 0 && barrier(l, times) >= floor {
		// An instant from floor on already holds Rate events: it bars
		// every slot before floor+Period. Nothing changes, so a log holds
		// at most one mark, at its old end, where Reserve reads it.
		return times, micros(max(times[k-1]+p-now, 0))
	}
	log = make([]int64, l.Rate, l.Rate+len(times))
	for i := range log {
		log[i] = floor
	}
	for _, t := range times {
		if t > floor {
			log = append(log, t)
		}
	}
	return log, micros(max(log[len(log)-1]+p-now, 0))
}

// Reserve finds the earliest instant at, no earlier than now+from, at
// which every lane admits cost n, counting the events each lane has
// recorded, past and ahead of now, and records n events at that instant
// on every lane when at−now ≤ within; otherwise it records nothing. This
// is the distributed analogue of x/time/rate's Reserve: the caller waits
// until at and sends, and later callers queue behind it without asking
// again.
//
// logs[i] is lane i's current log (oldest first; it may hold more than
// Rate events once slots are recorded ahead). Events that left the window
// by now are dropped, and when the slot is recorded Reserve replaces
// logs[i] with the log to store: n copies of at inserted in order. The
// key's time to live must cover its newest event's stay in the window
// (ResetAfter for the binding lane; each lane's own newest event + Period
// in general).
//
// A long log is read at its two ends only, so that a call costs the same
// with ten thousand slots reserved ahead as with ten: when a lane holds
// more than 2·Span live events, Reserve reads its Span oldest (the slots
// nearest now, and a Block's mark) and its Span newest (the queue's tail).
// A slot is looked for among the oldest first, then after the tail's
// Span-th newest event plus Period: a gap in between is not used, which
// may give a later slot than the whole log would, never one the lane
// cannot admit.
//
// No slot precedes an instant that holds Rate events on a lane (a Block's
// mark, see BlockWindow), among the events read.
//
// The Result says: Allowed, that the slot was recorded; RetryAfter, at−now
// (when denied, how far the earliest slot lies, beyond within); Remaining,
// how many more unit events the binding lane's window ending at at admits;
// ResetAfter, when the binding lane's newest event leaves its window. The
// binding lane is the one that set at last (the first lane when none
// delayed it).
//
// A slot never lets a lane admit more than Rate events in any window of
// Period, ahead of now or not; slots may be recorded between two already
// recorded (a busy chat's late slot does not hold up other chats).
func Reserve(lanes []core.Lane, logs [][]int64, now int64, n int, from, within time.Duration) core.Result {
	views := make([]view, len(lanes))
	for i, ln := range lanes {
		p := ln.Limit.Period.Microseconds()
		gone := 0
		for gone < len(logs[i]) && logs[i][gone]+p <= now {
			gone++
		}
		views[i] = newView(ln.Limit, logs[i][gone:], n)
	}
	at, bind := now+max(from.Microseconds(), 0), 0
	for i, v := range views {
		if b := v.barrier(); b > at {
			at, bind = b, i
		}
	}
	for moved := true; moved; {
		moved = false
		for i, v := range views {
			if t := v.earliest(at); t > at {
				at, bind, moved = t, i, true
			}
		}
	}
	l := lanes[bind].Limit
	res := core.Result{Limit: l, RetryAfter: micros(at - now)}
	p := l.Period.Microseconds()
	inWindow := n
	for _, seg := range views[bind].segs() {
		for _, t := range seg {
			if t > at-p && t <= at {
				inWindow++
			}
		}
	}
	res.Remaining = max(l.Rate-inWindow, 0)
	newest := at
	if live := views[bind].live; len(live) > 0 {
		newest = max(newest, live[len(live)-1])
	}
	res.ResetAfter = micros(newest + p - now)
	if micros(at-now) > within {
		return res
	}
	res.Allowed = true
	for i, v := range views {
		logs[i] = insertAt(v.live, at, n)
	}
	return res
}

// Span is how many live events Reserve reads at each end of a lane's log
// longer than twice that: two windows' worth and the cost, enough to hold
// a Block's mark at the old end and the last full windows at the tail.
func Span(l core.Limit, n int) int { return 2*l.Rate + n }

// view is one lane's live log (oldest first) as Reserve reads it: whole
// when it holds at most 2·Span events, else its two ends, old and fresh.
type view struct {
	l          core.Limit
	n          int
	live       []int64
	old, fresh []int64 // nil when the log is read whole
}

func newView(l core.Limit, live []int64, n int) view {
	v := view{l: l, n: n, live: live}
	if s := Span(l, n); len(live) > 2*s {
		v.old, v.fresh = live[:s], live[len(live)-s:]
	}
	return v
}

// segs returns the parts of the log Reserve reads.
func (v view) segs() [][]int64 {
	if v.old == nil {
		return [][]int64{v.live}
	}
	return [][]int64{v.old, v.fresh}
}

// barrier is barrier over the events read.
func (v view) barrier() int64 {
	b := int64(0)
	for _, seg := range v.segs() {
		b = max(b, barrier(v.l, seg))
	}
	return b
}

// earliest is earliest over the events read: among the old end while the
// old end alone decides (a slot at least Period before its newest event),
// else from the fresh end's oldest event plus Period on.
func (v view) earliest(t int64) int64 {
	if v.old == nil {
		return earliest(v.l, v.live, t, v.n)
	}
	p := v.l.Period.Microseconds()
	if r := earliest(v.l, v.old, t, v.n); r <= v.old[len(v.old)-1]-p {
		return r
	}
	return earliest(v.l, v.fresh, max(t, v.fresh[0]+p), v.n)
}

// earliest returns the earliest instant from t on at which n more events
// fit l, given the lane's live log (oldest first). Inserting at t fails
// exactly when some k = Rate−n+1 consecutive events times[i..i+k−1] fit
// with t in one window: they span less than Period, and
// times[i+k−1]−Period < t < times[i]+Period. Both bounds grow with i, so
// one pass finds the first gap. (A group spanning a Period or more fits in
// no window, whatever t: a slot between a full window and a slot reserved
// a window ahead is free.)
func earliest(l core.Limit, times []int64, t int64, n int) int64 {
	p, k := l.Period.Microseconds(), l.Rate-n+1
	for i := 0; i+k-1 < len(times); i++ {
		lo, hi := times[i+k-1]-p, times[i]+p
		if lo >= t {
			break
		}
		if t < hi && times[i+k-1]-times[i] < p {
			t = hi
		}
	}
	return t
}

// barrier returns the newest instant of the log (oldest first) that holds
// Rate events or more, 0 when none does: what Block leaves, and what no
// slot may precede (a slot before it would fall inside the block).
func barrier(l core.Limit, times []int64) int64 {
	for j := len(times) - 1; j >= l.Rate-1; j-- {
		if times[j] == times[j-l.Rate+1] {
			return times[j]
		}
	}
	return 0
}

// insertAt returns times (oldest first) with n copies of at inserted after
// every event at or before at, in a new slice.
func insertAt(times []int64, at int64, n int) []int64 {
	j := len(times)
	for j > 0 && times[j-1] > at {
		j--
	}
	out := make([]int64, 0, len(times)+n)
	out = append(out, times[:j]...)
	for range n {
		out = append(out, at)
	}
	return append(out, times[j:]...)
}

// Lanes runs Window on every lane, all or nothing: logs[i] is lane i's
// current log (oldest first), which Lanes replaces with the log to store
// when the result is Allowed. The Result is the binding lane's: when
// denied, the lane with the longest RetryAfter; when admitted, the lane
// with the fewest Remaining (the first on a tie). In-process stores call
// it while they hold every lane's lock.
func Lanes(lanes []core.Lane, logs [][]int64, now int64, n int) core.Result {
	var best core.Result
	next := make([][]int64, len(lanes))
	for i, ln := range lanes {
		r, log := Window(ln.Limit, append([]int64(nil), logs[i]...), now, n)
		next[i] = log
		best = binding(best, r, i == 0)
	}
	if best.Allowed {
		copy(logs, next)
	}
	return best
}

// binding merges the result of one more lane into the binding result so
// far; first reports that r is the first lane.
func binding(best, r core.Result, first bool) core.Result {
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

func micros(us int64) time.Duration { return time.Duration(us) * time.Microsecond }
