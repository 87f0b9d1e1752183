package redisstore

// Healing on a real redis-server: a value the scripts cannot read (another
// type, a corrupt or out-of-range value) is read as absent, a Peek leaves it
// as it is, and the next Take, Block or admitted TakeAll overwrites it with
// a TTL; a readable key without a TTL gets one on a denial. Block under
// both algorithms. Every decision is checked against package decide (and
// Block against memorystore), the arithmetic the scripts must match.

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/core/decide"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
	"github.com/redis/go-redis/v9"
)

// planter puts an unreadable value at a key, with no TTL.
type planter struct {
	name  string
	plant func(ctx context.Context, c *redis.Client, key string) error
}

func str(v string) func(context.Context, *redis.Client, string) error {
	return func(ctx context.Context, c *redis.Client, key string) error { return c.Set(ctx, key, v, 0).Err() }
}

func list(v ...any) func(context.Context, *redis.Client, string) error {
	return func(ctx context.Context, c *redis.Client, key string) error { return c.RPush(ctx, key, v...).Err() }
}

func hash(ctx context.Context, c *redis.Client, key string) error {
	return c.HSet(ctx, key, "f", "1").Err()
}

// gcraPlants are values no GCRA key can hold, at now (µs). Those a lax
// parser (Lua's tonumber) would read as a number lie in the future, so
// reading them as a TAT would deny: only healing admits.
func gcraPlants(now int64) []planter {
	ahead := now + 1e12 // 11.6 days ahead
	a := strconv.FormatInt(ahead, 10)
	return []planter{
		{"list", list("1")},
		{"hash", hash},
		{"empty", str("")},
		{"abc", str("abc")},
		{"inf", str("inf")},
		{"-inf", str("-inf")},
		{"nan", str("nan")},
		{"fraction", str(a + ".5")},
		{"exponent", str(strconv.FormatFloat(float64(ahead), 'e', -1, 64))},
		{"hex", str("0x" + strconv.FormatInt(ahead, 16))},
		{"space", str(" " + a)},
		{"plus", str("+" + a)},
		{"huge", str("99999999999999999999999")},
		{"2^53", str("9007199254740992")},
		{"-2^53", str("-9007199254740992")},
		{"beyond now+2^51", str(strconv.FormatInt(now+1<<51+1, 10))},
	}
}

// windowPlants are values no sliding-window lane can hold, at now (µs);
// as in gcraPlants, what a lax parser would read lies in the future.
func windowPlants(now int64) []planter {
	n, a := strconv.FormatInt(now, 10), strconv.FormatInt(now+1e12, 10)
	return []planter{
		{"string", str(n)},
		{"hash", hash},
		{"abc entry", list(a, a, "abc")},
		{"fraction entry", list(a+".5", a, a)},
		{"space entry", list(" "+a, a, a)},
		{"inf entry", list("inf", "inf", "inf")},
		{"huge entry", list("99999999999999999999999")},
		{"beyond now+2^51", list(strconv.FormatInt(now+1<<51+1, 10))},
		{"out of order", list(now-10, now-5)}, // newest first, so now-5 after now-10 is out of order
	}
}

// dump returns key's serialized value and PTTL, to show that nothing wrote it.
func dump(t *testing.T, c *redis.Client, key string) (string, time.Duration) {
	t.Helper()
	ctx := context.Background()
	v, err := c.Dump(ctx, key).Result()
	if err != nil {
		t.Fatalf("DUMP %s: %v", key, err)
	}
	ttl, err := c.PTTL(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return v, ttl
}

func TestGCRAHealsUnreadableValues(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	clock := testutil.NewClock()
	s := New(client, WithClock(clock.Now))
	ctx := context.Background()
	l := core.PerMinute(5) // T = 12 s, burst 5
	now := clock.Now().UnixMicro()
	fresh, tat := decide.GCRA(l, 0, now, 1)
	for _, p := range gcraPlants(now) {
		t.Run(p.name, func(t *testing.T) {
			key := "floodgate:{heal}:" + p.name
			if err := p.plant(ctx, client, key); err != nil {
				t.Fatal(err)
			}
			before, ttl := dump(t, client, key)
			if ttl != -1 {
				t.Fatalf("planted %s has PTTL %v, want none", key, ttl)
			}
			st, err := s.Inspect(ctx, l, key)
			if err != nil {
				t.Fatal(err)
			}
			if !st[0].Exists || !st[0].Foreign || !st[0].TAT.IsZero() || st[0].TTL != -1 || st[0].Result != fresh {
				t.Errorf("Inspect: %+v, want an existing foreign key without TTL, read as fresh (%+v)", st[0], fresh)
			}
			res, err := s.Peek(ctx, key, l)
			if err != nil || res != fresh {
				t.Errorf("Peek: %+v, %v; want a fresh key's %+v", res, err, fresh)
			}
			if after, ttl := dump(t, client, key); after != before || ttl != -1 {
				t.Errorf("Peek wrote the planted value (PTTL %v): a Peek writes nothing", ttl)
			}
			res, err = s.Take(ctx, key, l, 1)
			if err != nil || res != fresh {
				t.Fatalf("Take: %+v, %v; want a fresh key's %+v", res, err, fresh)
			}
			if v, err := client.Get(ctx, key).Int64(); err != nil || v != tat {
				t.Errorf("after Take: %s holds %d (%v), want the TAT %d", key, v, err, tat)
			}
			if ttl := client.PTTL(ctx, key).Val(); ttl <= 0 || ttl > l.Interval() {
				t.Errorf("after Take: PTTL %v, want (0, %v]", ttl, l.Interval())
			}
		})
	}

	t.Run("valid TAT without TTL", func(t *testing.T) {
		key := "floodgate:{heal}:nottl"
		full := now + l.Period.Microseconds() // burst spent: the next Take is denied
		if err := client.Set(ctx, key, full, 0).Err(); err != nil {
			t.Fatal(err)
		}
		want, _ := decide.GCRA(l, full, now, 1)
		res, err := s.Peek(ctx, key, l)
		if err != nil || res != want || res.Allowed {
			t.Fatalf("Peek: %+v, %v; want %+v", res, err, want)
		}
		if ttl := client.PTTL(ctx, key).Val(); ttl != -1 {
			t.Errorf("Peek gave the key a TTL (%v); a Peek writes nothing", ttl)
		}
		res, err = s.Take(ctx, key, l, 1)
		if err != nil || res != want {
			t.Fatalf("Take: %+v, %v; want %+v", res, err, want)
		}
		if v := client.Get(ctx, key).Val(); v != strconv.FormatInt(full, 10) {
			t.Errorf("the denial changed the value to %s", v)
		}
		if ttl := client.PTTL(ctx, key).Val(); ttl <= l.Period-time.Second || ttl > l.Period {
			t.Errorf("after a denial: PTTL %v, want about %v (the TAT's distance)", ttl, l.Period)
		}
	})

	t.Run("now+2^51 is still valid", func(t *testing.T) {
		key := "floodgate:{heal}:edge"
		edge := now + 1<<51
		if err := client.Set(ctx, key, edge, 0).Err(); err != nil {
			t.Fatal(err)
		}
		want, _ := decide.GCRA(l, edge, now, 1)
		st, err := s.Inspect(ctx, l, key)
		if err != nil || st[0].Foreign || st[0].TAT.UnixMicro() != edge || st[0].Result != want {
			t.Errorf("Inspect: %+v, %v; want a valid TAT %d and %+v", st, err, edge, want)
		}
		if res, err := s.Take(ctx, key, l, 1); err != nil || res != want || res.Allowed {
			t.Errorf("Take: %+v, %v; want %+v", res, err, want)
		}
		if ttl := client.PTTL(ctx, key).Val(); ttl < 1<<51*time.Microsecond-time.Minute {
			t.Errorf("after a denial: PTTL %v, want the TAT's distance, 2^51 µs", ttl)
		}
	})
	testutil.AssertEveryKeyHasTTL(t, client)
}

func TestWindowHealsUnreadableValues(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	clock := testutil.NewClock()
	s := New(client, WithClock(clock.Now))
	ctx := context.Background()
	l := core.Window(3, time.Minute)
	now := clock.Now().UnixMicro()
	fresh, _ := decide.Window(l, nil, now, 1)
	for _, p := range windowPlants(now) {
		t.Run(p.name, func(t *testing.T) {
			key := "floodgate:{heal}:" + p.name + ":win"
			if err := p.plant(ctx, client, key); err != nil {
				t.Fatal(err)
			}
			before, _ := dump(t, client, key)
			st, err := s.Inspect(ctx, l, key)
			if err != nil {
				t.Fatal(err)
			}
			if !st[0].Exists || !st[0].Foreign || st[0].Times != nil || st[0].TTL != -1 || st[0].Result != fresh {
				t.Errorf("Inspect: %+v, want an existing foreign key without TTL, read as fresh (%+v)", st[0], fresh)
			}
			if res, err := s.Peek(ctx, key, l); err != nil || res != fresh {
				t.Errorf("Peek: %+v, %v; want a fresh lane's %+v", res, err, fresh)
			}
			if after, ttl := dump(t, client, key); after != before || ttl != -1 {
				t.Errorf("Peek wrote the planted value (PTTL %v): a Peek writes nothing", ttl)
			}
			if res, err := s.Take(ctx, key, l, 1); err != nil || res != fresh {
				t.Fatalf("Take: %+v, %v; want a fresh lane's %+v", res, err, fresh)
			}
			if v, err := client.LRange(ctx, key, 0, -1).Result(); err != nil || len(v) != 1 || v[0] != strconv.FormatInt(now, 10) {
				t.Errorf("after Take: %s holds %v (%v), want [%d]", key, v, err, now)
			}
			if ttl := client.PTTL(ctx, key).Val(); ttl <= 0 || ttl > l.Period {
				t.Errorf("after Take: PTTL %v, want (0, %v]", ttl, l.Period)
			}
		})
	}

	t.Run("valid log without TTL", func(t *testing.T) {
		key := "floodgate:{heal}:nottl:win"
		if err := client.RPush(ctx, key, now, now-1, now-2).Err(); err != nil { // full
			t.Fatal(err)
		}
		want, _ := decide.Window(l, []int64{now - 2, now - 1, now}, now, 1)
		if res, err := s.Take(ctx, key, l, 1); err != nil || res != want || res.Allowed {
			t.Fatalf("Take: %+v, %v; want %+v", res, err, want)
		}
		if n := client.LLen(ctx, key).Val(); n != 3 {
			t.Errorf("the denial changed the log to %d entries", n)
		}
		if ttl := client.PTTL(ctx, key).Val(); ttl <= l.Period-time.Second || ttl > l.Period {
			t.Errorf("after a denial: PTTL %v, want about %v (the newest event's stay)", ttl, l.Period)
		}
	})
	testutil.AssertEveryKeyHasTTL(t, client)
}

// Block under either algorithm, on a fresh key, over an earlier block and
// over an unreadable value, answers exactly as memorystore on the same
// clock (both run package decide's arithmetic), never shortens a block,
// and leaves a TTL that covers it.
func TestBlockBothAlgorithms(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	clock := testutil.NewClock()
	s := New(client, WithClock(clock.Now))
	mem := memorystore.New(memorystore.WithClock(clock.Now))
	t.Cleanup(func() { _ = mem.Close() })
	ctx := context.Background()
	for _, l := range []core.Limit{core.PerMinute(5), core.Window(3, time.Minute)} {
		t.Run(l.Algorithm.String(), func(t *testing.T) {
			key := "floodgate:{block}:" + l.Algorithm.String()
			both := func(step string, op func(st core.Store) (core.Result, error)) {
				t.Helper()
				want, err := op(mem)
				if err != nil {
					t.Fatalf("%s on memorystore: %v", step, err)
				}
				got, err := op(s)
				if err != nil || got != want {
					t.Fatalf("%s: %+v, %v; memorystore says %+v", step, got, err, want)
				}
			}
			take := func(st core.Store) (core.Result, error) { return st.Take(ctx, key, l, 1) }
			block := func(d time.Duration) func(st core.Store) (core.Result, error) {
				return func(st core.Store) (core.Result, error) { return core.Result{}, st.Block(ctx, key, l, d) }
			}
			both("first Take", take)
			both("Block 2m", block(2*time.Minute))
			both("Take during the block", take)
			res, _ := s.Peek(ctx, key, l)
			if res.Allowed || res.RetryAfter != 2*time.Minute {
				t.Errorf("Peek after Block 2m: %+v, want denied for exactly 2m", res)
			}
			if ttl := client.PTTL(ctx, key).Val(); ttl < 2*time.Minute-time.Second {
				t.Errorf("PTTL %v after a 2m block: the key would expire before the block ends", ttl)
			}
			both("Block 1m (shorter)", block(time.Minute))
			if res, _ := s.Peek(ctx, key, l); res.RetryAfter != 2*time.Minute {
				t.Errorf("a shorter Block shortened the block to %v", res.RetryAfter)
			}
			clock.Advance(time.Minute)
			both("Block 3m (longer)", block(3*time.Minute))
			both("Take during the longer block", take)
			clock.Advance(3*time.Minute - time.Microsecond)
			both("Take a µs before the end", take)
			clock.Advance(time.Microsecond)
			both("Take when the block ends", take)
			both("next Take", take)

			// Over a value the script cannot read: overwritten, as if absent.
			if err := client.Del(ctx, key).Err(); err != nil {
				t.Fatal(err)
			}
			if err := mem.Reset(ctx, key); err != nil {
				t.Fatal(err)
			}
			plant := str("abc")
			if l.Algorithm == core.GCRA {
				plant = list("x")
			}
			if err := plant(ctx, client, key); err != nil {
				t.Fatal(err)
			}
			both("Block 1m over an unreadable value", block(time.Minute))
			both("Take after it", take)
			if ttl := client.PTTL(ctx, key).Val(); ttl < time.Minute-time.Second {
				t.Errorf("PTTL %v after healing with a 1m block", ttl)
			}
		})
	}
	testutil.AssertEveryKeyHasTTL(t, client)
}
