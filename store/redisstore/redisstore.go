package redisstore

import (
	"context"
	_ "embed"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/redis/go-redis/v9"
)

//go:embed gcra.lua
var gcraSource string

// gcra is decide.GCRA in Lua, over one key or, merged by the batcher
// (WithMergedScripts), the keys of many concurrent decisions; EVAL (which
// loads the script) only on NOSCRIPT.
var gcra = newMultiScript(gcraSource)

// Store is a core.Store over Redis, shared by every process that uses the
// same server (standalone, Sentinel or Cluster) and key prefix. It is safe
// for concurrent use. Besides the client it holds only the queue of
// decisions waiting to share a pipeline, and a cache of formatted limits.
type Store struct {
	client     redis.UniversalClient
	now        func() time.Time
	noCoalesce bool
	merge      bool
	batch      *batcher
	limits     limitCache
}

var _ core.Store = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithClock makes every decision use now() instead of the Redis server's
// TIME. It exists for tests that freeze and move time; in production leave
// it unset, so that all instances of the bot share the server's one clock.
// Keys still expire by the server's real clock.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithoutCoalescing makes every decision its own round trip (one EVALSHA),
// however many run at once. By default, decisions made concurrently on one
// Store share pipelines: up to 128 scripts in one round trip, several
// times the throughput under load, the same latency for a lone caller.
// Turn it off to compare, or if something between the client and Redis
// (a proxy, a hook) must see each decision as a command of its own.
func WithoutCoalescing() Option { return func(s *Store) { s.noCoalesce = true } }

// WithMergedScripts lets a pipeline of coalesced GCRA decisions run as ONE
// script run over all their keys (see the package doc, Coalescing), which
// spares Redis a script invocation and a TIME call per decision: about 20%
// more decisions per second at 64 callers (docs/performance.md). Use it only
// when the client talks to one Redis server directly (standalone, or the
// Sentinel-managed primary): behind a proxy that routes a script by its
// first key (Envoy, twemproxy) the other keys would be read and written on
// the wrong shard. A ClusterClient never merges; a plain client to a
// cluster-mode endpoint gets CROSSSLOT, sends the decisions one by one, and
// merges no more.
func WithMergedScripts() Option { return func(s *Store) { s.merge = true } }

// New returns a Store over client, which the caller built and owns (New
// neither dials nor pings; Close the client yourself). Any
// redis.UniversalClient works: *redis.Client, *redis.ClusterClient, or a
// failover client for Sentinel.
func New(client redis.UniversalClient, opts ...Option) *Store {
	s := &Store{client: client}
	for _, opt := range opts {
		opt(s)
	}
	s.batch = newBatcher(client, !s.noCoalesce, s.merge)
	return s
}

// Take implements core.Store with one EVALSHA, sent alone or in a pipeline
// with concurrent decisions (see the package doc, Coalescing). A value the
// script cannot read is healed, not an error (see the package doc,
// Healing); errors have kinds (see the package doc, Errors). If ctx ends
// first, Take returns at once with an error wrapping ctx.Err(), and the
// decision may still have been applied.
func (s *Store) Take(ctx context.Context, key string, l core.Limit, n int) (core.Result, error) {
	if l.Algorithm == core.SlidingWindow {
		return s.runWindow(ctx, []core.Lane{{Key: key, Limit: l}}, n, applyTake)
	}
	return s.run(ctx, key, l, n, applyTake)
}

// Peek implements core.Store with one EVALSHA that writes nothing, sent
// like Take's. It reads a value the script cannot read as absent (a fresh
// key) and leaves it for the next Take to heal.
func (s *Store) Peek(ctx context.Context, key string, l core.Limit) (core.Result, error) {
	if l.Algorithm == core.SlidingWindow {
		return s.runWindow(ctx, []core.Lane{{Key: key, Limit: l}}, 1, applyPeek)
	}
	return s.run(ctx, key, l, 1, applyPeek)
}

// Reset implements core.Store with one DEL.
func (s *Store) Reset(ctx context.Context, key string) error {
	if err := s.client.Del(ctx, key).Err(); err != nil {
		return storeErr(ctx, "reset", err)
	}
	return nil
}

// The script's ARGV[4], boxed once: "1" records an admitted decision, "0"
// only looks.
var applyTake, applyPeek any = "1", "0"

// serverTime is the "now" argument that tells a script to read Redis' TIME.
var serverTime any = ""

// nowArg is the "now" argument of every script: serverTime, or the
// WithClock time in µs.
func (s *Store) nowArg() any {
	if s.now == nil {
		return serverTime
	}
	return s.now().UnixMicro()
}

func (s *Store) run(ctx context.Context, key string, l core.Limit, n int, apply any) (core.Result, error) {
	la := s.limits.get(l)
	r := s.batch.request(gcra, newIntSliceCmd, key)
	r.arg(la.interval, la.burst, n, apply, s.nowArg())
	v, err := s.eval(ctx, r, 4)
	if err != nil {
		return core.Result{}, err
	}
	return decision(v, l), nil
}

// eval runs a decision script's request r and returns its reply of want
// integers.
func (s *Store) eval(ctx context.Context, r *request, want int) ([]int64, error) {
	c, err := s.batch.run(ctx, r)
	if err != nil {
		return nil, storeErr(ctx, "eval", err)
	}
	v, err := c.(*redis.IntSliceCmd).Result()
	if err != nil {
		return nil, storeErr(ctx, "eval", err)
	}
	if len(v) != want {
		return nil, storeErr(ctx, "eval", fmt.Errorf("%w %v", errBadReply, v))
	}
	return v, nil
}

// decision reads a decision script's reply {allowed, remaining,
// retry_after µs, reset_after µs, ...} as made under l.
func decision(v []int64, l core.Limit) core.Result {
	return core.Result{
		Allowed:    v[0] == 1,
		Remaining:  int(v[1]),
		RetryAfter: time.Duration(v[2]) * time.Microsecond,
		ResetAfter: time.Duration(v[3]) * time.Microsecond,
		Limit:      l,
	}
}

// newIntSliceCmd reads a script's reply as an array of integers, straight
// into one []int64 (a *redis.Cmd would box every element).
func newIntSliceCmd(ctx context.Context, args ...any) redis.Cmder {
	return redis.NewIntSliceCmd(ctx, args...)
}

// limitArgs is a Limit's script arguments, boxed once: the emission
// interval in µs and the burst (an integer above 255 allocates when boxed).
type limitArgs struct {
	limit           core.Limit
	interval, burst any
}

// limitCache remembers the arguments of recently used limits, 64 slots
// indexed by a hash of the limit; a bot uses a handful of limits, so a
// lookup is one atomic load and a comparison, and a collision only costs
// formatting the arguments again.
type limitCache [64]atomic.Pointer[limitArgs]

// get returns l's arguments.
func (c *limitCache) get(l core.Limit) *limitArgs {
	h := uint64(l.Rate)*0x9e3779b97f4a7c15 ^ uint64(l.Period)*0xbf58476d1ce4e5b9 ^ uint64(l.Burst)*0x94d049bb133111eb
	slot := &c[(h>>32)%uint64(len(c))]
	if a := slot.Load(); a != nil && a.limit == l {
		return a
	}
	a := &limitArgs{limit: l, interval: l.Interval().Microseconds(), burst: l.Burst}
	slot.Store(a)
	return a
}

// ScriptSHA returns the SHA1 of the decision script, as EVALSHA and
// SCRIPT EXISTS know it.
func ScriptSHA() string { return gcra.Hash() }
