package storetest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/core/decide"
)

// blockCases are the behaviours of Block, under both algorithms.
var blockCases = []suiteCase{
	{
		name: "BlockGCRA",
		why: "a penalty or a ban must admit nothing for exactly d, then one event, and the full burst " +
			"(Burst−1)·T later (decide.BlockGCRA), the same on every store, or a penalty would look " +
			"different depending on where it is stored",
		run: func(t *testing.T, s *suiteRun) {
			a, b := s.key("a"), s.key("b")
			s.take(t, a, fivePerSecond, 2)
			s.block(t, a, fivePerSecond, 10*time.Second)
			s.block(t, b, fivePerSecond, 10*time.Second)
			expect(t, "blocked", s.take(t, a, fivePerSecond, 1), fivePerSecond,
				want{false, 0, 10 * time.Second, 10*time.Second + 800*time.Millisecond})
			s.clock.Advance(10*time.Second - time.Microsecond)
			expect(t, "1µs before the end", s.take(t, a, fivePerSecond, 1), fivePerSecond,
				want{false, 0, time.Microsecond, 800*time.Millisecond + time.Microsecond})
			s.clock.Advance(time.Microsecond)
			expect(t, "peek at the end", s.peek(t, a, fivePerSecond), fivePerSecond, want{true, 0, 0, time.Second})
			expect(t, "one event at the end", s.take(t, a, fivePerSecond, 1), fivePerSecond, want{true, 0, 0, time.Second})
			expect(t, "and no more", s.take(t, a, fivePerSecond, 1), fivePerSecond, want{false, 0, 200 * time.Millisecond, time.Second})
			s.clock.Advance(800*time.Millisecond - time.Microsecond)
			expect(t, "1µs before the burst is back", s.peek(t, b, fivePerSecond), fivePerSecond,
				want{true, 3, 0, 200*time.Millisecond + time.Microsecond})
			expect(t, "the burst 1µs early", s.take(t, b, fivePerSecond, 5), fivePerSecond,
				want{false, 4, time.Microsecond, time.Microsecond})
			s.clock.Advance(time.Microsecond)
			expect(t, "the burst (Burst−1)·T after the block", s.take(t, b, fivePerSecond, 5), fivePerSecond,
				want{true, 0, 0, time.Second})
		},
	},
	{
		name: "BlockGCRANeverShortened",
		why: "a shorter block, or a block shorter than the limit's own wait, must not cut an earlier, longer " +
			"one: a 10-minute penalty must not be lifted by a later 2-minute one",
		run: func(t *testing.T, s *suiteRun) {
			k := s.key("a")
			s.block(t, k, fivePerSecond, 10*time.Second)
			s.clock.Advance(time.Second)
			s.block(t, k, fivePerSecond, 2*time.Second)
			expect(t, "a shorter block later", s.take(t, k, fivePerSecond, 1), fivePerSecond,
				want{false, 0, 9 * time.Second, 9*time.Second + 800*time.Millisecond})
			s.block(t, k, fivePerSecond, 20*time.Second)
			expect(t, "a longer block extends it", s.take(t, k, fivePerSecond, 1), fivePerSecond,
				want{false, 0, 20 * time.Second, 20*time.Second + 800*time.Millisecond})
			h := s.key("hourly")
			hourly := core.Every(time.Hour)
			s.take(t, h, hourly, 1)
			s.block(t, h, hourly, time.Minute)
			expect(t, "a block shorter than the limit's wait", s.take(t, h, hourly, 1), hourly,
				want{false, 0, time.Hour, time.Hour})
		},
	},
	{
		name: "WindowBlockNeverShortened",
		why: "after a 429 every instance must wait Telegram's retry_after on that lane, a shorter later " +
			"block must not cut it, other lanes must not freeze, and the whole window is free when it ends",
		run: func(t *testing.T, s *suiteRun) {
			a, b := s.laneKey("chat:a"), s.laneKey("chat:b")
			s.block(t, a, threePerSecond, 5*time.Second)
			expect(t, "blocked", s.take(t, a, threePerSecond, 1), threePerSecond,
				want{false, 0, 5 * time.Second, 5 * time.Second})
			expect(t, "another lane", s.take(t, b, threePerSecond, 1), threePerSecond, want{true, 2, 0, time.Second})
			s.clock.Advance(time.Second)
			s.block(t, a, threePerSecond, time.Second)
			expect(t, "a shorter block later", s.take(t, a, threePerSecond, 1), threePerSecond,
				want{false, 0, 4 * time.Second, 4 * time.Second})
			s.clock.Advance(4 * time.Second)
			expect(t, "after the block", s.take(t, a, threePerSecond, 3), threePerSecond, want{true, 0, 0, time.Second})
		},
	},
	{
		name: "WindowBlockKeepsNewerEvents",
		why: "a block shorter than the window must not forget events that stay in the window longer " +
			"(decide.BlockWindow keeps them), or a lane would send again too early",
		run: func(t *testing.T, s *suiteRun) {
			k := s.laneKey("chat")
			expect(t, "two events", s.take(t, k, threePerSecond, 2), threePerSecond, want{true, 1, 0, time.Second})
			s.clock.Advance(100 * time.Millisecond)
			s.block(t, k, threePerSecond, 500*time.Millisecond)
			expect(t, "blocked", s.take(t, k, threePerSecond, 1), threePerSecond,
				want{false, 0, 500 * time.Millisecond, 900 * time.Millisecond})
			s.clock.Advance(500 * time.Millisecond)
			expect(t, "one slot after the block", s.take(t, k, threePerSecond, 1), threePerSecond,
				want{true, 0, 0, time.Second})
			expect(t, "the two events still count", s.take(t, k, threePerSecond, 1), threePerSecond,
				want{false, 0, 400 * time.Millisecond, time.Second})
		},
	},
	{
		name: "ResetLiftsBlock",
		why:  "an operator lifting a ban with Reset must lift it at once, under either algorithm",
		run: func(t *testing.T, s *suiteRun) {
			g, w := s.key("gcra"), s.key("window")
			s.block(t, g, fivePerSecond, time.Hour)
			s.block(t, w, threePerSecond, time.Hour)
			s.reset(t, g)
			s.reset(t, w)
			expect(t, "GCRA after Reset", s.take(t, g, fivePerSecond, 5), fivePerSecond, want{true, 0, 0, time.Second})
			expect(t, "window after Reset", s.take(t, w, threePerSecond, 3), threePerSecond, want{true, 0, 0, time.Second})
		},
	},
	{
		name: "BlockSharedByStoreValues",
		why: "a block one bot instance writes must hold on every instance sharing the backend, and a shorter " +
			"block from another instance must not cut it (skipped for stores that share nothing)",
		run: func(t *testing.T, s *suiteRun) {
			g, w := s.key("gcra"), s.laneKey("chat")
			s.take(t, g, fivePerSecond, 1)
			other := s.newStore(t, s.clock.Now)
			p, err := other.Peek(s.ctx, g, fivePerSecond)
			switch {
			case err != nil:
				t.Fatal(err)
			case p.Remaining == 4: // what a fresh key would leave after a Take
				t.Skip("NewStore returns store values that share nothing (an in-process store)")
			case p.Remaining != 3:
				t.Fatalf("a second store value sees %+v after one event on the first: neither shared nor independent", p)
			}
			b := s.check(other, s.c.m) // one backend, one model
			s.block(t, g, fivePerSecond, time.Minute)
			r, err := b.Take(s.ctx, g, fivePerSecond, 1)
			if err != nil {
				t.Fatal(err)
			}
			expect(t, "the other store value", r, fivePerSecond, want{false, 0, time.Minute, time.Minute + 800*time.Millisecond})
			if err := b.Block(s.ctx, g, fivePerSecond, time.Second); err != nil {
				t.Fatal(err)
			}
			expect(t, "after a shorter block from the other", s.take(t, g, fivePerSecond, 1), fivePerSecond,
				want{false, 0, time.Minute, time.Minute + 800*time.Millisecond})

			if err := b.Block(s.ctx, w, threePerSecond, time.Minute); err != nil {
				t.Fatal(err)
			}
			expect(t, "a window blocked by the other", s.take(t, w, threePerSecond, 1), threePerSecond,
				want{false, 0, time.Minute, time.Minute})
			s.block(t, w, threePerSecond, time.Second)
			r, err = b.Take(s.ctx, w, threePerSecond, 1)
			if err != nil {
				t.Fatal(err)
			}
			expect(t, "the other after a shorter window block", r, threePerSecond, want{false, 0, time.Minute, time.Minute})
		},
	},
	{
		name: "BlockDuringTakes",
		why: "a Block racing with decisions on the same key must land whole: a decision that read the key " +
			"before the block and wrote after it would lift the block",
		run: func(t *testing.T, s *suiteRun) {
			k := s.key("hot")
			calls := rounds(50)
			start := time.Now()
			var admitted atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, goroutines+1)
			begin := make(chan struct{})
			for range goroutines / 2 {
				wg.Go(func() {
					<-begin
					for range calls {
						r, err := s.store.Take(s.ctx, k, hundredPerH, 1)
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
			wg.Go(func() {
				<-begin
				if err := s.store.Block(s.ctx, k, hundredPerH, time.Hour); err != nil {
					errs <- err
				}
			})
			close(begin)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if admitted.Load() > 100 {
				t.Fatalf("admitted %d, more than the burst (100)", admitted.Load())
			}
			// The takes reach at most now+1h; the block's TAT lies beyond, so
			// it is the key's state whatever the order.
			s.c.m.setGCRA(k, decide.BlockGCRA(hundredPerH, 0, s.c.now(), time.Hour), start)
			expect(t, "after the race", s.peek(t, k, hundredPerH), hundredPerH,
				want{false, 0, time.Hour, time.Hour + 99*36*time.Second})
		},
	},
}
