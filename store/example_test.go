package store_test

import (
	"context"
	"fmt"
	"log"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/store"
)

// The .env of the replaced Python middleware, plus a floodgate limit. Real
// programs call store.FromEnv; FromLookup takes any lookup function.
func ExampleFromLookup() {
	env := map[string]string{
		"REDIS_ENABLED":    "true",
		"REDIS_HOST":       "redis.internal",
		"REDIS_PORT":       "6380",
		"REDIS_DB":         "2",
		"REDIS_PASSWORD":   "s3cr3t-PW",
		"REDIS_KEY_PREFIX": "booking_bot:client1",
		"FLOODGATE_LIMIT":  "20/m burst 5",
	}
	cfg, err := store.FromLookup(func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg)
	// Output:
	// backend=redis addr=redis://:xxxxx@redis.internal:6380 db=2 prefix=booking_bot:client1 limit=20/m burst 5
}

// A Config written in code: only a limit, so a memory store with the
// default prefix. Each user may send two updates per minute.
func ExampleOpen() {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{Limit: core.PerMinute(2)})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	fmt.Println(st.Config)

	limiter, err := st.NewLimiter()
	if err != nil {
		log.Fatal(err)
	}
	for range 3 {
		res, err := limiter.Take(ctx, core.User(123456789), 1)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(res.Allowed, res.Remaining)
	}
	// Output:
	// backend=memory prefix=floodgate limit=2/m
	// true 1
	// true 0
	// false 0
}
