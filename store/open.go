package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/store/memorystore"
	"github.com/floodgate-go/floodgate/store/redisstore"
	"github.com/redis/go-redis/v9"
)

// Opened is a store opened by Open: a core.Store plus what it was opened
// with and what it must release. It is safe for concurrent use.
type Opened struct {
	// Store is the store the Config names: a memorystore.Store, or a
	// redisstore.Store wrapped by core.Resilient.
	core.Store
	// Config is the Config it was opened with, defaults filled in.
	Config Config

	client    redis.UniversalClient // nil for memory
	observer  core.Observer
	close     func() error
	closeOnce sync.Once
	closeErr  error
}

// Option configures Open.
type Option func(*openConfig)

type openConfig struct {
	observer core.Observer
	logger   *slog.Logger
	noChecks bool
}

// WithoutChecks makes Open skip its start-up checks of the Redis user's
// permissions and of the eviction policy (it still PINGs and warms the
// pool). For tools that run the checks themselves and report every
// problem rather than stop at the first, such as cmd/floodgate's check.
func WithoutChecks() Option { return func(c *openConfig) { c.noChecks = true } }

// warmConns is how many connections Open opens before the first decision:
// as many as the Redis store keeps in flight at once (two round trips),
// and two more, so a burst at start-up finds its connections dialled,
// TLS handshakes and AUTH done.
const warmConns = 4

// WithObserver reports the Redis store's faults and circuit breaker
// transitions (core.Resilience.Observer) and the decisions of the limiters
// NewLimiter builds to o, e.g. package metrics. Default: none.
func WithObserver(o core.Observer) Option { return func(c *openConfig) { c.observer = o } }

// WithLogger sets where the Redis store logs its breaker transitions and
// first faults (core.Resilience.Logger). Default: slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *openConfig) { c.logger = l } }

var _ core.Store = (*Opened)(nil)

// Open validates cfg and opens the store it names.
//
// For memory it starts a memorystore.Store (ctx is not used) and returns
// it as it is: it never fails, so it needs no protection. For redis it
// builds the client the RedisURL's scheme calls for, with fail-fast
// settings (short timeouts, one dial attempt per connection, no command
// retries; see Config.RedisOptions):
//
//   - redis://, rediss://, unix://: a *redis.Client from cfg.RedisOptions;
//   - redis+sentinel://: a failover client (redis.NewFailoverClient, a
//     *redis.Client that asks the Sentinels for the master and follows
//     failovers) from cfg.FailoverOptions;
//   - redis+cluster://: a *redis.ClusterClient from cfg.ClusterOptions.
//
// It then, under ctx, sends one PING and opens four connections at once
// (each one PING), so the first decisions find their dials, TLS
// handshakes and AUTH done: if Redis does not answer, Open closes the
// client and returns an error naming the address (never the password), so
// a wrong REDIS_URL, a wrong CA or a down server fails at start-up rather
// than at the first update. Against a refused port that takes
// milliseconds; give ctx a deadline to bound it further.
//
// Unless WithoutChecks, it then verifies that the Redis user may run every
// command the store needs on keys under the prefix
// (redisstore.Store.CheckPermissions, which also loads the decision
// script): a refusal fails Open with a *redisstore.PermissionError naming
// every command refused, wrapping core.ErrMisconfigured. And it reads the
// server's maxmemory-policy (quietly skipped when neither CONFIG GET nor
// INFO is permitted): a policy that evicts keys is logged as a warning to
// the WithLogger logger, since evicted keys reset limits.
//
// The redisstore.Store is then wrapped by core.Resilient with cfg's Policy
// and Timeout, a memorystore.Store as the FailLocal fallback, the prefix
// as its Name, and the Observer and Logger of opts: a decision Redis cannot
// make in time is made by the policy instead of failing. Wrapping
// here, not in the Limiter, keeps whether a store is protected visible
// where it is opened.
//
// Close the result when done. To share a client with the rest of the bot,
// build the client yourself, pass it to redisstore.New and wrap that with
// core.Resilient.
func Open(ctx context.Context, cfg Config, opts ...Option) (*Opened, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var oc openConfig
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("store: %w: nil Option", ErrInvalidConfig)
		}
		opt(&oc)
	}
	cfg = cfg.withDefaults()
	if cfg.Backend == BackendMemory {
		m := memorystore.New()
		return &Opened{Store: m, Config: cfg, observer: oc.observer, close: m.Close}, nil
	}
	client, where, err := cfg.newRedisClient()
	if err != nil {
		return nil, err
	}
	if err := warm(ctx, client); err != nil {
		_ = client.Close()
		hint := ""
		switch {
		case topologyOf(cfg.RedisURL) == sentinel && errors.Is(err, redis.Nil):
			// go-redis says "all sentinels ... are unreachable: redis: nil".
			hint = " (a Sentinel answered that it monitors no master of that name)"
		case lonelyUser(cfg.RedisURL) && redis.HasErrorPrefix(err, "NOAUTH"):
			hint = " (the URL has a user name but no password: a password goes after a colon, redis://:PASSWORD@host)"
		case cfg.Timeout < readTimeout && errors.Is(err, os.ErrDeadlineExceeded):
			hint = fmt.Sprintf(" (a Redis far away needs a longer FLOODGATE_TIMEOUT: it raises the client's timeouts, now %v)",
				max(readTimeout, cfg.timeout()))
		}
		return nil, fmt.Errorf("store: %s did not answer PING: %w%s", where, err, hint)
	}
	rs := redisstore.New(client)
	if !oc.noChecks {
		if err := rs.CheckPermissions(ctx, cfg.Prefix); err != nil {
			_ = client.Close()
			return nil, fmt.Errorf("store: %s: %w", where, err)
		}
		logger := oc.logger
		if logger == nil {
			logger = slog.Default()
		}
		if policy, maxmemory, err := redisstore.MaxmemoryPolicy(ctx, client); err == nil {
			if p := redisstore.EvictionProblem(policy); p != "" {
				logger.Warn("floodgate: Redis may evict the limiter's keys: "+p, "where", where,
					"maxmemory_policy", policy, "maxmemory", maxmemory)
			}
		}
	}
	r := core.Resilience{Policy: cfg.Policy, Timeout: cfg.timeout(), Name: cfg.Prefix,
		Observer: oc.observer, Logger: oc.logger}
	closeAll := client.Close
	if cfg.Policy == core.FailLocal { // the only policy that decides with a fallback
		fallback := memorystore.New()
		r.Fallback = fallback
		closeAll = func() error { _ = fallback.Close(); return client.Close() }
	}
	st, err := core.Resilient(rs, r)
	if err != nil { // cfg was validated: not expected
		_ = closeAll()
		return nil, fmt.Errorf("store: %w", err)
	}
	return &Opened{Store: st, Config: cfg, client: client, observer: oc.observer, close: closeAll}, nil
}

// warm PINGs the server, then opens warmConns connections at once (one
// PING each), so the first decisions do not pay for dials, TLS handshakes
// and AUTH under their decision timeout. On a cluster it PINGs every
// master that way.
func warm(ctx context.Context, client redis.UniversalClient) error {
	if err := client.Ping(ctx).Err(); err != nil {
		return err
	}
	ping := func(ctx context.Context, c *redis.Client) error {
		// Each Conn holds its connection until Close, which puts it back
		// in the pool: so warmConns are open at once, not one reused.
		// One after another: go-redis' connection set-up raced when
		// several Conns of one client dialed at once (seen under -race
		// on a Cluster), and start-up can afford warmConns round trips.
		conns := make([]*redis.Conn, 0, warmConns)
		defer func() {
			for _, cn := range conns {
				_ = cn.Close()
			}
		}()
		for range warmConns {
			cn := c.Conn()
			conns = append(conns, cn)
			if err := cn.Ping(ctx).Err(); err != nil {
				return err
			}
		}
		return nil
	}
	switch c := client.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, ping)
	case *redis.Client:
		return ping(ctx, c)
	}
	return nil
}

// lonelyUser reports whether raw has a user name and no password:
// redis://SECRET@host, a password without its colon.
func lonelyUser(raw string) bool {
	if topologyOf(raw) != standalone {
		_, info, has, _, _, err := splitMultiURL(raw)
		return err == nil && has && !strings.Contains(info, ":")
	}
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return false
	}
	_, has := u.User.Password()
	return !has
}

// newRedisClient builds the client for c's RedisURL (defaults filled in)
// and says where it connects, password masked, for errors.
func (c Config) newRedisClient() (redis.UniversalClient, string, error) {
	switch topologyOf(c.RedisURL) {
	case sentinel:
		opt, err := c.FailoverOptions()
		if err != nil {
			return nil, "", err
		}
		m, err := parseMultiURL(c.RedisURL)
		if err != nil { // FailoverOptions parsed it already
			return nil, "", configErr("RedisURL", "%v", err)
		}
		return redis.NewFailoverClient(opt), "redis via sentinel at " + m.String(), nil
	case cluster:
		opt, err := c.ClusterOptions()
		if err != nil {
			return nil, "", err
		}
		m, err := parseMultiURL(c.RedisURL)
		if err != nil { // ClusterOptions parsed it already
			return nil, "", configErr("RedisURL", "%v", err)
		}
		return redis.NewClusterClient(opt), "redis cluster at " + m.String(), nil
	}
	opt, err := c.RedisOptions()
	if err != nil {
		return nil, "", err
	}
	return redis.NewClient(opt), fmt.Sprintf("redis at %s db %d", maskedAddr(opt), opt.DB), nil
}

// NewLimiter returns a core.Limiter over o.Store that enforces
// o.Config.Limit under o.Config.Prefix, observed by Open's WithObserver.
// opts come after those, so core.WithPrefix in opts overrides the prefix.
// For another limit, call Rule on the result.
func (o *Opened) NewLimiter(opts ...core.Option) (*core.Limiter, error) {
	all := append([]core.Option{core.WithPrefix(o.Config.prefix())}, opts...)
	if o.observer != nil {
		all = append([]core.Option{core.WithObserver(o.observer)}, all...)
	}
	return core.New(o.Store, o.Config.limit(), all...)
}

// RedisClient returns the client Open built for the Redis store, e.g. for a
// health check, or nil for the memory store: a *redis.Client for one server
// or for Sentinel (a failover client), a *redis.ClusterClient for a
// cluster. It belongs to o: do not Close it yourself.
func (o *Opened) RedisClient() redis.UniversalClient { return o.client }

// Close releases what Open acquired: it closes the Redis client, or stops
// the memory store's janitor. The store must not be used afterwards (Redis
// calls then fail; the memory store keeps deciding but no longer evicts
// idle keys). Close is idempotent: later calls return the first result.
func (o *Opened) Close() error {
	o.closeOnce.Do(func() {
		if o.close == nil { // not from Open
			return
		}
		if err := o.close(); err != nil {
			o.closeErr = fmt.Errorf("store: close: %w", err)
		}
	})
	return o.closeErr
}
