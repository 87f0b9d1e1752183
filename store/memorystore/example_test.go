package memorystore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
)

func ExampleNew() {
	clock := testutil.NewClock() // a frozen clock, so the output is fixed
	s := memorystore.New(memorystore.WithClock(clock.Now))
	defer s.Close()

	lim, err := core.New(s, core.PerMinute(2)) // 2 per minute, burst 2
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		r, _ := lim.Allow(ctx, 123456789)
		fmt.Printf("allowed=%v remaining=%d retry=%v\n", r.Allowed, r.Remaining, r.RetryAfter)
	}
	clock.Advance(30 * time.Second)
	r, _ := lim.Allow(ctx, 123456789)
	fmt.Printf("30s later: allowed=%v\n", r.Allowed)
	// Output:
	// allowed=true remaining=1 retry=0s
	// allowed=true remaining=0 retry=0s
	// allowed=false remaining=0 retry=30s
	// 30s later: allowed=true
}
