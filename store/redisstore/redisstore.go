package redisstore

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/redis/go-redis/v9"
)

//go:embed gcra.lua
var gcraSource string

// gcra is core.Decide in Lua. One EVALSHA per decision; go-redis' Script.Run
// falls back to EVAL (which loads the script) only on NOSCRIPT.
var gcra = redis.NewScript(gcraSource)

// Store is a core.Store over Redis, shared by every process that uses the
// same server (standalone, Sentinel or Cluster) and key prefix. It is safe
// for concurrent use and holds no state besides the client.
type Store struct {
	client redis.UniversalClient
	now    func() time.Time
}

var _ core.Store = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithClock makes every decision use now() instead of the Redis server's
// TIME. It exists for tests that freeze and move time; in production leave
// it unset, so that all instances of the bot share the server's one clock.
// Keys still expire by the server's real clock.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// New returns a Store over client, which the caller built and owns (New
// neither dials nor pings; Close the client yourself). Any
// redis.UniversalClient works: *redis.Client, *redis.ClusterClient, or a
// failover client for Sentinel. Build it with ContextTimeoutEnabled: true
// (and short dial/read/write timeouts, see the package example): without
// it go-redis ignores context deadlines on socket reads, and a hung server
// holds each decision for the client's ReadTimeout whatever the Limiter's
// timeout is.
func New(client redis.UniversalClient, opts ...Option) *Store {
	s := &Store{client: client}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// Take implements core.Store with one EVALSHA.
func (s *Store) Take(ctx context.Context, key string, l core.Limit, n int) (core.Result, error) {
	if l.Algorithm == core.SlidingWindow {
		return s.runWindow(ctx, []core.Lane{{Key: key, Limit: l}}, n, "1")
	}
	return s.run(ctx, key, l, n, "1")
}

// Peek implements core.Store with one EVALSHA that writes nothing.
func (s *Store) Peek(ctx context.Context, key string, l core.Limit) (core.Result, error) {
	if l.Algorithm == core.SlidingWindow {
		return s.runWindow(ctx, []core.Lane{{Key: key, Limit: l}}, 1, "0")
	}
	return s.run(ctx, key, l, 1, "0")
}

// Reset implements core.Store with one DEL.
func (s *Store) Reset(ctx context.Context, key string) error {
	if err := s.client.Del(ctx, key).Err(); err != nil {
		return fmt.Errorf("redisstore: reset: %w", err)
	}
	return nil
}

func (s *Store) run(ctx context.Context, key string, l core.Limit, n int, apply string) (core.Result, error) {
	// One allocation for the arguments, sized for the optional "now".
	args := make([]any, 4, 5)
	args[0], args[1], args[2], args[3] = l.Interval().Microseconds(), l.Burst, n, apply
	if s.now != nil {
		args = append(args, s.now().UnixMicro())
	}
	// Read the reply as it arrives ([]any of int64) rather than through
	// Int64Slice, which would copy it into one more slice.
	reply, err := gcra.Run(ctx, s.client, []string{key}, args...).Slice()
	if err != nil {
		return core.Result{}, fmt.Errorf("redisstore: eval: %w", err)
	}
	var v [4]int64
	if err := readInts(reply, v[:]); err != nil {
		return core.Result{}, err
	}
	return core.Result{
		Allowed:    v[0] == 1,
		Remaining:  int(v[1]),
		RetryAfter: time.Duration(v[2]) * time.Microsecond,
		ResetAfter: time.Duration(v[3]) * time.Microsecond,
		Limit:      l,
	}, nil
}

// ScriptSHA returns the SHA1 of the decision script, as EVALSHA and
// SCRIPT EXISTS know it.
func ScriptSHA() string { return gcra.Hash() }
