package core_test

import (
	"context"
	"fmt"
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
		res, err := limiter.Allow(ctx, 123456789)
		if err != nil {
			panic(err) // only a canceled ctx or an invalid cost; store failures follow the policy
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
	// Output:
	// floodgate:{u:123456789}:msg
	// floodgate:{c:-1001234567890}:msg
	// floodgate:{uc:123456789:-1001234567890}:msg
	// floodgate:{g}:msg
	// floodgate:{u:123456789}:report
}

func ExampleDecide() {
	// 3 per second: each event costs an interval of 333.334 ms.
	l := core.PerSecond(3)
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	var tat int64 // a key never seen
	for i := 1; i <= 4; i++ {
		var res core.Result
		res, tat = core.Decide(l, tat, now, 1)
		fmt.Printf("event %d: allowed=%v remaining=%d retry=%v reset=%v\n",
			i, res.Allowed, res.Remaining, res.RetryAfter, res.ResetAfter)
	}
	// Output:
	// event 1: allowed=true remaining=2 retry=0s reset=333.334ms
	// event 2: allowed=true remaining=1 retry=0s reset=666.668ms
	// event 3: allowed=true remaining=0 retry=0s reset=1.000002s
	// event 4: allowed=false remaining=0 retry=333.334ms reset=1.000002s
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
		res, _ := limiter.Allow(ctx, 42)
		fmt.Printf("event %d: allowed %v\n", i, res.Allowed)
	}
	// Output:
	// event 1: allowed true
	// event 2: allowed true
	// event 3: allowed true
	// event 4: allowed false
}

func ExampleLimiter_TakeAll() {
	// A send counts against the bot's global lane and its chat's lane at
	// once, or against neither (package outbound builds these lanes).
	st := memorystore.New()
	defer st.Close()
	limiter, err := core.New(st, core.PerSecond(1))
	if err != nil {
		panic(err)
	}
	global := core.Lane{Key: "floodgate:{bot:1}:out:global", Limit: core.Window(30, time.Second)}
	chat := core.Lane{Key: "floodgate:{bot:1}:out:chat:42", Limit: core.Window(1, time.Second)}
	ctx := context.Background()
	for i := 1; i <= 2; i++ {
		res, _ := limiter.TakeAll(ctx, []core.Lane{global, chat}, 1)
		fmt.Printf("send %d: allowed %v, bound by %v\n", i, res.Allowed, res.Limit)
	}
	// Output:
	// send 1: allowed true, bound by 1/s window
	// send 2: allowed false, bound by 1/s window
}
