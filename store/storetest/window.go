package storetest

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/core/decide"
)

var (
	threePerSecond = core.Window(3, time.Second)
	onePerSecond   = core.Window(1, time.Second)
)

// windowCases are the SlidingWindow behaviours: single keys through
// Take, Peek and Reset, and lanes through TakeAll.
var windowCases = []suiteCase{
	{
		name: "WindowAdmitsRatePerPeriod",
		why: "a sliding window must admit at most Rate in any Period and decide exactly as decide.Window " +
			"does, so every store gives the same answers",
		run: func(t *testing.T, s *suiteRun) {
			k := s.key("w")
			var log []int64
			admitted := 0
			for step := range 40 {
				now := s.clock.Now().UnixMicro()
				n := 1 + step%3/2 // costs 1, 1, 2, ...
				ref, next := decide.Window(threePerSecond, log, now, n)
				got := s.take(t, k, threePerSecond, n)
				expect(t, fmt.Sprintf("step %d (+%v, cost %d)", step, time.Duration(step)*100*time.Millisecond, n),
					got, threePerSecond, want{ref.Allowed, ref.Remaining, ref.RetryAfter, ref.ResetAfter})
				if ref.Allowed {
					log = next
					admitted += n
				}
				s.clock.Advance(100 * time.Millisecond)
			}
			if admitted != 12 {
				t.Errorf("admitted %d events in 4s of a 3/s window, want 12", admitted)
			}
		},
	},
	{
		name: "WindowPeekAndDenialWriteNothing",
		why:  "looking, or being denied, must not use up the window, or retries would extend their own wait",
		run: func(t *testing.T, s *suiteRun) {
			k := s.key("w")
			expect(t, "cost 2", s.take(t, k, threePerSecond, 2), threePerSecond, want{true, 1, 0, time.Second})
			s.clock.Advance(400 * time.Millisecond)
			for i := range 3 {
				expect(t, fmt.Sprintf("denied cost 2 #%d", i), s.take(t, k, threePerSecond, 2), threePerSecond,
					want{false, 1, 600 * time.Millisecond, 600 * time.Millisecond})
				expect(t, "peek", s.peek(t, k, threePerSecond), threePerSecond, want{true, 0, 0, time.Second})
			}
			expect(t, "cost 1", s.take(t, k, threePerSecond, 1), threePerSecond, want{true, 0, 0, time.Second})
			s.clock.Advance(600 * time.Millisecond)
			expect(t, "the first two left", s.take(t, k, threePerSecond, 2), threePerSecond, want{true, 0, 0, time.Second})
		},
	},
	{
		name: "WindowReset",
		why:  "Reset must lift a sliding window too",
		run: func(t *testing.T, s *suiteRun) {
			k := s.key("w")
			s.take(t, k, onePerSecond, 1)
			s.reset(t, k)
			expect(t, "after Reset", s.take(t, k, onePerSecond, 1), onePerSecond, want{true, 0, 0, time.Second})
		},
	},
	{
		name: "LanesAllOrNothing",
		why: "a send is recorded on the global and the chat lane together or on neither: a token taken on one " +
			"lane for a send that another lane refused would pace the bot slower than Telegram allows",
		run: func(t *testing.T, s *suiteRun) {
			global := core.Lane{Key: s.laneKey("global"), Limit: core.Window(2, time.Second)}
			chat := func(id string) core.Lane { return core.Lane{Key: s.laneKey("chat:" + id), Limit: onePerSecond} }
			expect(t, "a", s.takeAll(t, 1, global, chat("a")), onePerSecond, want{true, 0, 0, time.Second})
			s.clock.Advance(100 * time.Millisecond)
			expect(t, "a again: the chat lane binds", s.takeAll(t, 1, global, chat("a")), onePerSecond,
				want{false, 0, 900 * time.Millisecond, 900 * time.Millisecond})
			expect(t, "b: the global lane was not used by the denial", s.takeAll(t, 1, global, chat("b")),
				global.Limit, want{true, 0, 0, time.Second})
			expect(t, "c: the global lane binds", s.takeAll(t, 1, global, chat("c")), global.Limit,
				want{false, 0, 900 * time.Millisecond, time.Second})
			expect(t, "c's chat lane alone", s.take(t, chat("c").Key, onePerSecond, 1), onePerSecond,
				want{true, 0, 0, time.Second})
			s.clock.Advance(900 * time.Millisecond)
			expect(t, "a after its window", s.takeAll(t, 1, global, chat("a")), global.Limit,
				want{true, 0, 0, time.Second})
		},
	},
	{
		name: "LanesConcurrentExact",
		why:  "instances racing on shared lanes must together send no more than the lanes allow",
		run: func(t *testing.T, s *suiteRun) {
			global := core.Lane{Key: s.laneKey("global"), Limit: core.Window(100, time.Hour)}
			start := time.Now()
			var admitted atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, 64)
			for g := range 64 {
				wg.Go(func() {
					chat := core.Lane{Key: s.laneKey(fmt.Sprintf("chat:%d", g)), Limit: core.Window(3, time.Hour)}
					for range 20 {
						r, err := s.store.TakeAll(s.ctx, []core.Lane{global, chat}, 1)
						if err != nil {
							errs <- err
							return
						}
						if r.Allowed {
							admitted.Add(1)
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if admitted.Load() != 100 {
				t.Fatalf("admitted %d, want exactly 100 (the global lane)", admitted.Load())
			}
			// The global lane holds exactly 100 events, all at now.
			now := s.c.now()
			s.c.m.setWindow(global.Key, slices.Repeat([]int64{now}, 100), time.Hour.Microseconds(), start)
			expect(t, "the global lane after the race", s.peek(t, global.Key, global.Limit), global.Limit,
				want{false, 0, time.Hour, time.Hour})
		},
	},
}
