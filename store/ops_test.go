package store_test

// Redis as operators run it: TLS with a private CA, a Redis far away, a
// cold pool, a least-privilege ACL user, an evicting maxmemory-policy.

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store"
	"github.com/floodgate-go/floodgate/store/redisstore"
	"github.com/redis/go-redis/v9"
)

// decided numbers the users of decideOnRedis, so each decides afresh.
var decided atomic.Int64

// decideOnRedis makes one decision for a fresh user through st and fails
// the test unless Redis made it, allowed.
func decideOnRedis(t *testing.T, st *store.Opened) {
	t.Helper()
	lim, err := st.NewLimiter()
	if err != nil {
		t.Fatal(err)
	}
	res, err := lim.Take(context.Background(), core.User(decided.Add(1)), 1)
	if err != nil || res.Source != core.SourceStore || !res.Allowed {
		t.Fatalf("Take = %+v, %v; want allowed by the store (SourceStore)", res, err)
	}
}

// TestOpenTLS opens rediss:// against a real TLS redis-server whose
// certificate a CA the test generated signed.
func TestOpenTLS(t *testing.T) {
	t.Parallel()
	srv := testutil.StartTLSRedis(t, false)
	mTLS := testutil.StartTLSRedis(t, true)
	other := testutil.NewCA(t, "another CA")
	ctx := context.Background()

	t.Run("verified with the CA from the environment", func(t *testing.T) {
		cfg := mustFromLookup(t, map[string]string{"REDIS_URL": srv.TLSURL(), "REDIS_TLS_CA_FILE": srv.CA.CertFile})
		if !strings.Contains(cfg.String(), "tls_ca="+srv.CA.CertFile) {
			t.Errorf("String() = %s: does not say which CA it trusts", cfg)
		}
		decideOnRedis(t, mustOpen(t, cfg))
	})
	t.Run("server name for an address the certificate does not name", func(t *testing.T) {
		// The certificate names 127.0.0.1 and redis.test; dial "localhost".
		url := strings.Replace(srv.TLSURL(), "127.0.0.1", "localhost", 1)
		cfg := store.Config{Backend: "redis", RedisURL: url, TLSCAFile: srv.CA.CertFile}
		if _, err := store.Open(ctx, cfg); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("Open with a name the certificate lacks: %v, want a certificate error", err)
		}
		cfg.TLSServerName = "redis.test"
		decideOnRedis(t, mustOpen(t, cfg))
	})
	t.Run("wrong CA refused", func(t *testing.T) {
		cfg := store.Config{Backend: "redis", RedisURL: srv.TLSURL(), TLSCAFile: other.CertFile}
		_, err := store.Open(ctx, cfg)
		if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
			t.Fatalf("Open trusting another CA: %v, want x509: certificate signed by unknown authority", err)
		}
		t.Logf("wrong CA: %v", err)
	})
	t.Run("system roots refuse a private CA", func(t *testing.T) {
		_, err := store.Open(ctx, store.Config{Backend: "redis", RedisURL: srv.TLSURL()})
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("Open without the CA: %v, want a certificate error", err)
		}
	})
	t.Run("mTLS required, no client certificate", func(t *testing.T) {
		_, err := store.Open(ctx, store.Config{Backend: "redis", RedisURL: mTLS.TLSURL(), TLSCAFile: mTLS.CA.CertFile})
		if err == nil {
			t.Fatal("Open without a client certificate succeeded against tls-auth-clients yes")
		}
		t.Logf("mTLS without a certificate: %v", err)
	})
	t.Run("mTLS required and provided", func(t *testing.T) {
		cfg := mustFromLookup(t, map[string]string{"REDIS_URL": mTLS.TLSURL(), "REDIS_TLS_CA_FILE": mTLS.CA.CertFile,
			"REDIS_TLS_CERT_FILE": mTLS.ClientCertFile, "REDIS_TLS_KEY_FILE": mTLS.ClientKeyFile})
		decideOnRedis(t, mustOpen(t, cfg))
	})
	t.Run("client certificate from another CA refused", func(t *testing.T) {
		cert, key := other.Issue(t, "intruder")
		_, err := store.Open(ctx, store.Config{Backend: "redis", RedisURL: mTLS.TLSURL(), TLSCAFile: mTLS.CA.CertFile,
			TLSCertFile: cert, TLSKeyFile: key})
		if err == nil {
			t.Fatal("Open with a client certificate of another CA succeeded")
		}
	})
}

// TestTLSOptionsEveryTopology checks that the TLS settings reach the
// options of every topology.
func TestTLSOptionsEveryTopology(t *testing.T) {
	t.Parallel()
	ca := testutil.NewCA(t, "ca")
	cert, key := ca.Issue(t, "client")
	base := store.Config{Backend: "redis", TLSCAFile: ca.CertFile, TLSCertFile: cert, TLSKeyFile: key, TLSServerName: "redis.internal"}
	one := base
	one.RedisURL = "rediss://cache:6380/0"
	o1, err := one.RedisOptions()
	if err != nil {
		t.Fatal(err)
	}
	sen := base
	sen.RedisURL = "rediss+sentinel://s1:26379/m"
	o2, err := sen.FailoverOptions()
	if err != nil {
		t.Fatal(err)
	}
	clu := base
	clu.RedisURL = "rediss+cluster://n1:7000"
	o3, err := clu.ClusterOptions()
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*struct {
		root, certs bool
		server      string
	}{
		"standalone": {o1.TLSConfig.RootCAs != nil, len(o1.TLSConfig.Certificates) == 1, o1.TLSConfig.ServerName},
		"sentinel":   {o2.TLSConfig.RootCAs != nil, len(o2.TLSConfig.Certificates) == 1, o2.TLSConfig.ServerName},
		"cluster":    {o3.TLSConfig.RootCAs != nil, len(o3.TLSConfig.Certificates) == 1, o3.TLSConfig.ServerName},
	} {
		if !c.root || !c.certs || c.server != "redis.internal" {
			t.Errorf("%s: RootCAs set %v, client certificate %v, ServerName %q", name, c.root, c.certs, c.server)
		}
	}
	plain := base
	plain.RedisURL = "redis+cluster://n1:7000"
	if err := plain.Validate(); err == nil || !strings.Contains(err.Error(), "TLSCAFile") {
		t.Errorf("TLS settings with a plain cluster URL: %v, want an error naming TLSCAFile", err)
	}
}

// TestTimeoutDrivesClientTimeouts: FLOODGATE_TIMEOUT raises the client's
// read, write and dial timeouts; the fail-fast floors stay below it.
func TestTimeoutDrivesClientTimeouts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		timeout          time.Duration
		dial, read, writ time.Duration
	}{
		{0, 500 * time.Millisecond, 250 * time.Millisecond, 250 * time.Millisecond},
		{100 * time.Millisecond, 500 * time.Millisecond, 250 * time.Millisecond, 250 * time.Millisecond},
		{2 * time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second},
	} {
		o, err := store.Config{Backend: "redis", Timeout: tc.timeout}.RedisOptions()
		if err != nil {
			t.Fatal(err)
		}
		if o.DialTimeout != tc.dial || o.ReadTimeout != tc.read || o.WriteTimeout != tc.writ {
			t.Errorf("Timeout %v: dial %v read %v write %v, want %v %v %v", tc.timeout,
				o.DialTimeout, o.ReadTimeout, o.WriteTimeout, tc.dial, tc.read, tc.writ)
		}
	}
	o, err := store.Config{Backend: "redis", RedisURL: "redis://h/0?read_timeout=3s", Timeout: time.Second}.RedisOptions()
	if err != nil || o.ReadTimeout != 3*time.Second {
		t.Errorf("the URL's read_timeout must win: %v, %v", o.ReadTimeout, err)
	}
}

// TestOpenFarRedis runs a Redis 300 ms away (a delay proxy): with
// FLOODGATE_TIMEOUT=2s the bot starts and decides on Redis; with the
// default it fails at start with a hint.
func TestOpenFarRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("a Redis 300 ms away takes seconds to open; runs without -short")
	}
	t.Parallel()
	r := testutil.StartRedis(t)
	proxy := testutil.StartDelayProxy(t, r.Addr, 150*time.Millisecond) // 300 ms round trips
	url := "redis://" + proxy.Addr + "/0"

	cfg := mustFromLookup(t, map[string]string{"REDIS_URL": url, "FLOODGATE_TIMEOUT": "2s"})
	start := time.Now()
	st := mustOpen(t, cfg)
	t.Logf("Open with FLOODGATE_TIMEOUT=2s over 300 ms round trips took %v", time.Since(start).Round(time.Millisecond))
	lim, err := st.NewLimiter()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		start := time.Now()
		res, err := lim.Take(context.Background(), core.User(int64(i)), 1)
		if err != nil || res.Source != core.SourceStore {
			t.Fatalf("Take %d = %+v, %v; want decided by Redis", i, res, err)
		}
		if took := time.Since(start); took < 250*time.Millisecond {
			t.Fatalf("a decision took %v: the proxy does not delay", took)
		} else {
			t.Logf("decision %d by Redis in %v", i, took.Round(time.Millisecond))
		}
	}

	_, err = store.Open(context.Background(), mustFromLookup(t, map[string]string{"REDIS_URL": url}))
	if err == nil || !strings.Contains(err.Error(), "FLOODGATE_TIMEOUT") {
		t.Fatalf("Open with the default timeout: %v, want a failure hinting at FLOODGATE_TIMEOUT", err)
	}
	t.Logf("default timeout: %v", err)
}

// breakerWatch counts breaker openings and faults.
type breakerWatch struct {
	opened, faults atomic.Int64
}

func (b *breakerWatch) Decision(core.DecisionEvent) {}
func (b *breakerWatch) Fault(core.FaultEvent)       { b.faults.Add(1) }
func (b *breakerWatch) Breaker(e core.BreakerEvent) {
	if e.Open {
		b.opened.Add(1)
	}
}

// TestOpenColdStartTLS: 8 concurrent first decisions over TLS find their
// connections dialled (Open warms the pool): no dial during them, no
// timeout, the breaker closed.
func TestOpenColdStartTLS(t *testing.T) {
	t.Parallel()
	srv := testutil.StartTLSRedis(t, false)
	var watch breakerWatch
	cfg := store.Config{Backend: "redis", RedisURL: srv.TLSURL(), TLSCAFile: srv.CA.CertFile, Timeout: 200 * time.Millisecond}
	st, err := store.Open(context.Background(), cfg, store.WithObserver(&watch))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	client := st.RedisClient().(*redis.Client)
	before := client.PoolStats()
	if before.TotalConns < 4 {
		t.Fatalf("after Open the pool holds %d connections, want at least 4 dialled", before.TotalConns)
	}
	lim, err := st.NewLimiter()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var timeouts, fromRedis atomic.Int64
	for i := range 8 {
		wg.Go(func() {
			res, err := lim.Take(context.Background(), core.User(int64(1000+i)), 1)
			if err != nil || res.Source != core.SourceStore {
				timeouts.Add(1)
				return
			}
			fromRedis.Add(1)
		})
	}
	wg.Wait()
	after := client.PoolStats()
	t.Logf("8 concurrent cold-start decisions over TLS: %d by Redis, %d not (timeouts), breaker opened %d times, "+
		"faults %d, pool %d connections before, %d after, %d dials during the decisions",
		fromRedis.Load(), timeouts.Load(), watch.opened.Load(), watch.faults.Load(), before.TotalConns, after.TotalConns,
		after.Misses-before.Misses)
	if timeouts.Load() != 0 || watch.opened.Load() != 0 || watch.faults.Load() != 0 {
		t.Fatalf("%d decisions not by Redis, breaker opened %d times, %d faults; want 0, 0, 0",
			timeouts.Load(), watch.opened.Load(), watch.faults.Load())
	}
	if d := after.Misses - before.Misses; d != 0 {
		t.Fatalf("%d connections dialled during the first decisions: Open did not warm the pool", d)
	}
}

// TestACLMatrix opens the store as a real ACL user lacking each command of
// the documented rule in turn: Open fails naming it. With the whole rule,
// Open passes and every operation works.
func TestACLMatrix(t *testing.T) {
	t.Parallel()
	r := testutil.StartRedis(t)
	admin := r.Client(t)
	ctx := context.Background()
	const prefix = "floodgate"
	rule := redisstore.ACLRule(prefix)
	for _, cmd := range redisstore.Commands() {
		t.Run("without "+cmd, func(t *testing.T) {
			user := "bot-no-" + cmd
			testutil.ACLUser(t, admin, user, "pw", rule+" -"+cmd)
			_, err := store.Open(ctx, store.Config{Backend: "redis", RedisURL: "redis://" + user + ":pw@" + r.Addr + "/0"})
			if err == nil {
				t.Fatalf("Open as a user without %s succeeded", cmd)
			}
			if !strings.Contains(err.Error(), cmd) {
				t.Fatalf("Open without %s: %v; the error does not name it", cmd, err)
			}
			if cmd != "ping" && !errors.Is(err, core.ErrMisconfigured) {
				t.Errorf("Open without %s: %v does not wrap core.ErrMisconfigured", cmd, err)
			}
			var pe *redisstore.PermissionError
			if cmd != "ping" && (!errors.As(err, &pe) || len(pe.Missing) != 1 || pe.Missing[0] != cmd) {
				t.Errorf("Open without %s: missing %v, want exactly [%s]", cmd, pe, cmd)
			}
			t.Logf("without %-8s %v", cmd+":", err)
		})
	}
	t.Run("keys outside the pattern", func(t *testing.T) {
		testutil.ACLUser(t, admin, "bot-other-keys", "pw", redisstore.ACLRule("other"))
		_, err := store.Open(ctx, store.Config{Backend: "redis", RedisURL: "redis://bot-other-keys:pw@" + r.Addr + "/0"})
		var pe *redisstore.PermissionError
		if !errors.As(err, &pe) || !pe.Keys {
			t.Fatalf("Open with keys out of reach: %v, want a PermissionError about the keys", err)
		}
	})
	t.Run("several missing, all named", func(t *testing.T) {
		testutil.ACLUser(t, admin, "bot-several", "pw", rule+" -evalsha -eval -del")
		_, err := store.Open(ctx, store.Config{Backend: "redis", RedisURL: "redis://bot-several:pw@" + r.Addr + "/0"})
		if err == nil || !strings.Contains(err.Error(), "evalsha, eval, del") {
			t.Fatalf("Open: %v, want evalsha, eval, del named", err)
		}
	})
	t.Run("the documented rule passes", func(t *testing.T) {
		testutil.ACLUser(t, admin, "bot", "pw", rule)
		cfg := patient(store.Config{Backend: "redis", RedisURL: "redis://bot:pw@" + r.Addr + "/0"})
		st := mustOpen(t, cfg)
		lim, err := st.NewLimiter()
		if err != nil {
			t.Fatal(err)
		}
		win, err := lim.Rule("w", core.Window(2, time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range []*core.Limiter{lim, win} {
			if res, err := l.Take(ctx, core.User(1), 1); err != nil || res.Source != core.SourceStore {
				t.Fatalf("Take = %+v, %v", res, err)
			}
			if _, err := l.Peek(ctx, core.User(1)); err != nil {
				t.Fatal(err)
			}
			if err := l.Block(ctx, core.User(1), time.Minute); err != nil {
				t.Fatal(err)
			}
			if err := l.Reset(ctx, core.User(1)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := st.TakeAll(ctx, []core.Lane{{Key: win.Key(core.User(2)), Limit: win.Limit()},
			{Key: win.Key(core.User(2)) + ":b", Limit: win.Limit()}}, 1); err != nil {
			t.Fatal(err)
		}
		// Every operation above, through a user that has nothing else:
		// nothing was decided by the fallback.
		testutil.AssertEveryKeyHasTTL(t, admin)
	})
}

// TestOpenWarnsOfEviction: an evicting maxmemory-policy is logged at Open;
// noeviction, or a user who may not read the policy, stays quiet.
func TestOpenWarnsOfEviction(t *testing.T) {
	t.Parallel()
	r := testutil.StartRedis(t, "--maxmemory", "64mb", "--maxmemory-policy", "volatile-ttl")
	quiet := testutil.StartRedis(t)
	open := func(url string) string {
		var buf bytes.Buffer
		st, err := store.Open(context.Background(), store.Config{Backend: "redis", RedisURL: url},
			store.WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
		if err != nil {
			t.Fatal(err)
		}
		_ = st.Close()
		return buf.String()
	}
	if logs := open(r.URL()); !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "volatile-ttl") {
		t.Errorf("Open against volatile-ttl logged %q, want a warning naming the policy", logs)
	} else {
		t.Logf("warning: %s", logs)
	}
	if logs := open(quiet.URL()); logs != "" {
		t.Errorf("Open against noeviction logged %q", logs)
	}
	testutil.ACLUser(t, r.Client(t), "bot", "pw", redisstore.ACLRule("floodgate"))
	if logs := open("redis://bot:pw@" + r.Addr + "/0"); logs != "" {
		t.Errorf("Open as a user who may not read the policy logged %q, want nothing", logs)
	}
}

// TestDocumentedACLRule keeps docs/stores.md's bot rule the one Open
// checks.
func TestDocumentedACLRule(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/stores.md")
	if err != nil {
		t.Fatal(err)
	}
	want := "ACL SETUSER floodgate-bot on >PASSWORD " + redisstore.ACLRule("floodgate") + "\n"
	if !strings.Contains(string(doc), want) {
		t.Errorf("docs/stores.md does not give the rule Open checks:\n%s", want)
	}
}

// TestOpenTLSCluster opens rediss+cluster:// against a real cluster that
// serves TLS, trusting the test's CA, and decides on every master.
func TestOpenTLSCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node TLS cluster; runs without -short")
	}
	t.Parallel()
	c := testutil.StartTLSCluster(t)
	cfg := mustFromLookup(t, map[string]string{"REDIS_URL": c.TLSURL(), "REDIS_TLS_CA_FILE": c.CA.CertFile})
	st := mustOpen(t, patient(cfg))
	lim, err := st.NewLimiter()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 { // users spread over the masters
		if res, err := lim.Take(context.Background(), core.User(int64(i+1)), 1); err != nil || res.Source != core.SourceStore {
			t.Fatalf("Take = %+v, %v", res, err)
		}
	}
	sizes, err := c.DBSizes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range sizes {
		if n == 0 {
			t.Errorf("master %d holds no key: decisions did not reach it (keys per master %v)", i, sizes)
		}
	}
	if _, err := store.Open(context.Background(), store.Config{Backend: "redis", RedisURL: c.TLSURL()}); err == nil ||
		!strings.Contains(err.Error(), "certificate") {
		t.Errorf("Open without the CA: %v, want a certificate error", err)
	}
}

// TestLonelyUserIsAPasswordHint: redis://SECRET@host (the colon
// forgotten) is masked everywhere and the NOAUTH at start says why.
func TestLonelyUserIsAPasswordHint(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-without-colon"
	r := testutil.StartRedis(t, "--requirepass", secret)
	cfg := mustFromLookup(t, map[string]string{"REDIS_URL": "redis://" + secret + "@" + r.Addr + "/0"})
	if strings.Contains(cfg.String(), secret) {
		t.Fatalf("String() shows the lone user name: %s", cfg)
	}
	_, err := store.Open(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "NOAUTH") || !strings.Contains(err.Error(), "redis://:PASSWORD@host") {
		t.Fatalf("Open: %v, want NOAUTH with the hint", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("the error shows the secret: %v", err)
	}
	t.Logf("%v", err)
	st := mustOpen(t, mustFromLookup(t, map[string]string{"REDIS_URL": "redis://" + r.Addr + "/0", "REDIS_PASSWORD": secret}))
	decideOnRedis(t, st)
}
