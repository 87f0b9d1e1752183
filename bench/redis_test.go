package bench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
	"github.com/floodgate-go/floodgate/store/redisstore"
	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"
	ulredis "github.com/ulule/limiter/v3/drivers/store/redis"
)

// redisContender builds one Redis-backed limiter over its own client and
// returns its decision function over n keys.
type redisContender struct {
	name  string
	build func(b *testing.B, c *redis.Client, n int) decideFunc
}

// gcraScript is floodgate's decision script, read from the source tree (an
// embed cannot cross the module boundary) and checked to be the very script
// redisstore sends.
func gcraScript(b *testing.B) *redis.Script {
	b.Helper()
	src, err := os.ReadFile("../store/redisstore/gcra.lua")
	if err != nil {
		b.Fatal(err)
	}
	s := redis.NewScript(string(src))
	if s.Hash() != redisstore.ScriptSHA() {
		b.Fatalf("../store/redisstore/gcra.lua has SHA %s, redisstore sends %s", s.Hash(), redisstore.ScriptSHA())
	}
	return s
}

func redisContenders(b *testing.B) []redisContender {
	ctx := context.Background()
	gcra := gcraScript(b)
	return []redisContender{
		{"floodgate", func(b *testing.B, c *redis.Client, n int) decideFunc {
			// The Store alone: one EVALSHA through go-redis' Script.Run.
			st, ks := redisstore.New(c, redisstore.WithMergedScripts()), keys("floodgate:", n)
			return func(i int) (bool, error) {
				res, err := st.Take(ctx, ks[i], fgLimit, 1)
				return res.Allowed, err
			}
		}},
		{"floodgate-limiter", func(b *testing.B, c *redis.Client, n int) decideFunc {
			// What a bot gets from store.Open: core.Limiter builds the key
			// from the user id, over core.Resilient, which adds the deny
			// cache, breaker, per-call timeout and fallback. The
			// timeout is raised from 50 ms to 1 s (the same code path, a
			// context deadline per call) so that a slow moment on a shared
			// machine cannot turn decisions into local fallbacks, which
			// would be timed as if they were Redis decisions.
			rs, err := core.Resilient(redisstore.New(c, redisstore.WithMergedScripts()), core.Resilience{
				Policy: core.FailLocal, Fallback: memorystore.New(), Timeout: time.Second,
				Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			lim, err := core.New(rs, fgLimit, core.WithPrefix("fglimiter"))
			if err != nil {
				b.Fatal(err)
			}
			ids := userIDs(n)
			return func(i int) (bool, error) {
				res, err := lim.Take(ctx, core.User(ids[i]), 1)
				if err == nil && res.Source != core.SourceStore {
					err = fmt.Errorf("decided by %v, not Redis", res.Source)
				}
				return res.Allowed, err
			}
		}},
		{"redis_rate", func(b *testing.B, c *redis.Client, n int) decideFunc {
			// redis_rate prefixes "rate:", making 27-byte keys.
			lim, ks := redis_rate.NewLimiter(c), keys("rrat:", n)
			l := redis_rate.Limit{Rate: benchRate, Period: time.Second, Burst: benchBurst}
			return func(i int) (bool, error) {
				res, err := lim.Allow(ctx, ks[i], l)
				if err != nil {
					return false, err
				}
				return res.Allowed == 1, nil
			}
		}},
		{"ulule", func(b *testing.B, c *redis.Client, n int) decideFunc {
			// ulule's go-redis v9 store (a fixed window: INCRBY, then PEXPIRE
			// or PTTL, in one script); prefix "ulule" + ":" makes 27 bytes.
			st, err := ulredis.NewStoreWithOptions(c, limiter.StoreOptions{Prefix: "ulule", MaxRetry: limiter.DefaultMaxRetry})
			if err != nil {
				b.Fatal(err)
			}
			lim, ks := limiter.New(st, limiter.Rate{Period: benchWindow, Limit: benchBurst}), keys("lim:", n)
			return func(i int) (bool, error) {
				res, err := lim.Get(ctx, ks[i])
				return err == nil && !res.Reached, err
			}
		}},
		{"evalsha-gcra", func(b *testing.B, c *redis.Client, n int) decideFunc {
			// floodgate's own script with floodgate's own arguments, by a
			// bare EVALSHA: the floor for the floodgate row.
			if err := gcra.Load(ctx, c).Err(); err != nil {
				b.Fatal(err)
			}
			sha, ks := gcra.Hash(), keys("evalsha00:", n)
			interval := fgLimit.Interval().Microseconds()
			return func(i int) (bool, error) {
				reply, err := c.EvalSha(ctx, sha, []string{ks[i]}, interval, fgLimit.Burst, 1, "1").Slice()
				if err != nil {
					return false, err
				}
				return len(reply) == 4 && reply[0] == int64(1), nil
			}
		}},
		{"evalsha-return1", func(b *testing.B, c *redis.Client, n int) decideFunc {
			// The round trip of a script that does nothing: no keys, no
			// arguments. Nothing on Redis can be faster.
			one := redis.NewScript("return 1")
			if err := one.Load(ctx, c).Err(); err != nil {
				b.Fatal(err)
			}
			sha := one.Hash()
			return func(int) (bool, error) {
				v, err := c.EvalSha(ctx, sha, nil).Int64()
				return v == 1, err
			}
		}},
	}
}

// BenchmarkRedis runs every Redis contender against the same redis-server,
// in every shape, on one hot key and on 100k keys. Contenders take turns
// within each shape, so they share the machine's load at about the same
// moments.
func BenchmarkRedis(b *testing.B) {
	addr := redisAddr(b)
	contenders := redisContenders(b)
	clients := make([]*redis.Client, len(contenders))
	for i := range contenders {
		clients[i] = newClient(b, addr, 0) // one pool per contender, default options
	}
	for _, sh := range shapes() {
		for _, n := range []int{hotKeys, manyKeys} {
			for ci, c := range contenders {
				decide := c.build(b, clients[ci], n)
				b.Run(fmt.Sprintf("contender=%s/shape=%s/keys=%s", c.name, sh.name, keysName(n)), func(b *testing.B) {
					run(b, sh, n, decide)
				})
			}
		}
	}
}

// Redis memory per key: perKeyKeys fresh keys under a limit real bots use
// (20 per hour, so no key expires during the measurement), each contender in
// a database of its own that starts empty, reported as the growth of INFO
// memory used_memory divided by the keys. It counts the key, the value, the
// TTL entry and the hash table slots, for 27-byte keys. 50k keys fill
// Redis' hash tables to the same load as 100k would, in half the
// time.
const perKeyKeys = 50_000

// perKeyDB is the database each contender of BenchmarkRedisPerKey uses; it
// must be empty when the benchmark starts, and is flushed after each
// measurement.
var perKeyDB = map[string]int{"floodgate": 9, "redis_rate": 10, "ulule": 11}

// BenchmarkRedisPerKey reports bytes of Redis memory per idle key (B/key).
func BenchmarkRedisPerKey(b *testing.B) {
	ctx := context.Background()
	addr := redisAddr(b)
	type takeFunc func(id int64) (bool, error)
	contenders := []struct {
		name  string
		build func(b *testing.B, c *redis.Client) takeFunc
	}{
		{"floodgate", func(b *testing.B, c *redis.Client) takeFunc {
			st, l := redisstore.New(c), core.Limit{Rate: 20, Period: time.Hour, Burst: 20}
			return func(id int64) (bool, error) {
				res, err := st.Take(ctx, key("floodgate:", id), l, 1)
				return res.Allowed, err
			}
		}},
		{"redis_rate", func(b *testing.B, c *redis.Client) takeFunc {
			lim, l := redis_rate.NewLimiter(c), redis_rate.PerHour(20)
			return func(id int64) (bool, error) {
				res, err := lim.Allow(ctx, key("rrat:", id), l)
				if err != nil {
					return false, err
				}
				return res.Allowed == 1, nil
			}
		}},
		{"ulule", func(b *testing.B, c *redis.Client) takeFunc {
			st, err := ulredis.NewStoreWithOptions(c, limiter.StoreOptions{Prefix: "ulule", MaxRetry: limiter.DefaultMaxRetry})
			if err != nil {
				b.Fatal(err)
			}
			lim := limiter.New(st, limiter.Rate{Period: time.Hour, Limit: 20})
			return func(id int64) (bool, error) {
				res, err := lim.Get(ctx, key("lim:", id))
				return err == nil && !res.Reached, err
			}
		}},
	}
	for _, c := range contenders {
		b.Run("contender="+c.name, func(b *testing.B) {
			client := newClient(b, addr, perKeyDB[c.name])
			if n, err := client.DBSize(ctx).Result(); err != nil || n != 0 {
				b.Skipf("database %d holds %d keys (err %v): it must start empty", perKeyDB[c.name], n, err)
			}
			take := c.build(b, client)
			var total float64
			for range b.N {
				// Open the pool's connections first, so their buffers are in
				// the "before" figure.
				if err := fill(firstUser-callers, callers, take); err != nil {
					b.Fatal(err)
				}
				before := testutil.UsedMemory(b, client)
				if err := fill(firstUser, perKeyKeys, take); err != nil {
					b.Fatal(err)
				}
				after := testutil.UsedMemory(b, client)
				if n, err := client.DBSize(ctx).Result(); err != nil || n != perKeyKeys+callers {
					b.Fatalf("database holds %d keys (err %v), want %d", n, err, perKeyKeys+callers)
				}
				total += float64(after-before) / perKeyKeys
				// Our own database, checked empty at the start; synchronous, so
				// the next "before" does not include memory still being freed.
				if err := client.FlushDB(ctx).Err(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(total/float64(b.N), "B/key")
		})
	}
}

// fill makes one admitted decision on each of n users from first on, from
// 64 goroutines.
func fill(first int64, n int, take func(int64) (bool, error)) error {
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for g := range callers {
		wg.Go(func() {
			for i := g; i < n; i += callers {
				ok, err := take(first + int64(i))
				if err == nil && !ok {
					err = fmt.Errorf("user %d denied on its first decision", first+int64(i))
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs // nil when closed empty
}
