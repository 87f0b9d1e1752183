package floodgate_test

import (
	"context"
	"fmt"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/store/memorystore"
)

// A limit of two messages per minute per user, in one process. In a bot,
// setup.Open builds this from the environment, and an adapter applies it.
func Example() {
	st := memorystore.New()
	defer st.Close()
	lim, err := core.New(st, core.PerMinute(2))
	if err != nil {
		panic(err)
	}
	for i := 1; i <= 3; i++ {
		res, err := lim.Take(context.Background(), core.User(123456789), 1)
		if err != nil {
			panic(err)
		}
		fmt.Printf("message %d: allowed %v, retry in %v\n", i, res.Allowed, res.RetryAfter.Round(time.Second))
	}
	// Output:
	// message 1: allowed true, retry in 0s
	// message 2: allowed true, retry in 0s
	// message 3: allowed false, retry in 30s
}
