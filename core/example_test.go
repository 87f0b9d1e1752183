package core_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/store/memorystore"
)

func ExampleNew() {
	// Two messages per minute per user, for a bot called booking_bot. The
	// memory store suits one process; store/redisstore shares the limit
	// between instances.
	st := memorystore.New()
	defer st.Close()
	limiter, err := core.New(st, core.PerMinute(2), core.WithPrefix("booking_bot"))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		res, err := limiter.Take(ctx, core.User(123456789), 1)
		if err != nil {
			panic(err) // memorystore never fails: only a canceled ctx or an invalid cost
		}
		if !res.Allowed {
			fmt.Printf("message %d: slow down, retry in %v\n", i, res.RetryAfter.Round(time.Second))
			continue
		}
		fmt.Printf("message %d: allowed, %d left\n", i, res.Remaining)
	}
	// Output:
	// message 1: allowed, 1 left
	// message 2: allowed, 0 left
	// message 3: slow down, retry in 30s
}

func ExampleParseLimit() {
	for _, s := range []string{"1/s", "20 / minute", "10/100ms", "100/h burst 10", "0/s", "1/500us"} {
		l, err := core.ParseLimit(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%-15q rate %d per %v, burst %d\n", s, l.Rate, l.Period, l.Burst)
	}
	// Output:
	// "1/s"           rate 1 per 1s, burst 1
	// "20 / minute"   rate 20 per 1m0s, burst 20
	// "10/100ms"      rate 10 per 100ms, burst 10
	// "100/h burst 10" rate 100 per 1h0m0s, burst 10
	// core: invalid limit: "0/s": Rate must be at least 1, got 0
	// core: invalid limit: Period must be at least 1ms, got 500µs
}

func ExampleLimit_String() {
	fmt.Println(core.PerSecond(1))
	fmt.Println(core.PerMinute(20).WithBurst(5))
	fmt.Println(core.Every(1500 * time.Millisecond))
	fmt.Println(core.Limit{Rate: 1000, Period: 24 * time.Hour, Burst: 1000})
	// Output:
	// 1/s
	// 20/m burst 5
	// 1/1500ms
	// 1000/d
}

func ExampleLimiter_Key() {
	st := memorystore.New()
	defer st.Close()
	limiter, err := core.New(st, core.PerSecond(1))
	if err != nil {
		panic(err)
	}
	fmt.Println(limiter.Key(core.User(123456789)))
	fmt.Println(limiter.Key(core.Chat(-1001234567890)))
	fmt.Println(limiter.Key(core.UserInChat(123456789, -1001234567890)))
	fmt.Println(limiter.Key(core.Global()))
	report, err := limiter.Rule("report", core.Every(time.Hour))
	if err != nil {
		panic(err)
	}
	fmt.Println(report.Key(core.User(123456789)))
	window, err := limiter.Rule("report", core.Window(5, time.Hour))
	if err != nil {
		panic(err)
	}
	fmt.Println(window.Key(core.User(123456789)))
	// Output:
	// floodgate:{u:123456789}:msg
	// floodgate:{c:-1001234567890}:msg
	// floodgate:{uc:123456789:-1001234567890}:msg
	// floodgate:{g}:msg
	// floodgate:{u:123456789}:report
	// floodgate:{u:123456789}:report:win
}

func ExampleWindow() {
	// "At most 3 in any second", exactly: a sliding window. GCRA's
	// core.PerSecond(3) would let a fourth through about 333 ms after the first.
	st := memorystore.New()
	defer st.Close()
	limiter, err := core.New(st, core.Window(3, time.Second))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for i := 1; i <= 4; i++ {
		res, _ := limiter.Take(ctx, core.User(42), 1)
		fmt.Printf("event %d: allowed %v\n", i, res.Allowed)
	}
	// Output:
	// event 1: allowed true
	// event 2: allowed true
	// event 3: allowed true
	// event 4: allowed false
}

func ExampleLimiter_Block() {
	// Ban a user for an hour, on every instance sharing the store.
	st := memorystore.New()
	defer st.Close()
	limiter, err := core.New(st, core.PerSecond(5))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if err := limiter.Block(ctx, core.User(42), time.Hour); err != nil {
		panic(err)
	}
	res, _ := limiter.Take(ctx, core.User(42), 1)
	fmt.Printf("allowed %v, retry in %v\n", res.Allowed, res.RetryAfter.Round(time.Second))
	res, _ = limiter.Take(ctx, core.User(7), 1)
	fmt.Printf("another user: allowed %v\n", res.Allowed)
	// Output:
	// allowed false, retry in 1h0m0s
	// another user: allowed true
}

// downStore stands for a remote store that is down.
type downStore struct{ core.Store }

func (downStore) Take(context.Context, string, core.Limit, int) (core.Result, error) {
	return core.Result{}, errors.New("dial tcp 10.0.0.7:6379: connect: connection refused")
}

func ExampleResilient() {
	// Wrap a remote store (redisstore.New(client); store.Open does this for
	// you) so that its outages are decided by a policy: here FailLocal,
	// deciding on an in-process memorystore while the store is out.
	fallback := memorystore.New()
	defer fallback.Close()
	st, err := core.Resilient(downStore{}, core.Resilience{
		Policy:   core.FailLocal,
		Fallback: fallback,
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	limiter, err := core.New(st, core.PerMinute(2))
	if err != nil {
		panic(err)
	}
	for i := 1; i <= 3; i++ {
		res, err := limiter.Take(context.Background(), core.User(42), 1)
		fmt.Printf("message %d: allowed %v by the %v, error %v\n", i, res.Allowed, res.Source, err)
	}
	// Output:
	// message 1: allowed true by the fallback, error <nil>
	// message 2: allowed true by the fallback, error <nil>
	// message 3: allowed false by the fallback, error <nil>
}
