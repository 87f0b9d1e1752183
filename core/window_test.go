package core_test

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
)

func TestWindowValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		l     core.Limit
		field string // "" when valid
	}{
		{core.Window(20, time.Minute), ""},
		{core.Window(core.MaxWindowRate, time.Hour), ""},
		{core.Window(core.MaxWindowRate+1, time.Hour), "Rate"},
		{core.Window(20, time.Minute).WithBurst(5), "Burst"},
		{core.Window(1, time.Microsecond), "Period"},
		{core.Window(1, 40*365*24*time.Hour), "Period"},
		{core.Limit{Rate: 1, Period: time.Second, Burst: 1, Algorithm: 7}, "Algorithm"},
	} {
		err := tc.l.Validate()
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%+v: %v", tc.l, err)
		case tc.field != "" && (!errors.Is(err, core.ErrInvalidLimit) || !strings.Contains(err.Error(), tc.field)):
			t.Errorf("%+v: error %v, want one naming %s", tc.l, err, tc.field)
		}
	}
	if l, err := core.ParseLimit("20/m window"); err != nil || l != core.Window(20, time.Minute) {
		t.Errorf(`ParseLimit("20/m window") = %+v, %v`, l, err)
	}
	if _, err := core.ParseLimit("20/m burst 5 window"); err == nil || !strings.Contains(err.Error(), "Burst") {
		t.Errorf(`ParseLimit("20/m burst 5 window") error %v, want one naming Burst`, err)
	}
}

// TestDecideWindowNeverExceeds drives DecideWindow with random arrivals and
// costs and checks it against the definition: every decision admits
// exactly when the events admitted in (now-Period, now] plus the cost fit
// Rate, RetryAfter is the exact wait, and the log stays ordered and short.
func TestDecideWindowNeverExceeds(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, l := range []core.Limit{core.Window(1, time.Second), core.Window(3, time.Second), core.Window(20, time.Minute)} {
		p := us(l.Period)
		var admitted []int64 // every admitted event, for the reference count
		var log []int64
		now := epoch
		for range 5000 {
			now += rng.Int64N(p / 4)
			n := 1 + rng.IntN(l.Rate)
			inWindow := 0
			for _, at := range admitted {
				if at+p > now {
					inWindow++
				}
			}
			res, next := core.DecideWindow(l, log, now, n)
			if want := inWindow+n <= l.Rate; res.Allowed != want {
				t.Fatalf("%v at +%dµs cost %d: Allowed %v, want %v (%d in window)", l, now-epoch, n, res.Allowed, want, inWindow)
			}
			if !res.Allowed {
				// Waiting RetryAfter must be enough, and 1µs less not.
				later := now + us(res.RetryAfter)
				if r, _ := core.DecideWindow(l, append([]int64(nil), log...), later, n); !r.Allowed {
					t.Fatalf("%v: denied again after RetryAfter %v", l, res.RetryAfter)
				}
				if r, _ := core.DecideWindow(l, append([]int64(nil), log...), later-1, n); r.Allowed {
					t.Fatalf("%v: RetryAfter %v is longer than needed", l, res.RetryAfter)
				}
				continue
			}
			if res.Remaining != l.Rate-inWindow-n {
				t.Fatalf("%v: Remaining %d, want %d", l, res.Remaining, l.Rate-inWindow-n)
			}
			for range n {
				admitted = append(admitted, now)
			}
			log = next
			if len(log) > l.Rate {
				t.Fatalf("%v: log holds %d > Rate events", l, len(log))
			}
			for i := 1; i < len(log); i++ {
				if log[i] < log[i-1] {
					t.Fatalf("%v: log out of order: %v", l, log)
				}
			}
		}
	}
}

// TestWindowIsACapGCRAIsARate shows why SlidingWindow exists: over any 60
// s, "20/m window" admits 20 while GCRA with burst 20 admits 39.
func TestWindowIsACapGCRAIsARate(t *testing.T) {
	t.Parallel()
	count := func(l core.Limit) int {
		var tat int64
		var log []int64
		admitted := 0
		for at := epoch; at < epoch+us(time.Minute); at += us(100 * time.Millisecond) {
			var res core.Result
			if l.Algorithm == core.SlidingWindow {
				res, log = core.DecideWindow(l, log, at, 1)
			} else {
				res, tat = core.Decide(l, tat, at, 1)
			}
			if res.Allowed {
				admitted++
			}
		}
		return admitted
	}
	if got := count(core.Window(20, time.Minute)); got != 20 {
		t.Errorf("20/m window admitted %d in one minute, want 20", got)
	}
	if got := count(core.PerMinute(20)); got != 39 {
		t.Errorf("20/m GCRA admitted %d in one minute, want 39", got)
	}
}

func TestBlockWindow(t *testing.T) {
	t.Parallel()
	l := core.Window(3, time.Second)
	now := epoch
	log, ttl := core.BlockWindow(l, nil, now, 5*time.Second)
	if ttl != 5*time.Second || len(log) != 3 {
		t.Fatalf("BlockWindow on an empty key: %v, ttl %v", log, ttl)
	}
	if res, _ := core.DecideWindow(l, log, now, 1); res.Allowed || res.RetryAfter != 5*time.Second {
		t.Fatalf("blocked lane: %+v, want denied for 5s", res)
	}
	// A shorter block does not shorten it.
	log2, ttl2 := core.BlockWindow(l, log, now+us(time.Second), time.Second)
	if ttl2 != 4*time.Second {
		t.Errorf("shorter block: ttl %v, want the 4s left", ttl2)
	}
	if res, _ := core.DecideWindow(l, log2, now+us(4999*time.Millisecond), 1); res.Allowed {
		t.Error("shorter block shortened the first")
	}
	if res, _ := core.DecideWindow(l, log2, now+us(5*time.Second), 3); !res.Allowed {
		t.Error("lane still blocked after the block ended")
	}
	// Events newer than the block keep their time.
	full := []int64{now, now + 10, now + us(2*time.Second)}
	log3, _ := core.BlockWindow(l, full, now, 1500*time.Millisecond)
	if log3[2] != now+us(2*time.Second) || log3[0] != now+us(500*time.Millisecond) {
		t.Errorf("BlockWindow(%v) = %v", full, log3)
	}
}

func TestDecideLanesAllOrNothing(t *testing.T) {
	t.Parallel()
	wide, narrow := core.Window(5, time.Second), core.Window(1, time.Second)
	lanes := []core.Lane{{Key: "global", Limit: wide}, {Key: "chat", Limit: narrow}}
	logs := make([][]int64, 2)
	if res := core.DecideLanes(lanes, logs, epoch, 1); !res.Allowed || res.Limit != narrow || res.Remaining != 0 {
		t.Fatalf("first: %+v, want admitted with the chat lane binding", res)
	}
	res := core.DecideLanes(lanes, logs, epoch+10, 1)
	if res.Allowed || res.Limit != narrow || res.RetryAfter != time.Second-10*time.Microsecond {
		t.Fatalf("second: %+v, want denied by the chat lane", res)
	}
	if len(logs[0]) != 1 {
		t.Fatalf("a denied decision wrote to the global lane: %v", logs[0])
	}
}

func TestLimiterTakeAll(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	quiet := core.WithLogger(slog.New(slog.DiscardHandler))
	chat, global := core.Window(1, time.Second), core.Window(2, time.Second)
	lanes := func(chatKey string) []core.Lane {
		return []core.Lane{{Key: "g", Limit: global}, {Key: chatKey, Limit: chat}}
	}
	clock := testutil.NewClock()
	lim, err := core.New(testutil.FailingStore{}, core.PerSecond(1), quiet, core.WithClock(clock.Now),
		core.WithBreaker(1, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// The store is down: FailLocal decides on the in-process fallback,
	// which keeps the lanes exact.
	for i, want := range []bool{true, false, true, false} {
		key := []string{"a", "a", "b", "c"}[i]
		res, err := lim.TakeAll(ctx, lanes(key), 1)
		if err != nil || res.Allowed != want || res.Source != core.SourceFallback {
			t.Fatalf("TakeAll %d (%s) = %+v, %v; want Allowed %v from the fallback", i, key, res, err, want)
		}
	}
	if err := lim.Block(ctx, "d", chat, time.Minute); !errors.Is(err, testutil.ErrStoreDown) && !strings.Contains(err.Error(), "breaker") {
		t.Errorf("Block on a down store: %v, want the store's error", err)
	}
	clock.Advance(time.Second)
	if res, _ := lim.TakeAll(ctx, lanes("d"), 1); res.Allowed {
		t.Error("the block was not applied locally while the store is down")
	}

	for _, bad := range []struct {
		lanes []core.Lane
		n     int
		want  error
	}{
		{nil, 1, core.ErrInvalidOption},
		{lanes("g"), 1, core.ErrInvalidOption},
		{[]core.Lane{{Key: "", Limit: chat}}, 1, core.ErrInvalidOption},
		{[]core.Lane{{Key: "x", Limit: core.PerSecond(1)}}, 1, core.ErrInvalidLimit},
		{lanes("a"), 2, core.ErrInvalidCost},
	} {
		if _, err := lim.TakeAll(ctx, bad.lanes, bad.n); !errors.Is(err, bad.want) {
			t.Errorf("TakeAll(%v, %d) error %v, want %v", bad.lanes, bad.n, err, bad.want)
		}
	}
	gcraOnly, err := core.New(gcraStore{}, core.PerSecond(1), quiet)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gcraOnly.TakeAll(ctx, lanes("a"), 1); !errors.Is(err, core.ErrNoLanes) {
		t.Errorf("TakeAll on a store without lanes: %v, want ErrNoLanes", err)
	}
}

// gcraStore is a Store that is no LaneStore.
type gcraStore struct{ testutil.AllowStore }

// Peek on a sliding window decided by the in-process fallback (the store
// is out, the breaker open) records nothing, even when events have left
// the window since.
func TestFallbackWindowPeekWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := testutil.NewClock()
	lim, err := core.New(testutil.FailingStore{}, core.Window(3, time.Second), core.WithClock(clock.Now),
		core.WithBreaker(1, time.Hour), core.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if res, err := lim.Take(ctx, core.User(1), 1); err != nil || !res.Allowed || res.Source != core.SourceFallback {
			t.Fatalf("Take = %+v, %v; want admitted by the fallback", res, err)
		}
		clock.Advance(300 * time.Millisecond)
	}
	clock.Advance(150 * time.Millisecond) // the first event left the window
	if res, err := lim.Peek(ctx, core.User(1)); err != nil || !res.Allowed {
		t.Fatalf("Peek = %+v, %v; want allowed", res, err)
	}
	if res, _ := lim.Take(ctx, core.User(1), 1); !res.Allowed || res.Remaining != 0 {
		t.Fatalf("Take after Peek = %+v; want the one free slot (Peek must not record an event)", res)
	}
}

// TakeAll over an in-process store that fails (memorystore at its key cap)
// decides by the failure policy, as Take does, instead of returning the
// error.
func TestTakeAllInProcessFailureFollowsPolicy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	lanes := []core.Lane{{Key: "a", Limit: core.Window(1, time.Second)}}
	for _, tc := range []struct {
		policy core.FailurePolicy
		want   bool
	}{{core.FailOpen, true}, {core.FailClosed, false}, {core.FailLocal, false}} {
		lim, err := core.New(failingInProcess{}, core.PerSecond(1), core.WithPolicy(tc.policy),
			core.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		res, err := lim.TakeAll(ctx, lanes, 1)
		if err != nil || res.Allowed != tc.want || res.Source != core.SourcePolicy || res.Limit != lanes[0].Limit {
			t.Errorf("%v: TakeAll = %+v, %v; want Allowed %v by policy under the lane's limit", tc.policy, res, err, tc.want)
		}
	}
}

// failingInProcess is an in-process LaneStore whose every call fails, like
// a memorystore at its WithMaxKeys cap.
type failingInProcess struct{ testutil.FailingStore }

func (failingInProcess) InProcess() {}
