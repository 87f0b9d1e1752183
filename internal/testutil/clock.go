package testutil

import (
	"strconv"
	"sync"
	"time"
)

// Epoch is where every test Clock starts: a fixed instant, so decisions are
// the same on every run.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Clock is a frozen clock that moves only when told to. Its Now method is
// what stores take as their clock in tests. Safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock at Epoch.
func NewClock() *Clock { return &Clock{now: Epoch} }

// Now returns the clock's current instant.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// BenchKeys returns n distinct keys in floodgate's layout
// ("floodgate:{u:<id>}:msg"), for benchmarks that must not time key
// building.
func BenchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "floodgate:{u:" + strconv.Itoa(100000000+i) + "}:msg"
	}
	return keys
}
