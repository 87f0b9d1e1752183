package memorystore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/store/memorystore"
)

func ExampleNew() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) // a frozen clock, so the output is fixed
	s := memorystore.New(memorystore.WithClock(func() time.Time { return now }))
	defer s.Close()

	lim, err := core.New(s, core.PerMinute(2)) // 2 per minute, burst 2
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	user := core.User(123456789)
	for range 3 {
		r, _ := lim.Take(ctx, user, 1)
		fmt.Printf("allowed=%v remaining=%d retry=%v\n", r.Allowed, r.Remaining, r.RetryAfter)
	}
	now = now.Add(30 * time.Second)
	r, _ := lim.Take(ctx, user, 1)
	fmt.Printf("30s later: allowed=%v\n", r.Allowed)
	// Output:
	// allowed=true remaining=1 retry=0s
	// allowed=true remaining=0 retry=0s
	// allowed=false remaining=0 retry=30s
	// 30s later: allowed=true
}

// At the cap, a new key is denied (not an error) and a block on one is
// refused; keys already held keep deciding.
func ExampleWithMaxKeys() {
	s := memorystore.New(memorystore.WithMaxKeys(1))
	defer s.Close()
	lim, err := core.New(s, core.PerMinute(6)) // interval 10s
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	r, _ := lim.Take(ctx, core.User(1), 1)
	fmt.Println("user 1:", r.Allowed)
	r, err = lim.Take(ctx, core.User(2), 1)
	fmt.Println("user 2:", r.Allowed, r.RetryAfter, err)
	fmt.Println("block user 2:", lim.Block(ctx, core.User(2), time.Hour))
	// Output:
	// user 1: true
	// user 2: false 10s <nil>
	// block user 2: memorystore: too many keys (limit 1)
}
