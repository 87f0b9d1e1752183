package redisstore

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/redis/go-redis/v9"
)

// handshake are the commands go-redis sends on a new connection.
var handshake = map[string]bool{"hello": true, "client|setinfo": true, "auth": true, "select": true}

// inspectCase is a key set up one way, and what Inspect must say of it.
type inspectCase struct {
	name    string
	setup   func(t *testing.T, key string)
	exists  bool
	foreign bool
	noTTL   bool // TTL is -1
	tat     int64
	times   []int64
}

// checkState compares st with c and with what Peek answers for the key.
func checkState(t *testing.T, s *Store, l core.Limit, c inspectCase, st State, now time.Time) {
	t.Helper()
	peek, err := s.Peek(context.Background(), st.Key, l)
	if err != nil {
		t.Fatal(err)
	}
	if st.Result != peek {
		t.Errorf("%s: Result %+v, Peek says %+v", c.name, st.Result, peek)
	}
	if st.Exists != c.exists || st.Foreign != c.foreign || !st.Now.Equal(now) {
		t.Errorf("%s: Exists=%v Foreign=%v Now=%v, want %v %v %v", c.name, st.Exists, st.Foreign, st.Now, c.exists, c.foreign, now)
	}
	switch {
	case !c.exists && st.TTL != 0:
		t.Errorf("%s: TTL %v for an absent key, want 0", c.name, st.TTL)
	case c.noTTL && st.TTL != -1:
		t.Errorf("%s: TTL %v, want -1 (none)", c.name, st.TTL)
	case c.exists && !c.noTTL && st.TTL <= 0:
		t.Errorf("%s: TTL %v, want > 0", c.name, st.TTL)
	}
	if c.tat == 0 && !st.TAT.IsZero() || c.tat != 0 && st.TAT.UnixMicro() != c.tat {
		t.Errorf("%s: TAT %v, want %d µs", c.name, st.TAT, c.tat)
	}
	if len(st.Times) != len(c.times) || (c.times == nil) != (st.Times == nil) {
		t.Fatalf("%s: Times %v, want %v", c.name, st.Times, c.times)
	}
	for i, tm := range st.Times {
		if tm.UnixMicro() != c.times[i] {
			t.Errorf("%s: Times %v, want %v µs", c.name, st.Times, c.times)
		}
	}
}

func TestInspect(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	clock := testutil.NewClock()
	s := New(client, WithClock(clock.Now))
	ctx := context.Background()
	now := clock.Now()
	us := now.UnixMicro()
	gcraL, winL := core.PerMinute(5), core.Window(3, time.Minute)
	take := func(l core.Limit, n int) func(*testing.T, string) {
		return func(t *testing.T, key string) {
			for range n {
				if _, err := s.Take(ctx, key, l, 1); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	do := func(args ...any) func(*testing.T, string) {
		return func(t *testing.T, key string) {
			cmd := append(args[:1:1], key)
			if err := client.Do(ctx, append(cmd, args[1:]...)...).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	T := gcraL.Interval().Microseconds()
	for _, tc := range []struct {
		limit core.Limit
		cases []inspectCase
	}{
		{gcraL, []inspectCase{
			{name: "two events", setup: take(gcraL, 2), exists: true, tat: us + 2*T},
			{name: "absent", setup: func(*testing.T, string) {}},
			{name: "list", setup: do("RPUSH", "1"), exists: true, foreign: true, noTTL: true},
			{name: "corrupt", setup: do("SET", "abc"), exists: true, foreign: true, noTTL: true},
			{name: "no TTL", setup: do("SET", us+5*T), exists: true, noTTL: true, tat: us + 5*T},
		}},
		{winL, []inspectCase{
			{name: "two events", setup: take(winL, 2), exists: true, times: []int64{us, us}},
			{name: "absent", setup: func(*testing.T, string) {}},
			{name: "string", setup: do("SET", us), exists: true, foreign: true, noTTL: true},
			{name: "out of order", setup: do("RPUSH", us-10, us-5), exists: true, foreign: true, noTTL: true},
			{name: "no TTL, an old event", setup: do("RPUSH", us, us-time.Hour.Microseconds()), exists: true, noTTL: true,
				times: []int64{us - time.Hour.Microseconds(), us}},
		}},
	} {
		t.Run(tc.limit.Algorithm.String(), func(t *testing.T) {
			keys := make([]string, len(tc.cases))
			for i, c := range tc.cases {
				keys[i] = "floodgate:{inspect:" + strconv.Itoa(i) + "}:" + tc.limit.Algorithm.String()
				c.setup(t, keys[i])
			}
			if err := client.ConfigResetStat(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			states, err := s.Inspect(ctx, tc.limit, keys...)
			if err != nil {
				t.Fatal(err)
			}
			calls, err := testutil.CommandCalls(ctx, client)
			if err != nil {
				t.Fatal(err)
			}
			read := "get"
			if tc.limit.Algorithm == core.SlidingWindow {
				read = "lrange"
			}
			n := int64(len(keys))
			for cmd, got := range calls {
				if handshake[cmd] {
					continue // a connection go-redis opened meanwhile
				}
				if want := map[string]int64{read: n, "pttl": n, "config|resetstat": 1}[cmd]; got != want {
					t.Errorf("Inspect ran %s %d times, want %d (reads only; WithClock: no TIME)", cmd, got, want)
				}
			}
			if len(states) != len(keys) {
				t.Fatalf("%d states for %d keys", len(states), len(keys))
			}
			for i, c := range tc.cases {
				if states[i].Key != keys[i] {
					t.Errorf("state %d is of %s, want %s", i, states[i].Key, keys[i])
				}
				checkState(t, s, tc.limit, c, states[i], now)
			}
		})
	}

	t.Run("server clock", func(t *testing.T) {
		s := New(client)
		if err := client.ConfigResetStat(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		before := time.Now()
		states, err := s.Inspect(ctx, gcraL, "floodgate:{inspect:a}:msg", "floodgate:{inspect:b}:msg")
		if err != nil {
			t.Fatal(err)
		}
		calls, _ := testutil.CommandCalls(ctx, client)
		if calls["time"] != 1 {
			t.Errorf("%d TIME calls for one Inspect, want 1 (one pipeline)", calls["time"])
		}
		// The server runs on this machine: its clock is ours, within reason.
		if d := states[0].Now.Sub(before); d < -time.Minute || d > time.Minute || !states[1].Now.Equal(states[0].Now) {
			t.Errorf("Now %v and %v, want the server's TIME, about %v", states[0].Now, states[1].Now, before)
		}
	})

	t.Run("no keys, bad limit, canceled", func(t *testing.T) {
		if st, err := s.Inspect(ctx, gcraL); st != nil || err != nil {
			t.Errorf("Inspect of no keys: %v, %v; want nil, nil", st, err)
		}
		if _, err := s.Inspect(ctx, core.Limit{}, "k"); !errors.Is(err, core.ErrInvalidLimit) {
			t.Errorf("Inspect under a zero limit: %v, want ErrInvalidLimit", err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.Inspect(cctx, gcraL, "k"); !errors.Is(err, context.Canceled) {
			t.Errorf("Inspect with a canceled ctx: %v, want context.Canceled", err)
		}
	})
}

// On a Cluster, Inspect sends one pipeline to each master that holds some
// of the keys (one TIME each) and reads each key on its own master's clock.
func TestClusterInspect(t *testing.T) {
	skipShort(t, "starts a 3-master cluster")
	t.Parallel()
	cluster := testutil.StartCluster(t)
	client := cluster.Client(t)
	ctx := context.Background()
	s := New(client)
	l := core.PerMinute(5)
	// Two keys on each master.
	perNode := map[string][]string{}
	var keys []string
	for i := 0; len(keys) < 6 && i < 10_000; i++ {
		k := "floodgate:{u:" + strconv.Itoa(i) + "}:msg"
		m, err := client.MasterForKey(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if addr := m.Options().Addr; len(perNode[addr]) < 2 {
			perNode[addr] = append(perNode[addr], k)
			keys = append(keys, k)
		}
	}
	if len(perNode) != 3 {
		t.Fatalf("keys on %d masters, want 3", len(perNode))
	}
	for i, k := range keys {
		for range i % 3 { // 0, 1 or 2 events
			if _, err := s.Take(ctx, k, l, 1); err != nil {
				t.Fatal(err)
			}
		}
	}
	nodes := map[string]*redis.Client{}
	for _, n := range cluster.Nodes() {
		c := n.Client(t)
		if err := c.ConfigResetStat(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		nodes[n.Addr] = c
	}
	states, err := s.Inspect(ctx, l, keys...)
	if err != nil {
		t.Fatal(err)
	}
	for addr, c := range nodes {
		calls, err := testutil.CommandCalls(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if calls["time"] != 1 || calls["get"] != 2 || calls["pttl"] != 2 {
			t.Errorf("master %s ran TIME %d, GET %d, PTTL %d times; want 1, 2, 2 (one pipeline for its two keys)",
				addr, calls["time"], calls["get"], calls["pttl"])
		}
	}
	for i, st := range states {
		if st.Key != keys[i] {
			t.Fatalf("state %d is of %s, want %s", i, st.Key, keys[i])
		}
		peek, err := s.Peek(ctx, st.Key, l)
		if err != nil {
			t.Fatal(err)
		}
		used := l.Burst - 1 - peek.Remaining // events recorded, on the key's own master's clock
		if st.Exists != (i%3 > 0) || st.Foreign || used != i%3 || st.Result.Remaining != peek.Remaining {
			t.Errorf("%s: %+v; want %d events recorded, Peek %+v", st.Key, st, i%3, peek)
		}
	}
	t.Logf("6 keys on 3 masters: %v", perNode)
}
