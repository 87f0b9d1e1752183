package decide_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/core/decide"
)

// epoch is an arbitrary fixed instant in microseconds (November 2023), far
// from 0 so that a fresh key's TAT of 0 is clearly in the past.
const epoch int64 = 1_700_000_000_000_000

func us(d time.Duration) int64 { return d.Microseconds() }

// decideStep is one call of Decide at epoch+at, with its expected Result.
type decideStep struct {
	at        time.Duration
	n         int
	allowed   bool
	remaining int
	retry     time.Duration
	reset     time.Duration
}

func TestGCRA(t *testing.T) {
	t.Parallel()
	const ms, s = time.Millisecond, time.Second
	tests := []struct {
		name  string
		limit core.Limit
		steps []decideStep
	}{
		{
			name:  "fresh key",
			limit: core.PerSecond(5),
			steps: []decideStep{
				{at: 0, n: 1, allowed: true, remaining: 4, reset: 200 * ms},
			},
		},
		{
			name:  "burst exhausted",
			limit: core.PerSecond(5), // interval 200 ms
			steps: []decideStep{
				{at: 0, n: 1, allowed: true, remaining: 4, reset: 200 * ms},
				{at: 0, n: 1, allowed: true, remaining: 3, reset: 400 * ms},
				{at: 0, n: 1, allowed: true, remaining: 2, reset: 600 * ms},
				{at: 0, n: 1, allowed: true, remaining: 1, reset: 800 * ms},
				{at: 0, n: 1, allowed: true, remaining: 0, reset: 1 * s},
				{at: 0, n: 1, allowed: false, remaining: 0, retry: 200 * ms, reset: 1 * s},
				{at: 0, n: 1, allowed: false, remaining: 0, retry: 200 * ms, reset: 1 * s}, // retrying does not extend the wait
				{at: 150 * ms, n: 1, allowed: false, remaining: 0, retry: 50 * ms, reset: 850 * ms},
				{at: 200*ms - time.Microsecond, n: 1, allowed: false, remaining: 0, retry: time.Microsecond, reset: 800*ms + time.Microsecond},
				{at: 200 * ms, n: 1, allowed: true, remaining: 0, reset: 1 * s},
			},
		},
		{
			name:  "refill after Period/Rate",
			limit: core.PerMinute(2), // interval 30 s
			steps: []decideStep{
				{at: 0, n: 1, allowed: true, remaining: 1, reset: 30 * s},
				{at: 0, n: 1, allowed: true, remaining: 0, reset: 60 * s},
				{at: 10 * s, n: 1, allowed: false, remaining: 0, retry: 20 * s, reset: 50 * s},
				{at: 30 * s, n: 1, allowed: true, remaining: 0, reset: 60 * s},
				{at: 60 * s, n: 1, allowed: true, remaining: 0, reset: 60 * s},
				{at: 150 * s, n: 1, allowed: true, remaining: 1, reset: 30 * s}, // idle for longer than the period: full again
			},
		},
		{
			name:  "cost n",
			limit: core.PerSecond(10), // interval 100 ms, burst 10
			steps: []decideStep{
				{at: 0, n: 3, allowed: true, remaining: 7, reset: 300 * ms},
				{at: 0, n: 7, allowed: true, remaining: 0, reset: 1 * s},
				{at: 0, n: 1, allowed: false, remaining: 0, retry: 100 * ms, reset: 1 * s},
				// At 300 ms three units are back: a cost of 5 must wait 200 ms more,
				// and Remaining still reports the three cost-1 events that would pass.
				{at: 300 * ms, n: 5, allowed: false, remaining: 3, retry: 200 * ms, reset: 700 * ms},
				{at: 300 * ms, n: 3, allowed: true, remaining: 0, reset: 1 * s},
				{at: 5 * s, n: 10, allowed: true, remaining: 0, reset: 1 * s},
			},
		},
		{
			name:  "sub-second 10 per 100ms",
			limit: core.Limit{Rate: 10, Period: 100 * ms, Burst: 10}, // interval 10 ms
			steps: []decideStep{
				{at: 0, n: 9, allowed: true, remaining: 1, reset: 90 * ms},
				{at: 0, n: 1, allowed: true, remaining: 0, reset: 100 * ms},
				{at: 0, n: 1, allowed: false, remaining: 0, retry: 10 * ms, reset: 100 * ms},
				{at: 4 * ms, n: 1, allowed: false, remaining: 0, retry: 6 * ms, reset: 96 * ms},
				{at: 10 * ms, n: 1, allowed: true, remaining: 0, reset: 100 * ms},
				{at: 55 * ms, n: 1, allowed: true, remaining: 3, reset: 65 * ms},
				{at: 300 * ms, n: 1, allowed: true, remaining: 9, reset: 10 * ms},
			},
		},
		{
			name: "rate that does not divide the period",
			// 3/s: 1 s / 3 = 333333.3 µs, rounded UP to 333334 µs.
			limit: core.PerSecond(3),
			steps: []decideStep{
				{at: 0, n: 1, allowed: true, remaining: 2, reset: 333334 * time.Microsecond},
				{at: 0, n: 1, allowed: true, remaining: 1, reset: 666668 * time.Microsecond},
				{at: 0, n: 1, allowed: true, remaining: 0, reset: 1000002 * time.Microsecond},
				{at: 0, n: 1, allowed: false, remaining: 0, retry: 333334 * time.Microsecond, reset: 1000002 * time.Microsecond},
				// At 1 s the third unit is still 2 µs away: two events pass, not
				// three, so [0 s, 1 s] admits 5 = Burst + floor(1 s / 333334 µs).
				// An interval rounded down (333333 µs) would admit 6.
				{at: 1 * s, n: 1, allowed: true, remaining: 1, reset: 333336 * time.Microsecond},
				{at: 1 * s, n: 1, allowed: true, remaining: 0, reset: 666670 * time.Microsecond},
				{at: 1 * s, n: 1, allowed: false, remaining: 0, retry: 2 * time.Microsecond, reset: 666670 * time.Microsecond},
			},
		},
		{
			name:  "steady pace one microsecond too fast",
			limit: core.PerSecond(3).WithBurst(1),
			steps: []decideStep{
				{at: 0, n: 1, allowed: true, remaining: 0, reset: 333334 * time.Microsecond},
				{at: 333333 * time.Microsecond, n: 1, allowed: false, remaining: 0, retry: time.Microsecond, reset: time.Microsecond},
				{at: 333334 * time.Microsecond, n: 1, allowed: true, remaining: 0, reset: 333334 * time.Microsecond},
			},
		},
		{
			name:  "burst smaller than rate",
			limit: core.Limit{Rate: 100, Period: time.Hour, Burst: 100}.WithBurst(2), // interval 36 s
			steps: []decideStep{
				{at: 0, n: 2, allowed: true, remaining: 0, reset: 72 * s},
				{at: 0, n: 1, allowed: false, remaining: 0, retry: 36 * s, reset: 72 * s},
				{at: 36 * s, n: 2, allowed: false, remaining: 1, retry: 36 * s, reset: 36 * s},
				{at: 72 * s, n: 2, allowed: true, remaining: 0, reset: 72 * s},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := tt.limit.Validate(); err != nil {
				t.Fatal(err)
			}
			interval := us(tt.limit.Interval())
			var tat int64 // a key never seen
			for i, st := range tt.steps {
				now := epoch + us(st.at)
				res, newTAT := decide.GCRA(tt.limit, tat, now, st.n)
				want := core.Result{
					Allowed:    st.allowed,
					Remaining:  st.remaining,
					RetryAfter: st.retry,
					ResetAfter: st.reset,
					Limit:      tt.limit,
				}
				if res != want {
					t.Fatalf("step %d (at %v, n=%d): got %+v\nwant %+v", i, st.at, st.n, res, want)
				}
				if res.Allowed {
					if wantTAT := max(tat, now) + int64(st.n)*interval; newTAT != wantTAT {
						t.Fatalf("step %d: newTAT = %d, want %d", i, newTAT, wantTAT)
					}
				} else if newTAT != tat {
					t.Fatalf("step %d: a denial changed the TAT from %d to %d; it must write nothing", i, tat, newTAT)
				}
				tat = newTAT
			}
		})
	}
}

// TestGCRAWindowBound checks, by brute force over seeded random arrivals,
// the bound the docs promise: in any closed window of length W, the admitted
// cost is at most Burst + W/Interval. It also checks that Remaining,
// RetryAfter and ResetAfter of every decision say what the next decisions
// actually do.
func TestGCRAWindowBound(t *testing.T) {
	t.Parallel()
	limits := []core.Limit{
		core.Every(time.Second),
		core.PerSecond(5),
		core.PerSecond(3).WithBurst(2),
		core.PerSecond(7),
		{Rate: 10, Period: 100 * time.Millisecond, Burst: 10},
		core.Limit{Rate: 100, Period: time.Hour, Burst: 100}.WithBurst(10),
		{Rate: 7, Period: time.Millisecond, Burst: 3},
		core.PerMinute(20).WithBurst(40),
	}
	for i, l := range limits {
		t.Run(l.String(), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(42, uint64(i)))
			T := us(l.Interval())
			type event struct {
				at   int64
				cost int
			}
			var (
				admitted []event
				denied   int
				tat      int64
				now      = epoch
			)
			for range 3000 {
				// Mostly bursts and gaps shorter than the interval, sometimes long idles.
				switch r := rng.IntN(10); {
				case r < 3: // same instant
				case r < 8:
					now += rng.Int64N(T + 1)
				case r < 9:
					now += rng.Int64N(4 * T)
				default:
					now += rng.Int64N(int64(l.Burst)*T + 1)
				}
				n := 1
				if rng.IntN(4) == 0 {
					n = 1 + rng.IntN(l.Burst)
				}
				res, newTAT := decide.GCRA(l, tat, now, n)
				checkResult(t, l, tat, now, n, res, newTAT)
				if res.Allowed {
					admitted = append(admitted, event{now, n})
				} else {
					denied++
				}
				tat = newTAT
			}
			if len(admitted) == 0 || denied == 0 {
				t.Fatalf("the arrivals did not exercise both outcomes: %d admitted, %d denied", len(admitted), denied)
			}

			windows := []int64{0, 1, T / 2, T - 1, T, T + 1, 3 * T, us(l.Period), us(l.Period) + 1, 10 * us(l.Period)}
			for range 20 {
				windows = append(windows, rng.Int64N(20*T+1))
			}
			for _, w := range windows {
				bound := int64(l.Burst) + w/T
				// The worst window starts at an admitted event: slide over them.
				j, sum := 0, int64(0)
				for k, e := range admitted {
					for ; j < len(admitted) && admitted[j].at <= e.at+w; j++ {
						sum += int64(admitted[j].cost)
					}
					if sum > bound {
						t.Fatalf("window [%d, %d] µs admitted %d > Burst + W/Interval = %d", e.at, e.at+w, sum, bound)
					}
					sum -= int64(admitted[k].cost)
				}
			}
		})
	}
}

// checkResult verifies that a decision's fields predict what Decide does next.
func checkResult(t *testing.T, l core.Limit, tat, now int64, n int, res core.Result, newTAT int64) {
	t.Helper()
	where := fmt.Sprintf("Decide(%v, tat=%d, now=%d, n=%d) = %+v", l, tat, now, n, res)
	if res.Limit != l {
		t.Fatalf("%s: Result.Limit differs from the limit", where)
	}
	if !res.Allowed && newTAT != tat {
		t.Fatalf("%s: a denial changed the TAT", where)
	}
	if res.Allowed != (res.RetryAfter == 0) {
		t.Fatalf("%s: RetryAfter must be 0 exactly when allowed", where)
	}
	// Remaining is how many cost-1 events pass right now, after this decision.
	passed, cur := 0, newTAT
	for ; passed <= l.Burst; passed++ {
		r, next := decide.GCRA(l, cur, now, 1)
		if !r.Allowed {
			break
		}
		cur = next
	}
	if passed != res.Remaining {
		t.Fatalf("%s: Remaining = %d, but %d cost-1 events pass at the same instant", where, res.Remaining, passed)
	}
	// RetryAfter is exactly when the same request would pass.
	if !res.Allowed {
		retry := us(res.RetryAfter)
		if r, _ := decide.GCRA(l, tat, now+retry, n); !r.Allowed {
			t.Fatalf("%s: still denied after RetryAfter", where)
		}
		if r, _ := decide.GCRA(l, tat, now+retry-1, n); r.Allowed {
			t.Fatalf("%s: allowed 1 µs before RetryAfter", where)
		}
	}
	// ResetAfter is when the key is fully replenished.
	reset := us(res.ResetAfter)
	if r, _ := decide.GCRA(l, newTAT, now+reset, 1); r.Remaining != l.Burst-1 {
		t.Fatalf("%s: not fully replenished after ResetAfter (Remaining %d)", where, r.Remaining)
	}
	if reset > 0 {
		if r, _ := decide.GCRA(l, newTAT, now+reset-1, l.Burst); r.Allowed {
			t.Fatalf("%s: a full burst passes 1 µs before ResetAfter", where)
		}
	}
}

// TestGCRAWindowBoundIsTight hammers a key (a full burst, then one event per
// interval) and checks it gets exactly Burst + W/Interval: the bound is the
// real maximum, not a loose one.
func TestGCRAWindowBoundIsTight(t *testing.T) {
	t.Parallel()
	for _, l := range []core.Limit{core.PerSecond(3), core.PerMinute(20).WithBurst(5), {Rate: 10, Period: 100 * time.Millisecond, Burst: 10}} {
		T := us(l.Interval())
		var tat int64
		admitted := 0
		for k := int64(0); k <= 10; k++ {
			now := epoch + k*T
			for {
				res, next := decide.GCRA(l, tat, now, 1)
				if !res.Allowed {
					break
				}
				admitted++
				tat = next
			}
		}
		if want := l.Burst + 10; admitted != want {
			t.Errorf("%v: admitted %d in [0, 10 intervals], want Burst + 10 = %d", l, admitted, want)
		}
		// The stated rate is never exceeded: Rate per Period on average.
		if w := 10 * T; int64(admitted) > int64(l.Burst)+w*int64(l.Rate)/us(l.Period) {
			t.Errorf("%v: admitted %d in %d µs, more than the limit states", l, admitted, w)
		}
	}
}

// TestWindowNeverExceeds drives DecideWindow with random arrivals and
// costs and checks it against the definition: every decision admits
// exactly when the events admitted in (now-Period, now] plus the cost fit
// Rate, RetryAfter is the exact wait, and the log stays ordered and short.
func TestWindowNeverExceeds(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, l := range []core.Limit{core.Window(1, time.Second), core.Window(3, time.Second), core.Window(20, time.Minute)} {
		p := us(l.Period)
		var admitted []int64 // every admitted event, for the reference count
		var log []int64
		now := epoch
		for range 5000 {
			now += rng.Int64N(p / 4)
			n := 1 + rng.IntN(l.Rate)
			inWindow := 0
			for _, at := range admitted {
				if at+p > now {
					inWindow++
				}
			}
			res, next := decide.Window(l, log, now, n)
			if want := inWindow+n <= l.Rate; res.Allowed != want {
				t.Fatalf("%v at +%dµs cost %d: Allowed %v, want %v (%d in window)", l, now-epoch, n, res.Allowed, want, inWindow)
			}
			if !res.Allowed {
				// Waiting RetryAfter must be enough, and 1µs less not.
				later := now + us(res.RetryAfter)
				if r, _ := decide.Window(l, append([]int64(nil), log...), later, n); !r.Allowed {
					t.Fatalf("%v: denied again after RetryAfter %v", l, res.RetryAfter)
				}
				if r, _ := decide.Window(l, append([]int64(nil), log...), later-1, n); r.Allowed {
					t.Fatalf("%v: RetryAfter %v is longer than needed", l, res.RetryAfter)
				}
				continue
			}
			if res.Remaining != l.Rate-inWindow-n {
				t.Fatalf("%v: Remaining %d, want %d", l, res.Remaining, l.Rate-inWindow-n)
			}
			for range n {
				admitted = append(admitted, now)
			}
			log = next
			if len(log) > l.Rate {
				t.Fatalf("%v: log holds %d > Rate events", l, len(log))
			}
			for i := 1; i < len(log); i++ {
				if log[i] < log[i-1] {
					t.Fatalf("%v: log out of order: %v", l, log)
				}
			}
		}
	}
}

// TestWindowIsACapGCRAIsARate shows why SlidingWindow exists: over any 60
// s, "20/m window" admits 20 while GCRA with burst 20 admits 39.
func TestWindowIsACapGCRAIsARate(t *testing.T) {
	t.Parallel()
	count := func(l core.Limit) int {
		var tat int64
		var log []int64
		admitted := 0
		for at := epoch; at < epoch+us(time.Minute); at += us(100 * time.Millisecond) {
			var res core.Result
			if l.Algorithm == core.SlidingWindow {
				res, log = decide.Window(l, log, at, 1)
			} else {
				res, tat = decide.GCRA(l, tat, at, 1)
			}
			if res.Allowed {
				admitted++
			}
		}
		return admitted
	}
	if got := count(core.Window(20, time.Minute)); got != 20 {
		t.Errorf("20/m window admitted %d in one minute, want 20", got)
	}
	if got := count(core.PerMinute(20)); got != 39 {
		t.Errorf("20/m GCRA admitted %d in one minute, want 39", got)
	}
}

func TestBlockWindow(t *testing.T) {
	t.Parallel()
	l := core.Window(3, time.Second)
	now := epoch
	log, ttl := decide.BlockWindow(l, nil, now, 5*time.Second)
	if ttl != 5*time.Second || len(log) != 3 {
		t.Fatalf("BlockWindow on an empty key: %v, ttl %v", log, ttl)
	}
	if res, _ := decide.Window(l, log, now, 1); res.Allowed || res.RetryAfter != 5*time.Second {
		t.Fatalf("blocked lane: %+v, want denied for 5s", res)
	}
	// A shorter block does not shorten it.
	log2, ttl2 := decide.BlockWindow(l, log, now+us(time.Second), time.Second)
	if ttl2 != 4*time.Second {
		t.Errorf("shorter block: ttl %v, want the 4s left", ttl2)
	}
	if res, _ := decide.Window(l, log2, now+us(4999*time.Millisecond), 1); res.Allowed {
		t.Error("shorter block shortened the first")
	}
	if res, _ := decide.Window(l, log2, now+us(5*time.Second), 3); !res.Allowed {
		t.Error("lane still blocked after the block ended")
	}
	// Events newer than the block keep their time.
	full := []int64{now, now + 10, now + us(2*time.Second)}
	log3, _ := decide.BlockWindow(l, full, now, 1500*time.Millisecond)
	if len(log3) != 4 || log3[3] != now+us(2*time.Second) || log3[0] != now+us(500*time.Millisecond) {
		t.Errorf("BlockWindow(%v) = %v", full, log3)
	}
}

func TestReserveBarrierAndGaps(t *testing.T) {
	t.Parallel()
	one := core.Window(2, time.Second)
	lane := []core.Lane{{Key: "global", Limit: one}}
	// A slot 5 s ahead leaves a gap before it that a later call may use.
	logs := [][]int64{{epoch + us(5*time.Second)}}
	if res := decide.Reserve(lane, logs, epoch, 1, 0, time.Minute); !res.Allowed || res.RetryAfter != 0 {
		t.Fatalf("gap before a slot 5s ahead: %+v, want a slot now", res)
	}
	if len(logs[0]) != 2 || logs[0][0] != epoch {
		t.Fatalf("log after filling the gap: %v", logs[0])
	}
	// A Block's mark is a barrier: nothing before it, although the window
	// math alone would find room.
	blocked, _ := decide.BlockWindow(one, nil, epoch, 10*time.Second)
	logs = [][]int64{blocked}
	if res := decide.Reserve(lane, logs, epoch, 1, 0, time.Minute); !res.Allowed || res.RetryAfter != 10*time.Second {
		t.Fatalf("blocked lane: %+v, want a slot when the block ends, 10s", res)
	}
	// Beyond within: nothing recorded.
	logs = [][]int64{nil}
	if res := decide.Reserve(lane, logs, epoch, 1, 2*time.Second, time.Second); res.Allowed || res.RetryAfter != 2*time.Second || logs[0] != nil {
		t.Fatalf("from 2s within 1s: %+v, log %v; want refused, nothing recorded", res, logs[0])
	}
}

// TestReserveLongLanesNeverExceed reserves thousands of slots ahead on a
// global lane and busy chats' lanes (long logs, read at their two ends),
// with Blocks, and checks every slot against every event ever recorded:
// no window of any lane ever holds more than Rate, no slot precedes
// now+from, and a lane that is never delayed by another (one chat per
// send) gets the first-come schedule: slot i at ⌊i/Rate⌋ periods.
func TestReserveLongLanesNeverExceed(t *testing.T) {
	t.Parallel()
	global := core.Lane{Key: "global", Limit: core.Window(3, time.Second)}
	chats := []core.Lane{{Key: "a", Limit: core.Window(1, time.Second)}, {Key: "b", Limit: core.Window(2, 3*time.Second)}}
	rng := rand.New(rand.NewPCG(3, 4))
	all := map[string][]int64{} // every event recorded, per lane
	logs := map[string][]int64{}
	now := epoch
	for step := range 4000 {
		now += rng.Int64N(us(20 * time.Millisecond))
		lanes := []core.Lane{global}
		if c := rng.IntN(4); c < len(chats) {
			lanes = append(lanes, chats[c])
		}
		if step%500 == 499 {
			l := lanes[len(lanes)-1]
			d := time.Duration(1+rng.IntN(3)) * time.Second
			logs[l.Key], _ = decide.BlockWindow(l.Limit, logs[l.Key], now, d)
			for _, at := range logs[l.Key][:l.Limit.Rate] {
				all[l.Key] = append(all[l.Key], at) // the mark counts as events
			}
			continue
		}
		from := time.Duration(rng.IntN(3)) * 500 * time.Millisecond
		ls := make([][]int64, len(lanes))
		for i, l := range lanes {
			ls[i] = logs[l.Key]
		}
		res := decide.Reserve(lanes, ls, now, 1, from, time.Hour)
		if !res.Allowed {
			t.Fatalf("step %d: refused within an hour: %+v", step, res)
		}
		at := now + us(res.RetryAfter)
		if at < now+us(from) {
			t.Fatalf("step %d: slot %v before from %v", step, res.RetryAfter, from)
		}
		for i, l := range lanes {
			logs[l.Key] = ls[i]
			all[l.Key] = append(all[l.Key], at)
			// Every window holding at: count per window around it.
			p := us(l.Limit.Period)
			for _, lo := range all[l.Key] {
				if lo > at || lo+p <= at {
					continue
				}
				in := 0
				for _, e := range all[l.Key] {
					if e >= lo && e < lo+p {
						in++
					}
				}
				if in > l.Limit.Rate {
					t.Fatalf("step %d: lane %s holds %d events in [%d, %d) µs, more than %v", step, l.Key, in, lo-epoch, lo+p-epoch, l.Limit)
				}
			}
		}
	}
	if len(logs["global"]) <= 2*decide.Span(global.Limit, 1) {
		t.Fatalf("the global lane holds %d live events at the end: the test never read a long log", len(logs["global"]))
	}

	// One chat per send: the lane keeps the first-come schedule however long.
	logs1 := [][]int64{nil}
	for i := range 3000 {
		res := decide.Reserve([]core.Lane{global}, logs1, epoch, 1, 0, time.Hour)
		if want := time.Duration(i/3) * time.Second; !res.Allowed || res.RetryAfter != want {
			t.Fatalf("send %d: %+v, want the slot %v", i, res, want)
		}
	}
}

func TestLanesAllOrNothing(t *testing.T) {
	t.Parallel()
	wide, narrow := core.Window(5, time.Second), core.Window(1, time.Second)
	lanes := []core.Lane{{Key: "global", Limit: wide}, {Key: "chat", Limit: narrow}}
	logs := make([][]int64, 2)
	if res := decide.Lanes(lanes, logs, epoch, 1); !res.Allowed || res.Limit != narrow || res.Remaining != 0 {
		t.Fatalf("first: %+v, want admitted with the chat lane binding", res)
	}
	res := decide.Lanes(lanes, logs, epoch+10, 1)
	if res.Allowed || res.Limit != narrow || res.RetryAfter != time.Second-10*time.Microsecond {
		t.Fatalf("second: %+v, want denied by the chat lane", res)
	}
	if len(logs[0]) != 1 {
		t.Fatalf("a denied decision wrote to the global lane: %v", logs[0])
	}
}

// TestBlockGCRA: a block denies for exactly d, never shortens an earlier
// one, then admits one event and refills to the full burst (Burst−1)·T
// later.
func TestBlockGCRA(t *testing.T) {
	t.Parallel()
	l := core.PerSecond(5) // T = 200ms, burst 5
	T := us(l.Interval())
	for _, start := range []int64{0, epoch + 3*T} { // a fresh key, and one with events recorded
		tat := decide.BlockGCRA(l, start, epoch, time.Minute)
		if res, _ := decide.GCRA(l, tat, epoch, 1); res.Allowed || res.RetryAfter != time.Minute {
			t.Fatalf("blocked key at once: %+v, want denied for 1m", res)
		}
		if res, _ := decide.GCRA(l, tat, epoch+us(time.Minute)-1, 1); res.Allowed {
			t.Fatalf("blocked key 1µs before the end: %+v", res)
		}
		res, next := decide.GCRA(l, tat, epoch+us(time.Minute), 1)
		if !res.Allowed || res.Remaining != 0 {
			t.Fatalf("when the block ends: %+v, want one event admitted", res)
		}
		if res, _ := decide.GCRA(l, next, epoch+us(time.Minute)+int64(l.Burst)*T, l.Burst); !res.Allowed {
			t.Fatalf("a full burst does not pass Burst·T after the block: %+v", res)
		}
		// A shorter block later changes nothing.
		if again := decide.BlockGCRA(l, tat, epoch+T, time.Second); again != tat {
			t.Fatalf("a shorter block moved the TAT from %d to %d", tat, again)
		}
		if !decide.ValidTAT(decide.BlockGCRA(l, tat, epoch, core.MaxBlock), epoch) {
			t.Fatal("the longest block is not a valid state")
		}
	}
}

func TestValidTATAndTimes(t *testing.T) {
	t.Parallel()
	// The largest tolerance a valid Limit has, plus the longest block.
	l := core.Limit{Rate: 1, Period: time.Second, Burst: 1125899906}
	far := decide.BlockGCRA(l, 0, epoch, core.MaxBlock)
	for _, tc := range []struct {
		tat  int64
		want bool
	}{{0, true}, {-5, true}, {epoch, true}, {far, true}, {epoch + 1<<51, true}, {epoch + 1<<51 + 1, false}, {1 << 62, false}} {
		if got := decide.ValidTAT(tc.tat, epoch); got != tc.want {
			t.Errorf("ValidTAT(%d) = %v, want %v", tc.tat, got, tc.want)
		}
	}
	for _, tc := range []struct {
		times []int64
		want  bool
	}{
		{nil, true},
		{[]int64{epoch - 5, epoch, epoch}, true},
		{[]int64{epoch, epoch - 1}, false}, // out of order
		{[]int64{epoch, epoch + 1<<52}, false},
	} {
		if got := decide.ValidTimes(tc.times, epoch); got != tc.want {
			t.Errorf("ValidTimes(%v) = %v, want %v", tc.times, got, tc.want)
		}
	}
	// Whatever Window and BlockWindow write is valid.
	w := core.Window(3, time.Hour)
	log, _ := decide.BlockWindow(w, nil, epoch, core.MaxBlock)
	if _, next := decide.Window(w, []int64{epoch - 10}, epoch, 2); !decide.ValidTimes(next, epoch) || !decide.ValidTimes(log, epoch) {
		t.Error("a log decide wrote is not valid")
	}
}

func ExampleGCRA() {
	// 3 per second: each event costs an interval of 333.334 ms.
	l := core.PerSecond(3)
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	var tat int64 // a key never seen
	for i := 1; i <= 4; i++ {
		var res core.Result
		res, tat = decide.GCRA(l, tat, now, 1)
		fmt.Printf("event %d: allowed=%v remaining=%d retry=%v reset=%v\n",
			i, res.Allowed, res.Remaining, res.RetryAfter, res.ResetAfter)
	}
	// Output:
	// event 1: allowed=true remaining=2 retry=0s reset=333.334ms
	// event 2: allowed=true remaining=1 retry=0s reset=666.668ms
	// event 3: allowed=true remaining=0 retry=0s reset=1.000002s
	// event 4: allowed=false remaining=0 retry=333.334ms reset=1.000002s
}
