package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/core/decide"
)

// model is what every key of a case should hold, computed with package
// core/decide: the reference a checked store is compared with.
type model struct {
	keys map[string]*modelKey // absent: nothing recorded since the start or a Reset
}

// modelKey is one key's state: a GCRA TAT, or a window's log.
type modelKey struct {
	window bool
	tat    int64   // GCRA
	times  []int64 // window, oldest first
	period int64   // window: the Period of the limit of the last write, µs
	// expiry is when the state stops mattering (µs on the case clock): the
	// TAT, or when the newest event leaves the window. A store's TTL must
	// cover it.
	expiry int64
	// wrote is the real time just before the call that last changed the
	// state, for stores whose TTLs run on a real clock.
	wrote time.Time
}

func newModel() *model { return &model{keys: map[string]*modelKey{}} }

// tat is key's GCRA state: 0 (a key never seen) when absent or when it
// holds a window, which a store reads as absent.
func (m *model) tat(key string) int64 {
	if k := m.keys[key]; k != nil && !k.window {
		return k.tat
	}
	return 0
}

// times is a copy of key's window log: nil when absent or GCRA.
func (m *model) times(key string) []int64 {
	if k := m.keys[key]; k != nil && k.window {
		return slices.Clone(k.times)
	}
	return nil
}

func (m *model) setGCRA(key string, tat int64, wrote time.Time) {
	m.keys[key] = &modelKey{tat: tat, expiry: tat, wrote: wrote}
}

func (m *model) setWindow(key string, times []int64, period int64, wrote time.Time) {
	m.keys[key] = &modelKey{window: true, times: times, period: period, expiry: times[len(times)-1] + period, wrote: wrote}
}

// checked is a core.Store that passes every call to st and checks the
// answer against the model: the Result must be what package decide
// computes from the model's state, and, with Options.TTL, each key's time
// to live must cover its state. A mismatch fails the test at once, since
// every later step would differ too. It is used by one goroutine at a
// time.
type checked struct {
	t     *testing.T
	st    core.Store
	m     *model
	clock *clock
	opts  Options
}

var _ core.Store = (*checked)(nil)

// check returns st seen through the model m.
func (s *suiteRun) check(st core.Store, m *model) *checked {
	return &checked{t: s.t, st: st, m: m, clock: s.clock, opts: s.opts}
}

func (c *checked) now() int64 { return c.clock.Now().UnixMicro() }

// at says when a step happened, on the case clock.
func (c *checked) at() string { return "+" + c.clock.Now().Sub(epoch).String() }

// compare fails the test unless the store answered what decide computes.
func (c *checked) compare(op string, got, want core.Result) {
	c.t.Helper()
	if got != want {
		c.t.Fatalf("%s at %s differs from package decide:\n got %+v\nwant %+v", op, c.at(), got, want)
	}
}

// Take implements core.Store.
func (c *checked) Take(ctx context.Context, key string, l core.Limit, n int) (core.Result, error) {
	c.t.Helper()
	if l.Algorithm == core.SlidingWindow {
		return c.lanes(fmt.Sprintf("Take(%q, %v, %d)", key, l, n), []core.Lane{{Key: key, Limit: l}}, n,
			func() (core.Result, error) { return c.st.Take(ctx, key, l, n) })
	}
	now, start := c.now(), time.Now()
	got, err := c.st.Take(ctx, key, l, n)
	if err != nil {
		return got, err
	}
	want, next := decide.GCRA(l, c.m.tat(key), now, n)
	c.compare(fmt.Sprintf("Take(%q, %v, %d)", key, l, n), got, want)
	if want.Allowed {
		c.m.setGCRA(key, next, start)
	}
	c.checkTTL(key, want.Allowed)
	return got, nil
}

// TakeAll implements core.Store.
func (c *checked) TakeAll(ctx context.Context, lanes []core.Lane, n int) (core.Result, error) {
	c.t.Helper()
	return c.lanes(fmt.Sprintf("TakeAll(%v, %d)", lanes, n), lanes, n,
		func() (core.Result, error) { return c.st.TakeAll(ctx, lanes, n) })
}

// lanes checks call, a Take under a window or a TakeAll, against
// decide.Lanes.
func (c *checked) lanes(op string, lanes []core.Lane, n int, call func() (core.Result, error)) (core.Result, error) {
	c.t.Helper()
	now, start := c.now(), time.Now()
	got, err := call()
	if err != nil {
		return got, err
	}
	logs := make([][]int64, len(lanes))
	for i, ln := range lanes {
		logs[i] = c.m.times(ln.Key)
	}
	want := decide.Lanes(lanes, logs, now, n)
	c.compare(op, got, want)
	for i, ln := range lanes {
		if want.Allowed {
			c.m.setWindow(ln.Key, logs[i], ln.Limit.Period.Microseconds(), start)
		}
		c.checkTTL(ln.Key, want.Allowed)
	}
	return got, nil
}

// Reserve implements core.Store, checked against decide.Reserve.
func (c *checked) Reserve(ctx context.Context, lanes []core.Lane, n int, from, within time.Duration) (core.Result, error) {
	c.t.Helper()
	now, start := c.now(), time.Now()
	got, err := c.st.Reserve(ctx, lanes, n, from, within)
	if err != nil {
		return got, err
	}
	logs := make([][]int64, len(lanes))
	for i, ln := range lanes {
		logs[i] = c.m.times(ln.Key)
	}
	want := decide.Reserve(lanes, logs, now, n, from, within)
	c.compare(fmt.Sprintf("Reserve(%v, %d, %v, %v)", lanes, n, from, within), got, want)
	for i, ln := range lanes {
		if want.Allowed {
			c.m.setWindow(ln.Key, logs[i], ln.Limit.Period.Microseconds(), start)
		}
		c.checkTTL(ln.Key, want.Allowed)
	}
	return got, nil
}

// Peek implements core.Store.
func (c *checked) Peek(ctx context.Context, key string, l core.Limit) (core.Result, error) {
	c.t.Helper()
	now := c.now()
	got, err := c.st.Peek(ctx, key, l)
	if err != nil {
		return got, err
	}
	var want core.Result
	if l.Algorithm == core.SlidingWindow {
		want, _ = decide.Window(l, c.m.times(key), now, 1)
	} else {
		want, _ = decide.GCRA(l, c.m.tat(key), now, 1)
	}
	c.compare(fmt.Sprintf("Peek(%q, %v)", key, l), got, want)
	c.checkTTL(key, false)
	return got, nil
}

// Reset implements core.Store.
func (c *checked) Reset(ctx context.Context, key string) error {
	c.t.Helper()
	if err := c.st.Reset(ctx, key); err != nil {
		return err
	}
	delete(c.m.keys, key)
	c.checkTTL(key, false)
	return nil
}

// Block implements core.Store. A Block that leaves the state as it was (an
// earlier, longer block) need not write, so the TTL the store set last
// still counts.
func (c *checked) Block(ctx context.Context, key string, l core.Limit, d time.Duration) error {
	c.t.Helper()
	now, start := c.now(), time.Now()
	if err := c.st.Block(ctx, key, l, d); err != nil {
		return err
	}
	old := c.m.keys[key]
	changed := false
	if l.Algorithm == core.SlidingWindow {
		log, _ := decide.BlockWindow(l, c.m.times(key), now, d)
		p := l.Period.Microseconds()
		if changed = old == nil || !old.window || old.period != p || !slices.Equal(log, old.times); changed {
			c.m.setWindow(key, log, p, start)
		}
	} else {
		tat := decide.BlockGCRA(l, c.m.tat(key), now, d)
		if changed = old == nil || old.window || tat != old.tat; changed {
			c.m.setGCRA(key, tat, start)
		}
	}
	c.checkTTL(key, changed)
	return nil
}

// checkTTL checks key's time to live against the model, with Options.TTL;
// wrote reports that the call just made changed key's state, so the store
// has just set its TTL.
func (c *checked) checkTTL(key string, wrote bool) {
	c.t.Helper()
	if c.opts.TTL == nil {
		return
	}
	ttl, held := c.opts.TTL(c.t, c.st, key)
	k := c.m.keys[key]
	if k == nil {
		if held {
			c.t.Fatalf("at %s key %q is held (TTL %v), but nothing was recorded in it since it was new or Reset: "+
				"Peek, a denial and Reset must leave no state behind", c.at(), key, ttl)
		}
		return
	}
	need := time.Duration(k.expiry-c.now()) * time.Microsecond
	unit := c.opts.TTLUnit
	var slack time.Duration
	if unit > 0 {
		slack = unit + time.Since(k.wrote)
	}
	switch {
	case !held && need > slack:
		c.t.Fatalf("at %s key %q is gone, but its state matters for %v more", c.at(), key, need)
	case !held:
	case ttl < 0:
		c.t.Fatalf("at %s key %q has no time to live: it would live forever", c.at(), key)
	case ttl < need-slack:
		c.t.Fatalf("at %s key %q lives %v, less than its state needs (%v): it would be forgotten while it still matters",
			c.at(), key, ttl, need)
	case (wrote || unit == 0) && ttl > max(need, 0)+unit:
		c.t.Fatalf("at %s key %q lives %v, more than its state needs (%v) plus the TTL unit (%v)",
			c.at(), key, ttl, max(need, 0), unit)
	}
}
