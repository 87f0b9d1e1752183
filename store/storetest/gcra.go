package storetest

import (
	"errors"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
)

var (
	fivePerSecond = core.PerSecond(5)                                               // interval 200ms
	tenPer100ms   = core.Limit{Rate: 10, Period: 100 * time.Millisecond, Burst: 10} // interval 10ms
	hundredPerH   = core.Limit{Rate: 100, Period: time.Hour, Burst: 100}            // interval 36s
)

// goroutines is how many goroutines the concurrency cases race, and
// rounds(full) how many calls each makes.
const goroutines = 64

func rounds(full int) int {
	if testing.Short() {
		return max(full/10, 2)
	}
	return full
}

// gcraCases are the GCRA behaviours of Take, Peek and Reset.
var gcraCases = []suiteCase{
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
			for i := range 5 {
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
			for i := range 50 {
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
		why:  "periods are not rounded to whole seconds: 10 per 100ms must mean exactly that",
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
		name: "PeekWritesNothing",
		why:  "reading a key's state (for /status or an ops tool) must not consume budget or create the key",
		run: func(t *testing.T, s *suiteRun) {
			k := s.key("a")
			for range 10 {
				expect(t, "peek on a new key", s.peek(t, k, fivePerSecond), fivePerSecond, want{true, 4, 0, 200 * time.Millisecond})
			}
			s.take(t, k, fivePerSecond, 4)
			expect(t, "peek after 4", s.peek(t, k, fivePerSecond), fivePerSecond, want{true, 0, 0, time.Second})
			expect(t, "take after peeks", s.take(t, k, fivePerSecond, 1), fivePerSecond, want{true, 0, 0, time.Second})
			expect(t, "peek when empty", s.peek(t, k, fivePerSecond), fivePerSecond, want{false, 0, 200 * time.Millisecond, time.Second})
			s.clock.Advance(200 * time.Millisecond)
			expect(t, "peek when one is back", s.peek(t, k, fivePerSecond), fivePerSecond, want{true, 0, 0, time.Second})
			expect(t, "take after that peek", s.take(t, k, fivePerSecond, 1), fivePerSecond, want{true, 0, 0, time.Second})
		},
	},
	{
		name: "Reset",
		why:  "an operator must be able to lift a limit at once; resetting an unknown key is not an error",
		run: func(t *testing.T, s *suiteRun) {
			k := s.key("a")
			s.take(t, k, fivePerSecond, 5)
			s.reset(t, k)
			expect(t, "after reset", s.take(t, k, fivePerSecond, 1), fivePerSecond, want{true, 4, 0, 200 * time.Millisecond})
			s.reset(t, s.key("never-seen"))
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
		why: "Telegram ids use up to 52 bits and chat ids are negative; extreme int64 ids, in every scope, " +
			"must stay distinct keys",
		run: func(t *testing.T, s *suiteRun) {
			lim, err := core.New(s.c, core.Every(time.Minute), core.WithPrefix("suite:"+s.ns))
			if err != nil {
				t.Fatal(err)
			}
			var scopes []core.Scope
			for _, id := range []int64{math.MaxInt64, math.MinInt64, -1001234567890, 1 << 53, 7} {
				scopes = append(scopes, core.User(id), core.Chat(id), core.SenderChat(id),
					core.UserInChat(id, math.MinInt64), core.UserInChat(math.MinInt64, id))
			}
			scopes = append(scopes, core.Global())
			seen := map[string]bool{}
			for _, sc := range scopes {
				if seen[lim.Key(sc)] {
					continue // UserInChat(MinInt64, MinInt64) twice
				}
				seen[lim.Key(sc)] = true
				r, err := lim.Take(s.ctx, sc, 1)
				if err != nil || !r.Allowed {
					t.Fatalf("first call of %v: %+v, %v", sc, r, err)
				}
			}
			for _, sc := range scopes {
				if r, err := lim.Take(s.ctx, sc, 1); err != nil || r.Allowed {
					t.Fatalf("second call of %v: %+v, %v (want denied)", sc, r, err)
				}
			}
		},
	},
	{
		name: "ConcurrentExact",
		why:  "64 goroutines racing on one key must admit exactly Burst events: a lost update is a hole in the limit",
		run: func(t *testing.T, s *suiteRun) {
			k := s.key("hot")
			calls := rounds(200)
			var admitted, denied atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, goroutines)
			start := time.Now()
			for range goroutines {
				wg.Go(func() {
					for range calls {
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
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if admitted.Load() != 100 || denied.Load() != int64(goroutines*calls-100) {
				t.Fatalf("admitted %d, denied %d; want exactly 100 and %d", admitted.Load(), denied.Load(), goroutines*calls-100)
			}
			// The TAT is exactly 100 intervals ahead: no admission lost.
			s.c.m.setGCRA(k, s.c.now()+time.Hour.Microseconds(), start)
			s.peek(t, k, hundredPerH)
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
	{
		name: "LimitChangeAdmitsOldPlusNewBurst",
		why: "core.Limit documents that the TAT is read under a new Limit as it is: ten events under 10/10ms " +
			"then 1/s burst 10 admit 19 at one instant (here scaled to 10/10s then 1/m burst 10), and a store " +
			"must agree with every other store on it",
		run: func(t *testing.T, s *suiteRun) {
			k := s.key("a")
			// Seconds, not the documented milliseconds: a real-clock
			// store (Redis) expires the key on its own clock, and a
			// 10ms TTL can run out between two calls on a busy machine.
			fast := core.Limit{Rate: 10, Period: 10 * time.Second, Burst: 10} // interval 1s
			slow := core.PerMinute(1).WithBurst(10)                           // interval 1m
			expect(t, "ten at once", s.take(t, k, fast, 10), fast, want{true, 0, 0, 10 * time.Second})
			admitted := 10
			expect(t, "fast 11", s.take(t, k, fast, 1), fast, want{false, 0, time.Second, 10 * time.Second})
			for i := range 9 {
				expect(t, "slow "+strconv.Itoa(i+1), s.take(t, k, slow, 1), slow,
					want{true, 8 - i, 0, 10*time.Second + time.Duration(i+1)*time.Minute})
				admitted++
			}
			expect(t, "slow 10", s.take(t, k, slow, 1), slow, want{false, 0, 10 * time.Second, 9*time.Minute + 10*time.Second})
			if admitted != 19 {
				t.Errorf("admitted %d at one instant, want 19", admitted)
			}
		},
	},
	{
		name: "AlgorithmSwitchThroughLimiter",
		why: "a rule switched from GCRA to a sliding window and back must find its GCRA state intact: a " +
			"Limiter gives window keys a \":win\" suffix, and the store must keep the two keys apart",
		run: func(t *testing.T, s *suiteRun) {
			g, err := core.New(s.c, core.PerMinute(3), core.WithPrefix("suite:"+s.ns)) // interval 20s
			if err != nil {
				t.Fatal(err)
			}
			w, err := g.Rule("msg", core.Window(2, time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			g2, err := w.Rule("msg", core.PerMinute(3))
			if err != nil {
				t.Fatal(err)
			}
			u := core.User(42)
			if w.Key(u) != g.Key(u)+":win" || g2.Key(u) != g.Key(u) {
				t.Fatalf("keys %q, %q, %q: want the window's to be the GCRA key plus \":win\"", g.Key(u), w.Key(u), g2.Key(u))
			}
			step := func(name string, lim *core.Limiter, w want) {
				t.Helper()
				r, err := lim.Take(s.ctx, u, 1)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				expect(t, name, r, lim.Limit(), w)
			}
			step("GCRA 1", g, want{true, 2, 0, 20 * time.Second})
			step("GCRA 2", g, want{true, 1, 0, 40 * time.Second})
			step("window 1", w, want{true, 1, 0, time.Minute})
			step("window 2", w, want{true, 0, 0, time.Minute})
			step("window 3", w, want{false, 0, time.Minute, time.Minute})
			step("GCRA again 3", g2, want{true, 0, 0, time.Minute})
			step("GCRA again 4", g2, want{false, 0, 20 * time.Second, time.Minute})
			s.clock.Advance(20 * time.Second)
			step("window 20s later", w, want{false, 0, 40 * time.Second, 40 * time.Second})
			step("GCRA 20s later", g2, want{true, 0, 0, time.Minute})
		},
	},
	{
		name: "OtherAlgorithmStateHealsOrKeyFault",
		why: "a key may hold state the call's algorithm cannot read (a Limit switched by hand, without the " +
			"Limiter's \":win\"); the store must read it as absent and overwrite it, or return an error " +
			"wrapping core.ErrKeyFault, which never trips the breaker; any other error would count as an outage",
		run: func(t *testing.T, s *suiteRun) {
			win := core.Window(3, time.Second)
			// healed reports that the call succeeded, and fails the test on
			// an error that does not wrap core.ErrKeyFault.
			healed := func(step string, err error) bool {
				t.Helper()
				if err != nil && !errors.Is(err, core.ErrKeyFault) {
					t.Fatalf("%s: %v, want nil (healed) or an error wrapping core.ErrKeyFault", step, err)
				}
				return err == nil
			}
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			take := func(key string, l core.Limit, n int) {
				t.Helper()
				_, err := s.store.Take(s.ctx, key, l, n)
				must(err)
			}

			g := s.key("gcra") // holds a TAT, read as a window
			take(g, fivePerSecond, 5)
			if r, err := s.store.Peek(s.ctx, g, win); healed("Peek a GCRA key as a window", err) {
				expect(t, "Peek a GCRA key as a window", r, win, want{true, 2, 0, time.Second})
			}
			if r, err := s.store.Take(s.ctx, g, win, 2); healed("Take a GCRA key as a window", err) {
				expect(t, "Take a GCRA key as a window", r, win, want{true, 1, 0, time.Second})
			}

			w := s.key("window") // holds a window, read under GCRA
			take(w, win, 3)
			if r, err := s.store.Peek(s.ctx, w, fivePerSecond); healed("Peek a window key under GCRA", err) {
				expect(t, "Peek a window key under GCRA", r, fivePerSecond, want{true, 4, 0, 200 * time.Millisecond})
			}
			if r, err := s.store.Take(s.ctx, w, fivePerSecond, 1); healed("Take a window key under GCRA", err) {
				expect(t, "Take a window key under GCRA", r, fivePerSecond, want{true, 4, 0, 200 * time.Millisecond})
			}

			lane := core.Lane{Key: s.laneKey("gcra"), Limit: win}
			take(lane.Key, fivePerSecond, 5)
			if r, err := s.store.TakeAll(s.ctx, []core.Lane{lane}, 3); healed("TakeAll over a GCRA key", err) {
				expect(t, "TakeAll over a GCRA key", r, win, want{true, 0, 0, time.Second})
			}

			bg := s.key("block-gcra") // holds a window, blocked under GCRA
			take(bg, win, 3)
			if err := s.store.Block(s.ctx, bg, fivePerSecond, time.Minute); healed("Block a window key under GCRA", err) {
				r, err := s.store.Take(s.ctx, bg, fivePerSecond, 1)
				must(err)
				expect(t, "Take after that Block", r, fivePerSecond,
					want{false, 0, time.Minute, time.Minute + 800*time.Millisecond})
			}

			bw := s.key("block-window") // holds a TAT, blocked as a window
			take(bw, fivePerSecond, 5)
			if err := s.store.Block(s.ctx, bw, win, time.Minute); healed("Block a GCRA key as a window", err) {
				r, err := s.store.Take(s.ctx, bw, win, 1)
				must(err)
				expect(t, "Take after that Block", r, win, want{false, 0, time.Minute, time.Minute})
			}
		},
	},
	{
		name: "LongestLimitAndBlock",
		why: "values at the documented bounds (a tolerance of about 35 years, a block of core.MaxBlock) must " +
			"stay exact: a store computing in doubles, like Redis' Lua, is exact only below 2^53",
		run: func(t *testing.T, s *suiteRun) {
			years := 35 * 365 * 24 * time.Hour
			longest := core.Every(years)
			if err := longest.Validate(); err != nil {
				t.Fatalf("the case's limit: %v", err)
			}
			k := s.key("long")
			expect(t, "first", s.take(t, k, longest, 1), longest, want{true, 0, 0, years})
			expect(t, "second", s.take(t, k, longest, 1), longest, want{false, 0, years, years})
			s.block(t, k, longest, core.MaxBlock)
			expect(t, "a shorter block on top", s.take(t, k, longest, 1), longest, want{false, 0, years, years})

			b := s.key("maxblock")
			s.block(t, b, fivePerSecond, core.MaxBlock)
			expect(t, "after MaxBlock", s.take(t, b, fivePerSecond, 1), fivePerSecond,
				want{false, 0, core.MaxBlock, core.MaxBlock + 800*time.Millisecond})

			lw := core.Window(2, years)
			w := s.key("longwin")
			expect(t, "window", s.take(t, w, lw, 2), lw, want{true, 0, 0, years})
			s.block(t, w, lw, core.MaxBlock)
			expect(t, "window after MaxBlock", s.take(t, w, lw, 1), lw, want{false, 0, years, years})
			ww := s.key("maxblockwin")
			s.block(t, ww, threePerSecond, core.MaxBlock)
			expect(t, "short window after MaxBlock", s.take(t, ww, threePerSecond, 1), threePerSecond,
				want{false, 0, core.MaxBlock, core.MaxBlock})
		},
	},
}
