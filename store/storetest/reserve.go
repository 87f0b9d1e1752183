package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
)

// reserveCases are the behaviours of Reserve: slots ahead of now, queued
// in the order calls arrive, exact in every window.
var reserveCases = []suiteCase{
	{
		name: "ReserveQueuesInOrder",
		why: "a send asks once and gets its slot: later sends must queue behind earlier ones, and a slot beyond " +
			"the caller's budget must record nothing, or a refused send would hold a slot it never uses",
		run: func(t *testing.T, s *suiteRun) {
			global, chat := s.reserveLanes()
			for i, w := range []time.Duration{0, 0, time.Second, time.Second, 2 * time.Second, 2 * time.Second} {
				expectSlot(t, fmt.Sprintf("send %d", i), s.reserve(t, 1, 0, time.Minute, global, chat(fmt.Sprint(i))), true, w)
			}
			expectSlot(t, "beyond the budget", s.reserve(t, 1, 0, 2*time.Second, global, chat("late")), false, 3*time.Second)
			expectSlot(t, "look only", s.reserve(t, 1, 0, -1, global, chat("look")), false, 3*time.Second)
			s.clock.Advance(1500 * time.Millisecond)
			expectSlot(t, "1.5s later, the refused send's slot", s.reserve(t, 1, 0, time.Minute, global, chat("x")),
				true, 1500*time.Millisecond)
		},
	},
	{
		name: "ReserveFillsGaps",
		why: "a busy chat's late slot must not hold up other chats: a slot may fall between two recorded ones " +
			"when every window around it has room, and only then",
		run: func(t *testing.T, s *suiteRun) {
			global, chat := s.reserveLanes()
			steps := []struct {
				chat string
				want time.Duration
			}{{"a", 0}, {"a", time.Second}, {"b", 0}, {"c", time.Second}, {"d", 2 * time.Second}, {"a", 2 * time.Second}}
			for i, st := range steps {
				expectSlot(t, fmt.Sprintf("step %d (chat %s)", i, st.chat),
					s.reserve(t, 1, 0, time.Minute, global, chat(st.chat)), true, st.want)
			}
			expectSlot(t, "from 0.5s (every window from 0.5s to 3s is full)",
				s.reserve(t, 1, 500*time.Millisecond, time.Minute, global, chat("e")), true, 3*time.Second)
		},
	},
	{
		name: "ReserveCountedByTakeAllAndBlock",
		why: "slots reserved ahead are sends already promised: TakeAll and Block on the same lane must count " +
			"them, or a pause or a plain TakeAll would let a lane exceed its limit",
		run: func(t *testing.T, s *suiteRun) {
			lane := core.Lane{Key: s.laneKey("global"), Limit: onePerSecond}
			for i := range 3 {
				if got := s.reserve(t, 1, 0, time.Minute, lane); !got.Allowed || got.RetryAfter != time.Duration(i)*time.Second {
					t.Fatalf("slot %d: %+v", i, got)
				}
			}
			if got := s.takeAll(t, 1, lane); got.Allowed {
				t.Fatalf("TakeAll with three slots ahead: %+v, want denied", got)
			}
			s.block(t, lane.Key, lane.Limit, 500*time.Millisecond)
			if got := s.reserve(t, 1, 0, time.Minute, lane); !got.Allowed || got.RetryAfter != 3*time.Second {
				t.Fatalf("after a short Block: %+v, want 3s: the block keeps the reserved slots", got)
			}
			s.block(t, lane.Key, lane.Limit, 10*time.Second)
			if got := s.reserve(t, 1, 0, time.Minute, lane); !got.Allowed || got.RetryAfter != 10*time.Second {
				t.Fatalf("after a long Block: %+v, want 10s", got)
			}
		},
	},
	{
		name: "ReserveBetweenFullAndAhead",
		why: "a slot reserved a window ahead (a send released late asks again) must not close the room left " +
			"between it and the current window: events spanning more than a period never share a window",
		run: func(t *testing.T, s *suiteRun) {
			lane := core.Lane{Key: s.laneKey("global"), Limit: core.Window(3, time.Second)}
			expectSlot(t, "first", s.reserve(t, 1, 0, time.Minute, lane), true, 0)
			s.clock.Advance(100 * time.Millisecond)
			expectSlot(t, "second, at 0.1s", s.reserve(t, 1, 0, time.Minute, lane), true, 0)
			expectSlot(t, "one from 1.05s", s.reserve(t, 1, 950*time.Millisecond, time.Minute, lane), true, 950*time.Millisecond)
			s.clock.Advance(400 * time.Millisecond)
			// At 0.5s the window (−0.5s, 0.5s] holds two, (0.05s, 1.05s] two:
			// room for one now.
			expectSlot(t, "at 0.5s, between them", s.reserve(t, 1, 0, time.Minute, lane), true, 0)
			// Next: 1.1s, a period after 0.1s (at 1.0s, (0.05s, 1.05s] would hold four).
			expectSlot(t, "then 1.1s", s.reserve(t, 1, 0, time.Minute, lane), true, 600*time.Millisecond)
		},
	},
	{
		name: "ReserveNestedBlocks",
		why: "a shorter pause recorded after a longer one must not hide it: Reserve reads a long lane's mark at " +
			"its old end, so the longer block's mark must stay the only one there",
		run: func(t *testing.T, s *suiteRun) {
			lane := core.Lane{Key: s.laneKey("global"), Limit: core.Window(3, time.Second)}
			s.block(t, lane.Key, lane.Limit, 100*time.Second)
			for i := range 20 { // a long lane: slots booked after the block
				from := 100*time.Second + time.Duration(i)*400*time.Millisecond
				expectSlot(t, fmt.Sprintf("slot %d", i), s.reserve(t, 1, from, time.Hour, lane), true, from)
			}
			s.block(t, lane.Key, lane.Limit, 50*time.Second)
			s.block(t, lane.Key, lane.Limit, 10*time.Second)
			if r := s.reserve(t, 1, 0, time.Hour, lane); !r.Allowed || r.RetryAfter < 100*time.Second {
				t.Fatalf("after shorter blocks: %+v, want a slot after the 100s block", r)
			}
		},
	},
	{
		name: "ReserveLongQueue",
		why: "a goroutine per recipient reserves thousands of slots ahead: each call must read a bounded part of " +
			"the lane (its two ends), still queue every send behind the last and never exceed a window, and " +
			"drop the events that left the window, however many",
		run: func(t *testing.T, s *suiteRun) {
			global, chat := s.reserveLanes() // 2 per second: a long lane past 2·Span = 10 live events
			for i := range 40 {
				expectSlot(t, fmt.Sprintf("send %d", i), s.reserve(t, 1, 0, time.Minute, global, chat(fmt.Sprint(i))),
					true, time.Duration(i/2)*time.Second)
			}
			// Half the queue has left the window: the next slot is still the tail.
			s.clock.Advance(10 * time.Second)
			expectSlot(t, "10s later, behind the 40th", s.reserve(t, 1, 0, time.Minute, global, chat("late")),
				true, 10*time.Second)
			// Everything but the last has left: the old end is read past
			// more than a Span of expired events, and dropped.
			s.clock.Advance(19*time.Second + 500*time.Millisecond)
			expectSlot(t, "29.5s later", s.reserve(t, 1, 0, time.Minute, global, chat("later")), true, 0)
			expectSlot(t, "and one more", s.reserve(t, 1, 0, time.Minute, global, chat("more")), true, 0)
			expectSlot(t, "then a full window", s.reserve(t, 1, 0, time.Minute, global, chat("full")), true, time.Second)
		},
	},
	{
		name: "ReserveLongLaneGaps",
		why: "a busy chat's slots stretch a lane far ahead: a send to another chat must still get a slot near " +
			"now (the lane's old end is read), while a gap deep inside a long lane may go unused, but a " +
			"slot is never given that a window cannot hold",
		run: func(t *testing.T, s *suiteRun) {
			global, chat := s.reserveLanes()
			for i := range 20 { // one per second on the global lane, 0s..19s
				expectSlot(t, fmt.Sprintf("busy send %d", i), s.reserve(t, 1, 0, time.Minute, global, chat("busy")),
					true, time.Duration(i)*time.Second)
			}
			expectSlot(t, "another chat, now", s.reserve(t, 1, 0, time.Minute, global, chat("a")), true, 0)
			expectSlot(t, "a third chat, at 1s", s.reserve(t, 1, 0, time.Minute, global, chat("b")), true, time.Second)
			// A Block's mark sits at the old end, where it is read: the
			// lane's events up to 4s make way for it, the slot is 5s.
			s.block(t, global.Key, global.Limit, 5*time.Second)
			expectSlot(t, "after a 5s Block", s.reserve(t, 1, 0, time.Minute, global, chat("c")), true, 5*time.Second)
			// From 10s the whole lane has room at 10s, but that gap lies
			// between its two ends: the slot is the first the fresh end
			// decides (its oldest event, 15s, plus the period).
			expectSlot(t, "from 10s, inside the long lane", s.reserve(t, 1, 10*time.Second, time.Minute, global, chat("d")),
				true, 16*time.Second)
		},
	},
	{
		name: "ReserveConcurrentExact",
		why:  "instances reserving at once on shared lanes must never be given more slots than a window holds",
		run: func(t *testing.T, s *suiteRun) {
			global := core.Lane{Key: s.laneKey("global"), Limit: core.Window(10, time.Second)}
			var mu sync.Mutex
			var slots []time.Duration
			var wg sync.WaitGroup
			errs := make(chan error, 32)
			for g := range 32 {
				wg.Go(func() {
					for i := range 5 {
						chat := core.Lane{Key: s.laneKey(fmt.Sprintf("chat:%d:%d", g, i)), Limit: onePerSecond}
						r, err := s.store.Reserve(s.ctx, []core.Lane{global, chat}, 1, 0, 10*time.Second)
						if err != nil {
							errs <- err
							return
						}
						if r.Allowed {
							mu.Lock()
							slots = append(slots, r.RetryAfter)
							mu.Unlock()
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			slices.Sort(slots)
			if len(slots) != 110 {
				t.Fatalf("%d slots within 10s at 10/s (slots 0s..10s inclusive), want 110", len(slots))
			}
			for i := 10; i < len(slots); i++ {
				if slots[i]-slots[i-10] < time.Second {
					t.Fatalf("slots %v and %v: 11 in one second", slots[i-10], slots[i])
				}
			}
		},
	},
}

// reserveLanes returns a global lane of 2 per second and the lane of a
// chat, 1 per second, sharing the case's hash tag.
func (s *suiteRun) reserveLanes() (core.Lane, func(id string) core.Lane) {
	return core.Lane{Key: s.laneKey("global"), Limit: core.Window(2, time.Second)},
		func(id string) core.Lane { return core.Lane{Key: s.laneKey("chat:" + id), Limit: onePerSecond} }
}

// expectSlot fails the test unless got recorded (or not) a slot wait from
// now.
func expectSlot(t *testing.T, step string, got core.Result, recorded bool, wait time.Duration) {
	t.Helper()
	if got.Allowed != recorded || got.RetryAfter != wait {
		t.Fatalf("%s: %+v, want recorded=%v with the slot %v ahead", step, got, recorded, wait)
	}
}

// reserve calls Reserve through the model and fails the test on an error.
func (s *suiteRun) reserve(t *testing.T, n int, from, within time.Duration, lanes ...core.Lane) core.Result {
	t.Helper()
	r, err := s.c.Reserve(s.ctx, lanes, n, from, within)
	if err != nil {
		t.Fatalf("Reserve(%v, %d, %v, %v): %v", lanes, n, from, within, err)
	}
	return r
}
