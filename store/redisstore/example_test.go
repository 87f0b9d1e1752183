package redisstore_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/store"
	"github.com/floodgate-go/floodgate/store/memorystore"
	"github.com/floodgate-go/floodgate/store/redisstore"
	"github.com/redis/go-redis/v9"
)

// New wraps a client the caller built, here with store.Config's fail-fast
// options (short timeouts, no command retries, one dial per connection,
// ctx deadlines honoured on reads), and core.Resilient gives it a timeout,
// a circuit breaker and a failure policy. Nothing here does any I/O, so
// this example runs without a server.
func ExampleNew() {
	opt, err := store.Config{Backend: store.BackendRedis, RedisURL: "redis://localhost:6379/0"}.RedisOptions()
	if err != nil {
		log.Fatal(err)
	}
	client := redis.NewClient(opt)
	defer client.Close()

	fallback := memorystore.New()
	defer fallback.Close()
	st, err := core.Resilient(redisstore.New(client), core.Resilience{
		Policy:   core.FailLocal,
		Fallback: fallback,
		Timeout:  50 * time.Millisecond,
	})
	if err != nil {
		log.Fatal(err)
	}
	lim, err := core.New(st, core.PerMinute(20).WithBurst(5))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(lim.Limit())
	fmt.Println(lim.Key(core.User(123456789)))
	// Output:
	// 20/m burst 5
	// floodgate:{u:123456789}:msg
}

// A decision is one EVALSHA. Over core.Resilient an outage is not an
// error: the failure policy decides and Result.Source says so, and the
// only error is the caller's own context ending. This example needs a
// Redis server, so it is compiled but not run.
func ExampleStore_Take() {
	opt, err := store.Config{Backend: store.BackendRedis}.RedisOptions() // localhost:6379
	if err != nil {
		log.Fatal(err)
	}
	client := redis.NewClient(opt)
	defer client.Close()
	st, err := core.Resilient(redisstore.New(client), core.Resilience{Policy: core.FailOpen})
	if err != nil {
		log.Fatal(err)
	}
	lim, err := core.New(st, core.PerSecond(1))
	if err != nil {
		log.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Second) // e.g. the update's own deadline
	defer cancel()
	res, err := lim.Take(ctx, core.User(123456789), 1)
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

// Inspect shows what the store holds for some users, as an ops tool does,
// without writing anything: one pipeline per Redis node. This example needs
// a Redis server, so it is compiled but not run.
func ExampleStore_Inspect() {
	opt, err := store.Config{Backend: store.BackendRedis}.RedisOptions()
	if err != nil {
		log.Fatal(err)
	}
	client := redis.NewClient(opt)
	defer client.Close()
	st := redisstore.New(client)
	limit := core.PerMinute(20)
	lim, err := core.New(st, limit)
	if err != nil {
		log.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	keys := []string{lim.Key(core.User(1)), lim.Key(core.User(2))}
	states, err := st.Inspect(ctx, limit, keys...)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range states {
		switch {
		case !s.Exists:
			fmt.Printf("%s: never seen (or fully replenished)\n", s.Key)
		case s.Foreign:
			fmt.Printf("%s: holds something else; the next decision overwrites it\n", s.Key)
		default:
			fmt.Printf("%s: %d left, full again in %v (TTL %v)\n", s.Key, s.Result.Remaining,
				s.Result.ResetAfter.Round(time.Second), s.TTL.Round(time.Second))
		}
	}
}
