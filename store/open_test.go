package store_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store"
	"github.com/floodgate-go/floodgate/store/memorystore"
	"github.com/floodgate-go/floodgate/store/redisstore"
	"github.com/redis/go-redis/v9"
)

// patient returns cfg with a decision timeout no loaded CI machine
// reaches, so that tests asserting exact counts never see a decision fall
// back to the local store (docs/stores.md#failure-policy). It shows in
// cfg.String: compare the Config before.
func patient(cfg store.Config) store.Config {
	cfg.Timeout = 5 * time.Second
	return cfg
}

func mustFromLookup(t *testing.T, env map[string]string) store.Config {
	t.Helper()
	cfg, err := store.FromLookup(lookup(env))
	if err != nil {
		t.Fatalf("FromLookup: %v", err)
	}
	return cfg
}

func mustOpen(t *testing.T, cfg store.Config) *store.Opened {
	t.Helper()
	st, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open(%v): %v", cfg, err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// takeN takes n events of user 42 and returns whether each was allowed.
func takeN(t *testing.T, lim *core.Limiter, n int) []bool {
	t.Helper()
	var got []bool
	for range n {
		res, err := lim.Take(context.Background(), core.User(42), 1)
		if err != nil {
			t.Fatalf("Take: %v", err)
		}
		got = append(got, res.Allowed)
	}
	return got
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestOpenMemory(t *testing.T) {
	t.Parallel()
	st := mustOpen(t, mustFromLookup(t, map[string]string{
		"FLOODGATE_LIMIT": "2/m", "REDIS_KEY_PREFIX": "booking_bot:client1"}))
	if _, ok := st.Store.(*memorystore.Store); !ok {
		t.Errorf("Store is %T, want *memorystore.Store", st.Store)
	}
	if st.RedisClient() != nil {
		t.Errorf("RedisClient() is not nil for memory")
	}
	if got, want := st.Config.String(), "backend=memory prefix=booking_bot:client1 limit=2/m"; got != want {
		t.Errorf("Config = %q, want %q", got, want)
	}
	lim, err := st.NewLimiter()
	if err != nil {
		t.Fatal(err)
	}
	if got := lim.Key(core.User(42)); got != "booking_bot:client1:{u:42}:msg" || lim.Limit() != core.PerMinute(2) {
		t.Errorf("limiter: key %q, limit %v; want the prefix and limit of the Config", got, lim.Limit())
	}
	if got, want := takeN(t, lim, 3), []bool{true, true, false}; !equalBools(got, want) {
		t.Errorf("decisions = %v, want %v", got, want)
	}
	res, err := lim.Peek(context.Background(), core.User(42))
	if err != nil || res.Allowed || res.RetryAfter <= 0 || res.RetryAfter > 30*time.Second {
		t.Errorf("Peek = %+v, %v; want denied with RetryAfter in (0, 30s]", res, err)
	}
	if err := st.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestOpenZeroConfig(t *testing.T) {
	t.Parallel()
	st := mustOpen(t, store.Config{})
	want := store.Config{Backend: "memory", Prefix: core.DefaultPrefix, Limit: core.Every(time.Second)}
	if st.Config != want {
		t.Errorf("Opened.Config = %#v, want %#v", st.Config, want)
	}
	lim, err := st.NewLimiter()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := takeN(t, lim, 2), []bool{true, false}; !equalBools(got, want) {
		t.Errorf("decisions under the default 1/s = %v, want %v", got, want)
	}
}

func TestNewLimiterOptionsOverride(t *testing.T) {
	t.Parallel()
	st := mustOpen(t, store.Config{Prefix: "from_config"})
	lim, err := st.NewLimiter(core.WithPrefix("from_option"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := lim.Key(core.User(7)), "from_option:{u:7}:msg"; got != want {
		t.Errorf("Key = %q, want %q", got, want)
	}
	report, err := lim.Rule("report", core.Window(3, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := report.Key(core.User(7)), "from_option:{u:7}:report:win"; got != want {
		t.Errorf("Rule(report).Key = %q, want %q", got, want)
	}
	if _, err := st.NewLimiter(core.WithPrefix("bad prefix")); !errors.Is(err, core.ErrInvalidOption) {
		t.Errorf("NewLimiter with a bad prefix = %v, want ErrInvalidOption", err)
	}
}

func TestOpenInvalidConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []store.Config{
		{Backend: "etcd"},
		{RedisURL: "redis://cache:6379/0"}, // Backend memory: the URL would be ignored
		{Backend: "redis", RedisURL: "redis://:" + secret + "@cache:port/0"},
		{Limit: core.Limit{Rate: 5}},
	} {
		st, err := store.Open(context.Background(), cfg)
		if err == nil {
			_ = st.Close()
			t.Errorf("Open(%v) = nil error", cfg)
			continue
		}
		if !errors.Is(err, store.ErrInvalidConfig) {
			t.Errorf("Open(%v) = %v, want ErrInvalidConfig", cfg, err)
		}
		assertNoSecret(t, "Open error", err.Error())
	}
}

func TestOpenRedis(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	cfg := mustFromLookup(t, map[string]string{
		"FLOODGATE_STORE": "redis", "REDIS_URL": srv.URL(),
		"REDIS_KEY_PREFIX": "booking_bot:client1", "FLOODGATE_LIMIT": "2/m"})
	st := mustOpen(t, patient(cfg))
	if _, raw := st.Store.(*redisstore.Store); raw {
		t.Errorf("Store is the bare %T: Open must wrap Redis with core.Resilient", st.Store)
	}
	if st.RedisClient() == nil {
		t.Fatal("RedisClient() is nil")
	}
	t.Logf("opened %v", st.Config)
	lim, err := st.NewLimiter()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := takeN(t, lim, 3), []bool{true, true, false}; !equalBools(got, want) {
		t.Errorf("decisions = %v, want %v", got, want)
	}

	// The decision is in Redis, under the configured prefix, with a TTL.
	ctx := context.Background()
	admin := srv.Client(t)
	key := lim.Key(core.User(42))
	if key != "booking_bot:client1:{u:42}:msg" {
		t.Errorf("Key = %q", key)
	}
	ttl, err := admin.PTTL(ctx, key).Result()
	if err != nil {
		t.Fatalf("PTTL %s: %v", key, err)
	}
	if ttl <= 0 || ttl > 2*time.Minute {
		t.Errorf("PTTL %s = %v, want in (0, 2m]", key, ttl)
	}
	if n := testutil.AssertEveryKeyHasTTL(t, admin); n != 1 {
		t.Errorf("Redis holds %d keys, want 1", n)
	}

	// Another instance of the bot, opened from the same config, shares the budget.
	other := mustOpen(t, patient(cfg))
	lim2, err := other.NewLimiter()
	if err != nil {
		t.Fatal(err)
	}
	if got := takeN(t, lim2, 1); got[0] {
		t.Errorf("a second instance admitted user 42 beyond the shared limit")
	}

	if err := st.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// With the client closed, decisions follow the failure policy
	// (FailLocal by default) instead of failing: Open wrapped the store.
	if res, err := lim.Take(ctx, core.User(43), 1); err != nil || res.Source != core.SourceFallback {
		t.Errorf("Take after Close = %+v, %v; want a decision from the local fallback", res, err)
	}
}

func TestOpenRedisHostPortDB(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	st := mustOpen(t, patient(mustFromLookup(t, map[string]string{
		"REDIS_ENABLED": "true", "REDIS_HOST": "127.0.0.1", "REDIS_PORT": strconv.Itoa(srv.Port), "REDIS_DB": "3"})))
	lim, err := st.NewLimiter()
	if err != nil {
		t.Fatal(err)
	}
	takeN(t, lim, 1)
	ctx := context.Background()
	key := lim.Key(core.User(42))
	db3 := redis.NewClient(&redis.Options{Addr: srv.Addr, DB: 3})
	defer db3.Close()
	if n, err := db3.Exists(ctx, key).Result(); err != nil || n != 1 {
		t.Errorf("EXISTS %s in db 3 = %d, %v; want 1", key, n, err)
	}
	if n, err := srv.Client(t).Exists(ctx, key).Result(); err != nil || n != 0 {
		t.Errorf("EXISTS %s in db 0 = %d, %v; want 0", key, n, err)
	}
}

func TestOpenRedisPasswords(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	ctx := context.Background()
	admin := srv.Client(t)
	// An ACL user for the URL form, then a password with every URL
	// delimiter for the default user (REDIS_PASSWORD form).
	if err := admin.Do(ctx, "ACL", "SETUSER", "alice", "on", ">"+secret, "~*", "+@all").Err(); err != nil {
		t.Fatalf("ACL SETUSER: %v", err)
	}
	odd := secret + "/@:?#% x"
	if err := admin.ConfigSet(ctx, "requirepass", odd).Err(); err != nil {
		t.Fatalf("CONFIG SET requirepass: %v", err)
	}
	port := strconv.Itoa(srv.Port)

	t.Run("REDIS_URL user and password", func(t *testing.T) {
		st := mustOpen(t, patient(mustFromLookup(t, map[string]string{
			"FLOODGATE_STORE": "redis", "REDIS_URL": "redis://alice:" + secret + "@" + srv.Addr + "/0"})))
		assertNoSecret(t, "String()", st.Config.String())
		lim, _ := st.NewLimiter()
		takeN(t, lim, 1)
	})
	t.Run("REDIS_PASSWORD with URL delimiters", func(t *testing.T) {
		st := mustOpen(t, patient(mustFromLookup(t, map[string]string{
			"REDIS_ENABLED": "true", "REDIS_HOST": "127.0.0.1", "REDIS_PORT": port, "REDIS_PASSWORD": odd})))
		assertNoSecret(t, "String()", st.Config.String(), odd)
		lim, _ := st.NewLimiter()
		takeN(t, lim, 1)
	})
	t.Run("wrong passwords fail without showing either", func(t *testing.T) {
		for _, cfg := range []store.Config{
			mustFromLookup(t, map[string]string{"FLOODGATE_STORE": "redis",
				"REDIS_URL": "redis://alice:wrong-PASSWORD@" + srv.Addr + "/0"}),
			mustFromLookup(t, map[string]string{"REDIS_ENABLED": "true",
				"REDIS_HOST": "127.0.0.1", "REDIS_PORT": port, "REDIS_PASSWORD": "wrong-PASSWORD"}),
			mustFromLookup(t, map[string]string{"REDIS_ENABLED": "true",
				"REDIS_HOST": "127.0.0.1", "REDIS_PORT": port}), // no password at all
		} {
			st, err := store.Open(ctx, cfg)
			if err == nil {
				_ = st.Close()
				t.Errorf("Open(%v) succeeded with a wrong password", cfg)
				continue
			}
			t.Log(err)
			assertNoSecret(t, "Open error", err.Error(), "wrong-PASSWORD", odd)
			if !strings.HasPrefix(err.Error(), "store: ") || !strings.Contains(err.Error(), port) {
				t.Errorf("error %q does not start with store: and name the port", err)
			}
		}
	})
}

func TestOpenRedisUnixSocket(t *testing.T) {
	t.Parallel()
	dir, err := os.MkdirTemp("", "fgsock") // short: socket paths are limited to ~100 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	sock := filepath.Join(dir, "redis.sock")
	srv := testutil.StartRedis(t, "--unixsocket", sock, "--unixsocketperm", "700")
	cfg := mustFromLookup(t, map[string]string{"FLOODGATE_STORE": "redis", "REDIS_URL": "unix://" + sock + "?db=2"})
	st := mustOpen(t, patient(cfg))
	if got, want := cfg.String(), "backend=redis addr=unix://"+sock+" db=2 prefix=floodgate limit=1/s"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	lim, _ := st.NewLimiter()
	if got := takeN(t, lim, 2); !equalBools(got, []bool{true, false}) {
		t.Errorf("decisions = %v", got)
	}
	db2 := redis.NewClient(&redis.Options{Addr: srv.Addr, DB: 2})
	defer db2.Close()
	if n, err := db2.Exists(context.Background(), lim.Key(core.User(42))).Result(); err != nil || n != 1 {
		t.Errorf("EXISTS in db 2 = %d, %v; want 1", n, err)
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func TestOpenRedisClosedPortFailsFast(t *testing.T) {
	t.Parallel()
	addr := closedPort(t)
	cfg := store.Config{Backend: "redis", RedisURL: "redis://alice:" + secret + "@" + addr + "/0"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	st, err := store.Open(ctx, cfg)
	elapsed := time.Since(start)
	if err == nil {
		_ = st.Close()
		t.Fatalf("Open against closed port %s succeeded", addr)
	}
	t.Logf("Open against closed port failed after %v: %v", elapsed, err)
	msg := err.Error()
	if !strings.HasPrefix(msg, "store: ") || !strings.Contains(msg, addr) {
		t.Errorf("error %q does not start with store: and name %s", msg, addr)
	}
	if errors.Is(err, store.ErrInvalidConfig) {
		t.Errorf("an unreachable server is reported as an invalid config")
	}
	assertNoSecret(t, "Open error", msg)
}

// TestOpenRedisSilentServerFailsFast opens against a port that accepts
// connections and never answers, as a hung Redis would.
func TestOpenRedisSilentServerFailsFast(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	st, err := store.Open(ctx, store.Config{Backend: "redis", RedisURL: "redis://:" + secret + "@" + l.Addr().String()})
	elapsed := time.Since(start)
	if err == nil {
		_ = st.Close()
		t.Fatal("Open against a silent server succeeded")
	}
	t.Logf("Open against a silent server failed after %v: %v", elapsed, err)
	assertNoSecret(t, "Open error", err.Error())
}

func TestOpenRedisCanceledContext(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	st, err := store.Open(ctx, store.Config{Backend: "redis", RedisURL: srv.URL()})
	if err == nil {
		_ = st.Close()
		t.Fatal("Open with a canceled context succeeded")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Open = %v, want it to wrap context.Canceled", err)
	}
}

func TestOpenRedisCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node Redis Cluster")
	}
	t.Parallel()
	cluster := testutil.StartCluster(t)
	cfg := mustFromLookup(t, map[string]string{"REDIS_URL": cluster.URL(), "FLOODGATE_LIMIT": "2/m"})
	st := mustOpen(t, patient(cfg))
	if _, ok := st.RedisClient().(*redis.ClusterClient); !ok {
		t.Fatalf("RedisClient() is %T, want *redis.ClusterClient", st.RedisClient())
	}
	want := "backend=redis addr=" + cluster.URL() + " prefix=floodgate limit=2/m"
	if got := cfg.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	lim, err := st.NewLimiter()
	if err != nil {
		t.Fatal(err)
	}
	// Users land on all three masters, each decided exactly.
	ctx := context.Background()
	for u := range 60 {
		for i, want := range []bool{true, true, false} {
			res, err := lim.Take(ctx, core.User(int64(u)), 1)
			if err != nil {
				t.Fatalf("Take(%d): %v", u, err)
			}
			if res.Allowed != want {
				t.Fatalf("Take(%d) call %d: allowed %v, want %v", u, i+1, res.Allowed, want)
			}
		}
	}
	sizes, err := cluster.DBSizes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range sizes {
		if n == 0 {
			t.Errorf("master %d holds no key: %v", i, sizes)
		}
	}
	t.Logf("opened %v; 60 users' keys per master: %v", st.Config, sizes)
	if n := cluster.AssertEveryKeyHasTTL(t); n != 60 {
		t.Errorf("cluster holds %d keys, want 60", n)
	}

	// One seed is enough: the client discovers the other nodes.
	one := mustOpen(t, patient(store.Config{Backend: "redis", RedisURL: "redis+cluster://" + cluster.Addrs()[2]}))
	lim2, err := one.NewLimiter()
	if err != nil {
		t.Fatal(err)
	}
	for u := range 60 {
		if res, err := lim2.Take(ctx, core.User(int64(u)), 1); err != nil || res.Allowed {
			t.Fatalf("Take(%d) through a one-seed client: %+v, %v; want denied (shared budget)", u, res, err)
		}
	}
	if err := st.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if res, err := lim.Take(ctx, core.User(999999), 1); err != nil || res.Source != core.SourceFallback {
		t.Errorf("Take after Close = %+v, %v; want a decision from the local fallback", res, err)
	}
}

func TestOpenRedisClusterPasswords(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node Redis Cluster")
	}
	t.Parallel()
	cluster := testutil.StartCluster(t)
	ctx := context.Background()
	odd := secret + "/@:?#% x"
	for _, node := range cluster.Nodes() {
		if err := node.Client(t).ConfigSet(ctx, "requirepass", odd).Err(); err != nil {
			t.Fatalf("CONFIG SET requirepass on %s: %v", node.Addr, err)
		}
	}
	seeds := strings.Join(cluster.Addrs(), ",")
	escaped := strings.TrimPrefix(url.UserPassword("", odd).String(), ":")

	st := mustOpen(t, patient(mustFromLookup(t, map[string]string{"REDIS_URL": "redis+cluster://:" + escaped + "@" + seeds})))
	assertNoSecret(t, "String()", st.Config.String(), odd, escaped)
	lim, err := st.NewLimiter()
	if err != nil {
		t.Fatal(err)
	}
	for u := range 30 { // keys on every master: every node accepted the password
		if res, err := lim.Take(ctx, core.User(int64(u)), 1); err != nil || !res.Allowed {
			t.Fatalf("Take(%d) = %+v, %v", u, res, err)
		}
	}

	for _, raw := range []string{
		"redis+cluster://:wrong-PASSWORD@" + seeds,
		"redis+cluster://" + seeds, // no password at all
	} {
		st, err := store.Open(ctx, store.Config{Backend: "redis", RedisURL: raw})
		if err == nil {
			_ = st.Close()
			t.Errorf("Open(%s) succeeded with a wrong password", raw)
			continue
		}
		t.Log(err)
		assertNoSecret(t, "Open error", err.Error(), "wrong-PASSWORD", odd, escaped)
		if !strings.HasPrefix(err.Error(), "store: redis cluster at redis+cluster://") || !strings.Contains(err.Error(), seeds) {
			t.Errorf("error %q does not start with store: and name the cluster", err)
		}
	}
}

func TestOpenRedisSentinel(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis master, replica and Sentinel")
	}
	t.Parallel()
	s := testutil.StartSentinel(t)
	cfg := mustFromLookup(t, map[string]string{"REDIS_ENABLED": "true", "REDIS_URL": s.URL(), "FLOODGATE_LIMIT": "2/m",
		"REDIS_KEY_PREFIX": "booking_bot:client1"})
	st := mustOpen(t, patient(cfg))
	if _, ok := st.RedisClient().(*redis.Client); !ok {
		t.Fatalf("RedisClient() is %T, want *redis.Client (a failover client)", st.RedisClient())
	}
	want := "backend=redis addr=redis+sentinel://" + s.SentinelAddr() + " master=mymaster db=0 prefix=booking_bot:client1 limit=2/m"
	if got := cfg.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	lim, err := st.NewLimiter()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := takeN(t, lim, 3), []bool{true, true, false}; !equalBools(got, want) {
		t.Errorf("decisions = %v, want %v", got, want)
	}
	// The decision is on the master Sentinel named, with a TTL.
	ctx := context.Background()
	master := s.Master().Client(t)
	key := lim.Key(core.User(42))
	if ttl, err := master.PTTL(ctx, key).Result(); err != nil || ttl <= 0 || ttl > 2*time.Minute {
		t.Errorf("PTTL %s on the master = %v, %v; want in (0, 2m]", key, ttl, err)
	}
	testutil.AssertEveryKeyHasTTL(t, master)

	// The database number reaches the master.
	db5 := mustOpen(t, patient(store.Config{Backend: "redis", RedisURL: "redis+sentinel://" + s.SentinelAddr() + "/mymaster/5"}))
	lim5, _ := db5.NewLimiter()
	takeN(t, lim5, 1)
	masterDB5 := redis.NewClient(&redis.Options{Addr: s.Master().Addr, DB: 5})
	defer masterDB5.Close()
	if n, err := masterDB5.Exists(ctx, lim5.Key(core.User(42))).Result(); err != nil || n != 1 {
		t.Errorf("EXISTS in db 5 of the master = %d, %v; want 1", n, err)
	}
}

func TestOpenRedisSentinelUnknownMaster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis master, replica and Sentinel")
	}
	t.Parallel()
	s := testutil.StartSentinel(t)
	start := time.Now()
	st, err := store.Open(context.Background(), store.Config{Backend: "redis",
		RedisURL: "redis+sentinel://:" + secret + "@" + s.SentinelAddr() + "/othermaster"})
	if err == nil {
		_ = st.Close()
		t.Fatal("Open with a master name the Sentinel does not monitor succeeded")
	}
	t.Logf("failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
	assertNoSecret(t, "Open error", err.Error())
	for _, want := range []string{"store: ", s.SentinelAddr(), "master=othermaster", "monitors no master"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// Against nothing listening, Sentinel and Cluster fail as fast as a single
// server, naming every address, never the password.
func TestOpenRedisSentinelAndClusterClosedPortsFailFast(t *testing.T) {
	t.Parallel()
	a, b := closedPort(t), closedPort(t)
	for _, raw := range []string{
		"redis+sentinel://alice:" + secret + "@" + a + "," + b + "/mymaster",
		"redis+cluster://alice:" + secret + "@" + a + "," + b,
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		start := time.Now()
		st, err := store.Open(ctx, store.Config{Backend: "redis", RedisURL: raw})
		elapsed := time.Since(start)
		cancel()
		if err == nil {
			_ = st.Close()
			t.Fatalf("Open(%s) against closed ports succeeded", raw)
		}
		t.Logf("failed after %v: %v", elapsed.Round(time.Millisecond), err)
		msg := err.Error()
		if !strings.HasPrefix(msg, "store: ") || !strings.Contains(msg, a+","+b) {
			t.Errorf("error %q does not start with store: and name %s,%s", msg, a, b)
		}
		if errors.Is(err, store.ErrInvalidConfig) {
			t.Errorf("an unreachable server is reported as an invalid config")
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Open ran into the caller's deadline: it must fail on the refused connections by itself")
		}
		assertNoSecret(t, "Open error", msg)
	}
}

// What floodgate logs through WithLogger while Redis is down never shows
// the password, and the breaker line names the store by its prefix.
func TestLogsNeverShowSecrets(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-PW-in-logs"
	srv := testutil.StartRedis(t, "--requirepass", secret)
	var logs testutil.SyncBuffer
	st, err := store.Open(context.Background(), store.Config{Backend: store.BackendRedis, Prefix: "booking_bot",
		RedisURL: "redis://:" + secret + "@" + srv.Addr + "/0"},
		store.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	lim, err := st.NewLimiter()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if res, err := lim.Take(ctx, core.User(1), 1); err != nil || res.Source != core.SourceStore {
		t.Fatalf("before the outage: %+v, %v", res, err)
	}
	srv.Stop()
	for i := range 2 * threshold { // enough failures to open the breaker
		if _, err := lim.Take(ctx, core.User(int64(i)), 1); err != nil {
			t.Fatal(err)
		}
	}
	out := logs.String() + st.Config.String() + fmt.Sprint(st.Config)
	if strings.Contains(out, secret) {
		t.Fatalf("the password appears in what floodgate printed:\n%s", out)
	}
	for _, want := range []string{"circuit breaker open", "store=booking_bot", "policy=local"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	}
}

// Open wraps Redis in core.Resilient with the Config's policy and the
// options' Observer: with Redis gone, each policy decides as it says, and
// the Observer hears of the fault under the prefix's name. A nil Option is
// a config error.
func TestOpenPolicy(t *testing.T) {
	t.Parallel()
	if _, err := store.Open(context.Background(), store.Config{}, nil); !errors.Is(err, store.ErrInvalidConfig) {
		t.Errorf("Open with a nil Option = %v, want ErrInvalidConfig", err)
	}
	for _, tc := range []struct {
		policy  core.FailurePolicy
		allowed bool
		source  core.Source
	}{
		{core.FailLocal, true, core.SourceFallback},
		{core.FailOpen, true, core.SourcePolicy},
		{core.FailClosed, false, core.SourcePolicy},
	} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			t.Parallel()
			srv := testutil.StartRedis(t)
			rec := newRecorder()
			st := openRedis(t, srv, store.Config{Prefix: "tenant7", Limit: core.PerMinute(2), Policy: tc.policy}, rec)
			lim, err := st.NewLimiter()
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if res, err := lim.Take(ctx, core.User(1), 1); err != nil || !res.Allowed || res.Source != core.SourceStore {
				t.Fatalf("before the outage: %+v, %v", res, err)
			}
			srv.Stop()
			res, err := lim.Take(ctx, core.User(1), 1)
			if err != nil || res.Allowed != tc.allowed || res.Source != tc.source {
				t.Fatalf("with Redis gone: %+v, %v; want allowed %v by %v", res, err, tc.allowed, tc.source)
			}
			if !res.Allowed && res.RetryAfter != core.PerMinute(2).Interval() {
				t.Errorf("a policy denial waits %v, want one interval (%v)", res.RetryAfter, core.PerMinute(2).Interval())
			}
			decisions, _, _, faults := rec.since(mark{})
			if len(faults) != 1 || faults[0].Name != "tenant7" || decisions[tc.source] != 1 || decisions[core.SourceStore] != 1 {
				t.Errorf("the Observer heard faults %v and decisions %v; want one fault named tenant7, one decision each by the store and %v",
					faults, decisions, tc.source)
			}
		})
	}
}
