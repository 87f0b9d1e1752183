package storetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/core/decide"
)

// laneKey returns a key of this case's namespace that shares one Redis
// Cluster hash slot with every other laneKey of the case, as TakeAll needs.
func (s *suiteRun) laneKey(name string) string { return "suite:{" + s.ns + "}:out:" + name }

// takeAll calls TakeAll and fails the test on an error.
func (s *suiteRun) takeAll(t *testing.T, n int, lanes ...core.Lane) core.Result {
	t.Helper()
	r, err := s.store.TakeAll(s.ctx, lanes, n)
	if err != nil {
		t.Fatalf("TakeAll(%v, %d): %v", lanes, n, err)
	}
	return r
}

var (
	threePerSecond = core.Window(3, time.Second)
	onePerSecond   = core.Window(1, time.Second)
)

// windowCases are the SlidingWindow behaviours: single keys through
// Take/Peek/Reset, and lanes through core.LaneStore.
var windowCases = []suiteCase{
	{
		name: "WindowMatchesDecideWindow",
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
				r, err := s.store.Peek(s.ctx, k, threePerSecond)
				if err != nil {
					t.Fatal(err)
				}
				expect(t, "peek", r, threePerSecond, want{true, 0, 0, time.Second})
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
			if err := s.store.Reset(s.ctx, k); err != nil {
				t.Fatal(err)
			}
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
		name: "BlockIsSharedAndNeverShortened",
		why: "after a 429 every instance must wait Telegram's retry_after on that lane, a shorter later " +
			"block must not cut it, and other lanes must not freeze",
		run: func(t *testing.T, s *suiteRun) {
			ls := s.store
			a, b := s.laneKey("chat:a"), s.laneKey("chat:b")
			if err := ls.Block(s.ctx, a, threePerSecond, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			expect(t, "blocked", s.take(t, a, threePerSecond, 1), threePerSecond,
				want{false, 0, 5 * time.Second, 5 * time.Second})
			expect(t, "another lane", s.take(t, b, threePerSecond, 1), threePerSecond, want{true, 2, 0, time.Second})
			s.clock.Advance(time.Second)
			if err := ls.Block(s.ctx, a, threePerSecond, time.Second); err != nil {
				t.Fatal(err)
			}
			expect(t, "a shorter block later", s.take(t, a, threePerSecond, 1), threePerSecond,
				want{false, 0, 4 * time.Second, 4 * time.Second})
			s.clock.Advance(4 * time.Second)
			expect(t, "after the block", s.take(t, a, threePerSecond, 3), threePerSecond, want{true, 0, 0, time.Second})
		},
	},
	{
		name: "LanesConcurrentExact",
		why:  "instances racing on shared lanes must together send no more than the lanes allow",
		run: func(t *testing.T, s *suiteRun) {
			global := core.Lane{Key: s.laneKey("global"), Limit: core.Window(100, time.Hour)}
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
		},
	},
}
