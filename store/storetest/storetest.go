package storetest

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
)

// NewStore builds the store under test for one case. The store must take
// its time from now, a clock the case freezes and moves (for Redis,
// redisstore.WithClock). It is called from parallel subtests, once per
// case, and twice, with the same t, by the case BlockSharedByStoreValues,
// which checks that a Block is shared by two store values as by two bot
// instances: return values over one backend when there is one (two
// clients of one Redis), or independent stores (an in-process store), and
// that case skips itself. Cases use keys of their own, so stores may share
// a server across cases; close what the function opens with t.Cleanup.
type NewStore func(t *testing.T, now func() time.Time) core.Store

// Options turns on the checks a store must help with. The zero Options
// runs what Run runs.
type Options struct {
	// TTL reports the time to live of key in st, the store NewStore
	// returned for the case, on the store's clock: ok is false when st
	// holds no state for key, and ttl is negative when st holds it with
	// no expiry (Redis' PTTL returns -1 then). Set it and, after every
	// call a case makes, the suite checks that a key holding state lives
	// at least as long as that state matters (until a GCRA key's TAT, or
	// a window's newest event leaves it) and at most TTLUnit longer, and
	// that a key Peek, a denial or Reset touched holds nothing it should
	// not. Nil: no TTL checks.
	TTL func(t *testing.T, st core.Store, key string) (ttl time.Duration, ok bool)
	// TTLUnit is the granularity of the store's TTLs, for a store that
	// rounds them up to a unit and counts them down on its own clock
	// rather than the case's (redisstore: time.Millisecond, for PX and
	// PTTL on Redis' clock). The suite then accepts a TTL up to one unit
	// longer than the state needs, and up to one unit plus the real time
	// elapsed since the write shorter. Zero (or less): the store keeps
	// TTLs in microseconds on the case's clock (memorystore), and they
	// must be exact.
	TTLUnit time.Duration
}

// Run checks that a core.Store meets the contract documented on
// core.Store, as RunWith does with the zero Options: every case, no TTL
// checks.
func Run(t *testing.T, newStore NewStore) { RunWith(t, newStore, Options{}) }

// RunWith checks that a core.Store meets the contract documented on
// core.Store: GCRA and sliding-window decisions equal package
// core/decide's step by step; Peek and denials write nothing; Reset;
// Block; lanes all or nothing; exact counts under concurrency; and, when
// opts.TTL is set, time to live after every call. Each case runs as a
// parallel subtest of t named after the behaviour, and a failing case
// says why the behaviour matters.
func RunWith(t *testing.T, newStore NewStore, opts Options) {
	t.Helper()
	opts.TTLUnit = max(opts.TTLUnit, 0)
	run := strconv.FormatInt(time.Now().UnixNano(), 36) // keys of no earlier run on a shared server
	for _, c := range allCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				if t.Failed() {
					t.Logf("why this matters: %s", c.why)
				}
			}()
			clock := newClock()
			st := newStore(t, clock.Now)
			s := &suiteRun{
				t:        t,
				store:    st,
				clock:    clock,
				ns:       run + "-" + strconv.FormatInt(suiteSeq.Add(1), 10),
				ctx:      context.Background(),
				newStore: newStore,
				opts:     opts,
			}
			s.c = s.check(st, newModel())
			c.run(t, s)
		})
	}
}

var suiteSeq atomic.Int64

// suiteCase is one behaviour every store must have, with the reason it
// matters.
type suiteCase struct {
	name, why string
	run       func(t *testing.T, s *suiteRun)
}

func allCases() []suiteCase {
	var all []suiteCase
	for _, cs := range [][]suiteCase{gcraCases, blockCases, windowCases, reserveCases, randomCases} {
		all = append(all, cs...)
	}
	return all
}

// suiteRun is what a case works with: a fresh store on a frozen clock, the
// same store seen through the model (c), and a key namespace of its own.
type suiteRun struct {
	t        *testing.T
	store    core.Store // the store itself, for the concurrency cases
	c        *checked   // the store checked against the model after every call
	clock    *clock
	ns       string
	ctx      context.Context
	newStore NewStore
	opts     Options
}

// key returns a key of this case's namespace, in floodgate's key layout.
func (s *suiteRun) key(name string) string { return "suite:{" + s.ns + ":" + name + "}:msg" }

// laneKey returns a key of this case's namespace that shares one Redis
// Cluster hash slot with every other laneKey of the case, as the keys of
// one TakeAll must.
func (s *suiteRun) laneKey(name string) string { return "suite:{" + s.ns + "}:out:" + name }

// take calls Take through the model and fails the test on an error.
func (s *suiteRun) take(t *testing.T, key string, l core.Limit, n int) core.Result {
	t.Helper()
	r, err := s.c.Take(s.ctx, key, l, n)
	if err != nil {
		t.Fatalf("Take(%q, %v, %d): %v", key, l, n, err)
	}
	return r
}

// peek calls Peek through the model and fails the test on an error.
func (s *suiteRun) peek(t *testing.T, key string, l core.Limit) core.Result {
	t.Helper()
	r, err := s.c.Peek(s.ctx, key, l)
	if err != nil {
		t.Fatalf("Peek(%q, %v): %v", key, l, err)
	}
	return r
}

// takeAll calls TakeAll through the model and fails the test on an error.
func (s *suiteRun) takeAll(t *testing.T, n int, lanes ...core.Lane) core.Result {
	t.Helper()
	r, err := s.c.TakeAll(s.ctx, lanes, n)
	if err != nil {
		t.Fatalf("TakeAll(%v, %d): %v", lanes, n, err)
	}
	return r
}

// block calls Block through the model and fails the test on an error.
func (s *suiteRun) block(t *testing.T, key string, l core.Limit, d time.Duration) {
	t.Helper()
	if err := s.c.Block(s.ctx, key, l, d); err != nil {
		t.Fatalf("Block(%q, %v, %v): %v", key, l, d, err)
	}
}

// reset calls Reset through the model and fails the test on an error.
func (s *suiteRun) reset(t *testing.T, key string) {
	t.Helper()
	if err := s.c.Reset(s.ctx, key); err != nil {
		t.Fatalf("Reset(%q): %v", key, err)
	}
}

// want is the Result a case expects, but for Limit, which expect takes
// apart (and Source and Shadow, which a store leaves zero).
type want struct {
	allowed            bool
	remaining          int
	retryAfter, resetA time.Duration
}

// expect fails the test unless got is w under limit l.
func expect(t *testing.T, step string, got core.Result, l core.Limit, w want) {
	t.Helper()
	wr := core.Result{Allowed: w.allowed, Remaining: w.remaining, RetryAfter: w.retryAfter, ResetAfter: w.resetA, Limit: l}
	if got != wr {
		t.Errorf("%s:\n got %+v\nwant %+v", step, got, wr)
	}
}

// epoch is where every case's clock starts: a fixed instant, so decisions
// are the same on every run.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// clock is a frozen clock that moves only when told to. Safe for
// concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: epoch} }

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
