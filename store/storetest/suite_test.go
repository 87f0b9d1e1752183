package storetest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/core/decide"
	"github.com/floodgate-go/floodgate/store/storetest"
)

// handle is a second store value over the same mapStore, as two clients of
// one Redis are: the cases that check that a Block is shared run instead
// of skipping.
type handle struct{ *mapStore }

func TestSharedBackend(t *testing.T) {
	var backends sync.Map // *testing.T → *mapStore: one backend per case
	storetest.RunWith(t, func(t *testing.T, now func() time.Time) core.Store {
		b, _ := backends.LoadOrStore(t, newMapStore(now))
		return &handle{b.(*mapStore)}
	}, storetest.Options{TTL: func(t *testing.T, st core.Store, key string) (time.Duration, bool) {
		return st.(*handle).ttl(key)
	}})
}

// mutants are broken stores, each with the cases that must catch it.
var mutants = map[string]struct {
	newStore storetest.NewStore
	ttl      func(st core.Store, key string) (time.Duration, bool)
	catch    []string
}{
	"denial-writes": {
		newStore: func(t *testing.T, now func() time.Time) core.Store { return denialWrites{newMapStore(now)} },
		catch:    []string{"DenialWritesNothing", "BurstExhaustedThenDenied", "GCRARandomMatchesDecide"},
	},
	"peek-takes": {
		newStore: func(t *testing.T, now func() time.Time) core.Store { return peekTakes{newMapStore(now)} },
		catch:    []string{"PeekWritesNothing", "WindowPeekAndDenialWriteNothing", "BlockGCRA"},
	},
	"block-replaces": {
		newStore: func(t *testing.T, now func() time.Time) core.Store { return blockReplaces{newMapStore(now)} },
		catch:    []string{"BlockGCRANeverShortened", "WindowBlockNeverShortened", "WindowBlockKeepsNewerEvents"},
	},
	"block-noop": {
		newStore: func(t *testing.T, now func() time.Time) core.Store { return blockNoop{newMapStore(now)} },
		catch:    []string{"BlockGCRA", "BlockDuringTakes", "WindowBlockNeverShortened", "LongestLimitAndBlock"},
	},
	"lanes-one-by-one": {
		newStore: func(t *testing.T, now func() time.Time) core.Store { return lanesOneByOne{newMapStore(now)} },
		catch:    []string{"LanesAllOrNothing", "LanesConcurrentExact", "WindowRandomMatchesDecide"},
	},
	"lost-update": {
		newStore: func(t *testing.T, now func() time.Time) core.Store { return lostUpdate{newMapStore(now)} },
		catch:    []string{"ConcurrentExact"},
	},
	"millisecond-clock": {
		newStore: func(t *testing.T, now func() time.Time) core.Store {
			return newMapStore(func() time.Time { return now().Truncate(time.Millisecond) })
		},
		catch: []string{"RateNotDividingPeriod", "BlockGCRA", "GCRARandomMatchesDecide", "WindowRandomMatchesDecide"},
	},
	"wrong-type-error": {
		newStore: func(t *testing.T, now func() time.Time) core.Store { return wrongType{newMapStore(now)} },
		catch:    []string{"OtherAlgorithmStateHealsOrKeyFault"},
	},
	"no-ttl": {
		newStore: func(t *testing.T, now func() time.Time) core.Store { return newMapStore(now) },
		ttl:      func(core.Store, string) (time.Duration, bool) { return -1, true },
		catch:    []string{"FirstCallAllowed", "WindowReset"},
	},
	"ttl-one-interval-short": {
		newStore: func(t *testing.T, now func() time.Time) core.Store { return newMapStore(now) },
		ttl: func(st core.Store, key string) (time.Duration, bool) {
			d, ok := st.(*mapStore).ttl(key)
			return d - time.Microsecond, ok
		},
		catch: []string{"FirstCallAllowed", "BlockGCRA", "LanesAllOrNothing"},
	},
}

// TestSuiteCatchesMutants runs the suite against each mutant in a child
// process and requires the cases meant to catch it to fail, saying why.
// A suite that passes a broken store proves nothing.
func TestSuiteCatchesMutants(t *testing.T) {
	for name, m := range mutants {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestMutant$/^("+strings.Join(m.catch, "|")+")$",
				"-test.v", "-test.short", "-test.count=1")
			cmd.Env = append(os.Environ(), "STORETEST_MUTANT="+name)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("the suite passed the mutant (err %v):\n%s", err, out)
			}
			for _, c := range m.catch {
				if !strings.Contains(string(out), "--- FAIL: TestMutant/"+c+" ") {
					t.Errorf("case %s did not catch the mutant", c)
				}
			}
			if !strings.Contains(string(out), "why this matters: ") {
				t.Errorf("no failure says why it matters")
			}
			if t.Failed() {
				t.Logf("child output:\n%s", out)
			}
		})
	}
}

// TestMutant is the child of TestSuiteCatchesMutants.
func TestMutant(t *testing.T) {
	name := os.Getenv("STORETEST_MUTANT")
	if name == "" {
		t.Skip("run by TestSuiteCatchesMutants")
	}
	m := mutants[name]
	opts := storetest.Options{TTL: func(t *testing.T, st core.Store, key string) (time.Duration, bool) {
		return st.(interface {
			ttl(string) (time.Duration, bool)
		}).ttl(key)
	}}
	if m.ttl != nil {
		opts.TTL = func(t *testing.T, st core.Store, key string) (time.Duration, bool) { return m.ttl(st, key) }
	}
	storetest.RunWith(t, m.newStore, opts)
}

// denialWrites moves a denied key's TAT as if the event had been admitted:
// a spammer's retries extend their own wait.
type denialWrites struct{ *mapStore }

func (s denialWrites) Take(ctx context.Context, key string, l core.Limit, n int) (core.Result, error) {
	res, err := s.mapStore.Take(ctx, key, l, n)
	if err == nil && !res.Allowed && l.Algorithm == core.GCRA {
		err = s.Block(ctx, key, l, res.RetryAfter+l.Interval())
	}
	return res, err
}

// peekTakes records what it peeks.
type peekTakes struct{ *mapStore }

func (s peekTakes) Peek(ctx context.Context, key string, l core.Limit) (core.Result, error) {
	return s.Take(ctx, key, l, 1)
}

// blockReplaces forgets the key's state before blocking it, so a later,
// shorter block cuts an earlier one.
type blockReplaces struct{ *mapStore }

func (s blockReplaces) Block(ctx context.Context, key string, l core.Limit, d time.Duration) error {
	_ = s.Reset(ctx, key)
	return s.mapStore.Block(ctx, key, l, d)
}

// blockNoop ignores Block.
type blockNoop struct{ *mapStore }

func (blockNoop) Block(context.Context, string, core.Limit, time.Duration) error { return nil }

// lanesOneByOne takes each lane on its own: a denial on one lane leaves
// the others charged.
type lanesOneByOne struct{ *mapStore }

func (s lanesOneByOne) TakeAll(ctx context.Context, lanes []core.Lane, n int) (core.Result, error) {
	var res core.Result
	for i := range lanes {
		r, err := s.mapStore.TakeAll(ctx, lanes[i:i+1], n)
		if err != nil {
			return r, err
		}
		if i == 0 || !r.Allowed && res.Allowed {
			res = r
		}
	}
	return res, nil
}

// lostUpdate reads a GCRA key and writes it back under two separate locks:
// the get-then-set race the design warns about.
type lostUpdate struct{ *mapStore }

func (s lostUpdate) Take(ctx context.Context, key string, l core.Limit, n int) (core.Result, error) {
	if l.Algorithm == core.SlidingWindow {
		return s.mapStore.Take(ctx, key, l, n)
	}
	s.mu.Lock()
	now := s.now().UnixMicro()
	tat := s.get(key, false, now).tat
	s.mu.Unlock()
	// A slow store between its read and its write (a round trip): the
	// other goroutines read the same TAT meanwhile. A Gosched alone let
	// the suite pass this mutant now and then, when no read overlapped.
	time.Sleep(time.Millisecond)
	res, next := decide.GCRA(l, tat, now, n)
	if res.Allowed {
		s.mu.Lock()
		s.keys[key] = mapEntry{tat: next, expires: next}
		s.mu.Unlock()
	}
	return res, nil
}

// wrongType fails on a key holding the other algorithm's state with an
// error that does not wrap core.ErrKeyFault, as a raw Redis WRONGTYPE would.
type wrongType struct{ *mapStore }

func (s wrongType) Take(ctx context.Context, key string, l core.Limit, n int) (core.Result, error) {
	s.mu.Lock()
	e, ok := s.keys[key]
	s.mu.Unlock()
	if ok && e.window != (l.Algorithm == core.SlidingWindow) {
		return core.Result{}, errors.New("WRONGTYPE Operation against a key holding the wrong kind of value")
	}
	return s.mapStore.Take(ctx, key, l, n)
}
