package outbound

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/floodgate-go/floodgate/core"
)

// DefaultLimits are the lanes New fills in, for the tests of package
// outbound_test that compute what the limits allow.
var DefaultLimits = defaultLimits()

// FakeClock is a clock for tests: time stands still except when Advance
// moves it, and a timer fires once the clock reaches it. With Auto, the
// clock jumps to the earliest timer as soon as one is waiting, so a test
// runs its throttle's waits without sleeping.
type FakeClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*fakeTimer
	waiting chan struct{} // signalled when a timer is added
}

type fakeTimer struct {
	at time.Time
	c  chan time.Time
}

// NewFakeClock returns a FakeClock at start.
func NewFakeClock(start time.Time) *FakeClock {
	return &FakeClock{now: start, waiting: make(chan struct{}, 1)}
}

// Now returns the clock's time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After implements the throttle's clock.
func (c *FakeClock) After(d time.Duration) (<-chan time.Time, func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tm := &fakeTimer{at: c.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		tm.c <- c.now
		return tm.c, func() bool { return false }
	}
	c.timers = append(c.timers, tm)
	select {
	case c.waiting <- struct{}{}:
	default:
	}
	return tm.c, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		i := slices.Index(c.timers, tm)
		if i >= 0 {
			c.timers = slices.Delete(c.timers, i, i+1)
		}
		return i >= 0
	}
}

// Advance moves the clock d ahead and fires the timers it reaches.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceTo(c.now.Add(d))
}

func (c *FakeClock) advanceTo(t time.Time) {
	if t.After(c.now) {
		c.now = t
	}
	c.timers = slices.DeleteFunc(c.timers, func(tm *fakeTimer) bool {
		if tm.at.After(c.now) {
			return false
		}
		tm.c <- c.now
		return true
	})
}

// Auto makes the clock jump to its earliest timer whenever one is waiting,
// until stop is closed.
func (c *FakeClock) Auto(stop <-chan struct{}) {
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-c.waiting:
			}
			c.mu.Lock()
			for len(c.timers) > 0 {
				next := c.timers[0].at
				for _, tm := range c.timers[1:] {
					if tm.at.Before(next) {
						next = tm.at
					}
				}
				c.advanceTo(next)
			}
			c.mu.Unlock()
		}
	}()
}

// UseClock makes th take its time from c.
func UseClock(th *Throttle, c *FakeClock) { th.clock = c }

// Timers returns how many timers wait on the clock.
func (c *FakeClock) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// SetTurnWait sets how long a request of th waits for the one before it
// in its instance's line to ask the store (default one second).
func SetTurnWait(th *Throttle, d time.Duration) { th.line.wait = d }

// OnQueue makes th call fn with each throttled request's context as the
// request joins its instance's line.
func OnQueue(th *Throttle, fn func(context.Context)) { th.queueing = fn }

// OnBook makes th call fn with each throttled request's context and each
// answer the store gave it, with the real times of the call and the
// answer.
func OnBook(th *Throttle, fn func(ctx context.Context, res core.Result, asked, replied time.Time)) {
	th.booked = fn
}
