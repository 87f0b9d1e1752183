// Package storetest checks a core.Store against the whole contract
// documented on core.Store, in the style of testing/fstest and
// testing/slogtest: a store author calls Run from a test, in one line.
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, now func() time.Time) core.Store {
//			return mystore.New(mystore.WithClock(now))
//		})
//	}
package storetest

import (
	"context"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
)

// NewStore builds the store under test for one case. The store must take
// its time from now, a clock the case freezes and moves (for Redis,
// redisstore.WithClock). Cases use distinct keys, so the function may
// return stores over one shared server, and it is called from parallel
// subtests.
type NewStore func(t *testing.T, now func() time.Time) core.Store

// suiteCase is one behaviour every store must have, with the reason it
// matters.
type suiteCase struct {
	name, why string
	run       func(t *testing.T, s *suiteRun)
}

// suiteRun is what a case works with: a fresh store on a frozen clock and a
// key namespace of its own.
type suiteRun struct {
	store core.Store
	clock *clock
	ns    string
	ctx   context.Context
}

// key returns a key of this case's namespace, in floodgate's key layout.
func (s *suiteRun) key(name string) string { return "suite:{" + s.ns + ":" + name + "}:msg" }

// take calls Take and fails the test on an error.
func (s *suiteRun) take(t *testing.T, key string, l core.Limit, n int) core.Result {
	t.Helper()
	r, err := s.store.Take(s.ctx, key, l, n)
	if err != nil {
		t.Fatalf("Take(%q, %v, %d): %v", key, l, n, err)
	}
	return r
}

// want is the part of a Result a case checks (Limit is checked always).
type want struct {
	allowed            bool
	remaining          int
	retryAfter, resetA time.Duration
}

func expect(t *testing.T, step string, got core.Result, l core.Limit, w want) {
	t.Helper()
	if got.Allowed != w.allowed || got.Remaining != w.remaining || got.RetryAfter != w.retryAfter ||
		got.ResetAfter != w.resetA || got.Limit != l {
		t.Errorf("%s: got {Allowed:%v Remaining:%d RetryAfter:%v ResetAfter:%v Limit:%v}, "+
			"want {Allowed:%v Remaining:%d RetryAfter:%v ResetAfter:%v Limit:%v}", step,
			got.Allowed, got.Remaining, got.RetryAfter, got.ResetAfter, got.Limit,
			w.allowed, w.remaining, w.retryAfter, w.resetA, l)
	}
}

var suiteSeq atomic.Int64

// Run checks that a core.Store meets the contract documented on
// core.Store: GCRA and sliding-window decisions equal package decide's,
// step by step; Peek and denials write nothing; Reset; Block; lanes all or
// nothing; exact counts under concurrency. Every store in floodgate runs
// it in one line; a third-party store should too. Each case runs as a
// parallel subtest named after the behaviour, and its failure message
// says why the behaviour matters.
func Run(t *testing.T, newStore NewStore) {
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	for _, c := range append(suiteCases[:len(suiteCases):len(suiteCases)], windowCases...) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			clock := newClock()
			s := &suiteRun{
				store: newStore(t, clock.Now),
				clock: clock,
				ns:    run + "-" + strconv.FormatInt(suiteSeq.Add(1), 10),
				ctx:   context.Background(),
			}
			c.run(t, s)
			if t.Failed() {
				t.Logf("why this matters: %s", c.why)
			}
		})
	}
}

var (
	fivePerSecond = core.PerSecond(5)                                               // interval 200ms
	tenPer100ms   = core.Limit{Rate: 10, Period: 100 * time.Millisecond, Burst: 10} // interval 10ms
	hundredPerH   = core.Limit{Rate: 100, Period: time.Hour, Burst: 100}          // interval 36s
)

var suiteCases = []suiteCase{
	{
		name: "FirstCallAllowed",
		why:  "a user never seen before must get through, with the rest of the burst left",
		run: func(t *testing.T, s *suiteRun) {
			r := s.take(t, s.key("a"), fivePerSecond, 1)
			expect(t, "first call", r, fivePerSecond, want{true, 4, 0, 200 * time.Millisecond})
		},
	},
	{
		name: "BurstExhaustedThenDenied",
		why:  "the burst is exact: Burst calls pass at once, the next is denied with the exact wait",
		run: func(t *testing.T, s *suiteRun) {
			k := s.key("a")
			for i := 0; i < 5; i++ {
				r := s.take(t, k, fivePerSecond, 1)
				expect(t, "call "+strconv.Itoa(i+1), r, fivePerSecond,
					want{true, 4 - i, 0, time.Duration(i+1) * 200 * time.Millisecond})
			}
			r := s.take(t, k, fivePerSecond, 1)
			expect(t, "call 6", r, fivePerSecond, want{false, 0, 200 * time.Millisecond, time.Second})
			s.clock.Advance(150 * time.Millisecond)
			r = s.take(t, k, fivePerSecond, 1)
			expect(t, "call 7, 150ms later", r, fivePerSecond, want{false, 0, 50 * time.Millisecond, 850 * time.Millisecond})
		},
	},
	{
		name: "DenialWritesNothing",
		why:  "a spammer retrying while blocked must not extend their own block",
		run: func(t *testing.T, s *suiteRun) {
			k := s.key("a")
			l := core.Every(time.Second)
			expect(t, "first", s.take(t, k, l, 1), l, want{true, 0, 0, time.Second})
			for i := 0; i < 50; i++ {
				s.clock.Advance(10 * time.Millisecond)
				if r := s.take(t, k, l, 1); r.Allowed {
					t.Fatalf("retry %d allowed inside the block", i)
				}
			}
			s.clock.Advance(500 * time.Millisecond) // exactly 1s after the first call
			expect(t, "after one period", s.take(t, k, l, 1), l, want{true, 0, 0, time.Second})
		},
	},
	{
		name: "RefillAfterInterval",
		why:  "one event's worth of budget comes back every Period/Rate, and all of it after Burst×Period/Rate",
		run: func(t *testing.T, s *suiteRun) {
			k := s.key("a")
			s.take(t, k, fivePerSecond, 5)
			s.clock.Advance(200 * time.Millisecond)
			expect(t, "after 200ms", s.take(t, k, fivePerSecond, 1), fivePerSecond, want{true, 0, 0, time.Second})
			expect(t, "at once again", s.take(t, k, fivePerSecond, 1), fivePerSecond, want{false, 0, 200 * time.Millisecond, time.Second})
			s.clock.Advance(time.Second)
			expect(t, "after a full period", s.take(t, k, fivePerSecond, 1), fivePerSecond, want{true, 4, 0, 200 * time.Millisecond})
			s.clock.Advance(time.Hour)
			expect(t, "after an idle hour", s.take(t, k, fivePerSecond, 1), fivePerSecond, want{true, 4, 0, 200 * time.Millisecond})
		},
	},
	{
		name: "SubSecondPeriod",
		why:  "the replaced middleware rounded periods up to whole seconds; 10 per 100ms must mean exactly that",
		run: func(t *testing.T, s *suiteRun) {
			k := s.key("a")
			expect(t, "10 at once", s.take(t, k, tenPer100ms, 10), tenPer100ms, want{true, 0, 0, 100 * time.Millisecond})
			expect(t, "11th", s.take(t, k, tenPer100ms, 1), tenPer100ms, want{false, 0, 10 * time.Millisecond, 100 * time.Millisecond})
			s.clock.Advance(9 * time.Millisecond)
			expect(t, "after 9ms", s.take(t, k, tenPer100ms, 1), tenPer100ms, want{false, 0, time.Millisecond, 91 * time.Millisecond})
			s.clock.Advance(time.Millisecond)
			expect(t, "after 10ms", s.take(t, k, tenPer100ms, 1), tenPer100ms, want{true, 0, 0, 100 * time.Millisecond})
		},
	},
	{
		name: "RateNotDividingPeriod",
		why:  "3/s has an interval of 333333.3µs, rounded up to 333334µs so the limiter never admits more than stated",
		run: func(t *testing.T, s *suiteRun) {
			k := s.key("a")
			l := core.PerSecond(3)
			expect(t, "3 at once", s.take(t, k, l, 3), l, want{true, 0, 0, 1000002 * time.Microsecond})
			s.clock.Advance(333333 * time.Microsecond)
			expect(t, "1µs early", s.take(t, k, l, 1), l, want{false, 0, time.Microsecond, 666669 * time.Microsecond})
			s.clock.Advance(time.Microsecond)
			expect(t, "on time", s.take(t, k, l, 1), l, want{true, 0, 0, 1000002 * time.Microsecond})
		},
	},
	{
		name: "CostN",
		why:  "an event may cost more than one (a heavy command); denial must wait for exactly the missing budget",
		run: func(t *testing.T, s *suiteRun) {
			k := s.key("a")
			expect(t, "cost 3", s.take(t, k, fivePerSecond, 3), fivePerSecond, want{true, 2, 0, 600 * time.Millisecond})
			expect(t, "cost 3 again", s.take(t, k, fivePerSecond, 3), fivePerSecond, want{false, 2, 200 * time.Millisecond, 600 * time.Millisecond})
			expect(t, "cost 2", s.take(t, k, fivePerSecond, 2), fivePerSecond, want{true, 0, 0, time.Second})
			expect(t, "cost 5 when empty", s.take(t, k, fivePerSecond, 5), fivePerSecond, want{false, 0, time.Second, time.Second})
		},
	},
	{
		name: "Peek",
		why:  "reading a key's state (for /status or an ops tool) must not consume budget",
		run: func(t *testing.T, s *suiteRun) {
			k := s.key("a")
			p, err := s.store.Peek(s.ctx, k, fivePerSecond)
			if err != nil {
				t.Fatal(err)
			}
			expect(t, "peek on a new key", p, fivePerSecond, want{true, 4, 0, 200 * time.Millisecond})
			for i := 0; i < 10; i++ {
				if _, err := s.store.Peek(s.ctx, k, fivePerSecond); err != nil {
					t.Fatal(err)
				}
			}
			s.take(t, k, fivePerSecond, 4)
			p, err = s.store.Peek(s.ctx, k, fivePerSecond)
			if err != nil {
				t.Fatal(err)
			}
			expect(t, "peek after 4", p, fivePerSecond, want{true, 0, 0, time.Second})
			expect(t, "take after peeks", s.take(t, k, fivePerSecond, 1), fivePerSecond, want{true, 0, 0, time.Second})
			p, err = s.store.Peek(s.ctx, k, fivePerSecond)
			if err != nil {
				t.Fatal(err)
			}
			expect(t, "peek when empty", p, fivePerSecond, want{false, 0, 200 * time.Millisecond, time.Second})
		},
	},
	{
		name: "Reset",
		why:  "an operator must be able to lift a limit at once",
		run: func(t *testing.T, s *suiteRun) {
			k := s.key("a")
			s.take(t, k, fivePerSecond, 5)
			if err := s.store.Reset(s.ctx, k); err != nil {
				t.Fatal(err)
			}
			expect(t, "after reset", s.take(t, k, fivePerSecond, 1), fivePerSecond, want{true, 4, 0, 200 * time.Millisecond})
			if err := s.store.Reset(s.ctx, s.key("never-seen")); err != nil {
				t.Errorf("Reset of an unknown key: %v", err)
			}
		},
	},
	{
		name: "IndependentKeys",
		why:  "one user's flood must not cost another user anything",
		run: func(t *testing.T, s *suiteRun) {
			a, b := s.key("a"), s.key("b")
			s.take(t, a, fivePerSecond, 5)
			expect(t, "a is empty", s.take(t, a, fivePerSecond, 1), fivePerSecond, want{false, 0, 200 * time.Millisecond, time.Second})
			expect(t, "b is untouched", s.take(t, b, fivePerSecond, 1), fivePerSecond, want{true, 4, 0, 200 * time.Millisecond})
		},
	},
	{
		name: "LargeIDs",
		why:  "Telegram ids use up to 52 bits and chat ids are negative; extreme int64 ids must stay distinct keys",
		run: func(t *testing.T, s *suiteRun) {
			lim, err := core.New(s.store, core.Every(time.Minute), core.WithPrefix("suite:"+s.ns))
			if err != nil {
				t.Fatal(err)
			}
			ids := []int64{math.MaxInt64, math.MinInt64, -1001234567890, 1 << 53, 7}
			for _, id := range ids {
				r, err := lim.Take(s.ctx, core.User(id), 1)
				if err != nil || !r.Allowed {
					t.Fatalf("first call of id %d: %+v, %v", id, r, err)
				}
			}
			for _, id := range ids {
				if r, err := lim.Take(s.ctx, core.User(id), 1); err != nil || r.Allowed {
					t.Fatalf("second call of id %d: %+v, %v (want denied)", id, r, err)
				}
			}
		},
	},
	{
		name: "ConcurrentExact",
		why:  "64 goroutines racing on one key must admit exactly Burst events: a lost update is a hole in the limit",
		run: func(t *testing.T, s *suiteRun) {
			k := s.key("hot")
			var admitted, denied atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, 64)
			for g := 0; g < 64; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 200; i++ {
						r, err := s.store.Take(s.ctx, k, hundredPerH, 1)
						if err != nil {
							errs <- err
							return
						}
						if r.Allowed {
							admitted.Add(1)
						} else {
							denied.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if admitted.Load() != 100 || denied.Load() != 64*200-100 {
				t.Fatalf("admitted %d, denied %d; want exactly 100 and %d", admitted.Load(), denied.Load(), 64*200-100)
			}
		},
	},
	{
		name: "LimitChangeKeepsState",
		why:  "the limit is passed per call; a key's TAT must stay meaningful when the configured limit changes",
		run: func(t *testing.T, s *suiteRun) {
			k := s.key("a")
			s.take(t, k, fivePerSecond, 5) // TAT = now + 1s
			tighter := core.Every(2 * time.Second)
			expect(t, "under 1 per 2s", s.take(t, k, tighter, 1), tighter, want{false, 0, time.Second, time.Second})
			s.clock.Advance(time.Second)
			expect(t, "a second later", s.take(t, k, tighter, 1), tighter, want{true, 0, 0, 2 * time.Second})
		},
	},
}

// clock is a frozen clock that moves only when told to, starting at a
// fixed instant so decisions are the same on every run. Safe for
// concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

// Now returns the clock's current instant.
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
