package redisstore_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/store/redisstore"
	"github.com/redis/go-redis/v9"
)

// New wraps a client the caller built; neither New nor core.New does any
// I/O, so this example runs without a server.
func ExampleNew() {
	client := redis.NewClient(&redis.Options{
		Addr:                  "localhost:6379",
		ContextTimeoutEnabled: true, // honour ctx deadlines on reads
		DialTimeout:           200 * time.Millisecond,
		ReadTimeout:           100 * time.Millisecond,
		WriteTimeout:          100 * time.Millisecond,
	})
	defer client.Close()

	lim, err := core.New(redisstore.New(client), core.PerMinute(20).WithBurst(5))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(lim.Limit())
	fmt.Println(lim.Key(core.User(123456789)))
	// Output:
	// 20/m burst 5
	// floodgate:{u:123456789}:msg
}

// A decision is one EVALSHA, bounded by the Limiter's timeout (which
// go-redis honours only with ContextTimeoutEnabled). A store that fails or
// times out is not an error: the failure policy decides and Result.Source
// says so. The error is the caller's own context ending. This example needs
// a Redis server, so it is compiled but not run.
func ExampleStore_Take() {
	client := redis.NewClient(&redis.Options{Addr: "localhost:6379", ContextTimeoutEnabled: true})
	defer client.Close()
	lim, err := core.New(redisstore.New(client), core.PerSecond(1), core.WithTimeout(50*time.Millisecond))
	if err != nil {
		log.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Second) // e.g. the update's own deadline
	defer cancel()
	res, err := lim.Allow(ctx, 123456789)
	switch {
	case err != nil:
		log.Printf("gave up waiting: %v", err) // context.DeadlineExceeded: the caller's own second ended
	case res.Source != core.SourceStore && res.Source != core.SourceCache:
		log.Printf("Redis is out; decided by the %v (allowed=%v)", res.Source, res.Allowed)
	case !res.Allowed:
		fmt.Printf("slow down, try again in %v\n", res.RetryAfter.Round(time.Second))
	default:
		fmt.Printf("ok, %d left\n", res.Remaining)
	}
}
