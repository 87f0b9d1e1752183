package redisstore

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/core/decide"
	"github.com/redis/go-redis/v9"
)

// State is what one key holds, read in the store's own format.
type State struct {
	// Key is the key read, as given to Inspect.
	Key string
	// Exists is false when there is no such key (Result is then a fresh
	// key's).
	Exists bool
	// Foreign reports that the value is not a valid state for the limit's
	// algorithm (another type, a corrupt or out-of-range value): the
	// decisions read it as absent, and the next write heals it.
	Foreign bool
	// TAT is a GCRA key's theoretical arrival time (zero when absent or
	// foreign).
	TAT time.Time
	// Times are a SlidingWindow key's admission times, oldest first (nil
	// when absent or foreign): the Rate newest entries, those that have
	// left the window but are not trimmed yet included.
	Times []time.Time
	// TTL is the key's time to live; -1 when it has none; 0 when absent.
	TTL time.Duration
	// Now is the server's clock when read (TIME; on a Cluster, the clock
	// of the key's master), or the WithClock time.
	Now time.Time
	// Result is what Peek(key, limit) answers now.
	Result core.Result
}

// Inspect reads keys (any number, any slots; a Cluster routes each) under
// limit without writing anything, in as few round trips as it can (one
// pipeline per node), and returns one State per key in order. It is for
// ops tools; bots never need it.
//
// It reads a key as the scripts do, with the same healing rules: a value
// that cannot be the limit's state is reported as Foreign and decided as a
// fresh key. The reads of one key are not atomic (a key may expire or
// change between its value and its TTL); that is what an ops tool can
// afford. The store's Redis user needs GET, LRANGE, PTTL and TIME. Errors
// are those of the store's other methods (see the package doc, Errors);
// an invalid limit is an error wrapping core.ErrInvalidLimit. With no
// keys, Inspect returns nil and does no I/O.
func (s *Store) Inspect(ctx context.Context, limit core.Limit, keys ...string) ([]State, error) {
	if err := limit.Validate(); err != nil {
		return nil, storeErr(ctx, "inspect", err)
	}
	if len(keys) == 0 {
		return nil, nil
	}
	states := make([]State, len(keys))
	for i, k := range keys {
		states[i].Key = k
	}
	// One group of key indexes per node.
	type group struct {
		client redis.Cmdable
		idx    []int
	}
	var groups []*group
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		byNode := map[*redis.Client]*group{}
		for i, k := range keys {
			node, err := cc.MasterForKey(ctx, k)
			if err != nil {
				return nil, storeErr(ctx, "inspect", err)
			}
			g := byNode[node]
			if g == nil {
				g = &group{client: node}
				byNode[node] = g
				groups = append(groups, g)
			}
			g.idx = append(g.idx, i)
		}
	} else {
		groups = []*group{{client: s.client, idx: make([]int, len(keys))}}
		for i := range keys {
			groups[0].idx[i] = i
		}
	}
	errs := make([]error, len(groups))
	var wg sync.WaitGroup
	for gi, g := range groups {
		wg.Go(func() { errs[gi] = s.inspect(ctx, g.client, limit, states, g.idx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, storeErr(ctx, "inspect", err)
	}
	return states, nil
}

// inspect fills states[i] for each i in idx with one pipeline on c: TIME
// (unless WithClock), then each key's value (GET, or LRANGE of the Rate
// newest entries) and PTTL.
func (s *Store) inspect(ctx context.Context, c redis.Cmdable, l core.Limit, states []State, idx []int) error {
	pipe := c.Pipeline()
	var clock *redis.TimeCmd
	if s.now == nil {
		clock = pipe.Time(ctx)
	}
	window := l.Algorithm == core.SlidingWindow
	values := make([]redis.Cmder, len(idx))
	ttls := make([]*redis.DurationCmd, len(idx))
	for j, i := range idx {
		if window {
			values[j] = pipe.LRange(ctx, states[i].Key, 0, int64(l.Rate-1))
		} else {
			values[j] = pipe.Get(ctx, states[i].Key)
		}
		ttls[j] = pipe.PTTL(ctx, states[i].Key)
	}
	_, _ = pipe.Exec(ctx) // every command carries its own error
	var now time.Time
	if clock != nil {
		var err error
		if now, err = clock.Result(); err != nil {
			return err
		}
	} else {
		now = s.now()
	}
	nowUS := now.UnixMicro()
	for j, i := range idx {
		st := &states[i]
		st.Now = now
		var err error
		if window {
			err = readTimes(st, values[j].(*redis.StringSliceCmd), l, nowUS)
		} else {
			err = readTAT(st, values[j].(*redis.StringCmd), l, nowUS)
		}
		if err != nil {
			return err
		}
		ttl, err := ttls[j].Result()
		switch {
		case err != nil:
			return err
		case !st.Exists || ttl == -2: // absent, or expired since its value was read
			st.TTL = 0
		default:
			st.TTL = ttl // -1 (no TTL) included
		}
	}
	return nil
}

// readTAT reads a GCRA key's GET reply into st, as gcra.lua reads it.
func readTAT(st *State, get *redis.StringCmd, l core.Limit, now int64) error {
	v, err := get.Result()
	var tat int64 // 0: absent
	switch {
	case errors.Is(err, redis.Nil):
	case redis.HasErrorPrefix(err, "WRONGTYPE"):
		st.Exists, st.Foreign = true, true
	case err != nil:
		return err
	default:
		st.Exists = true
		t, ok := parseMicros(v)
		if ok && decide.ValidTAT(t, now) {
			tat, st.TAT = t, time.UnixMicro(t)
		} else {
			st.Foreign = true
		}
	}
	st.Result, _ = decide.GCRA(l, tat, now, 1)
	return nil
}

// readTimes reads a SlidingWindow key's LRANGE reply (newest first) into
// st, as window.lua reads it.
func readTimes(st *State, lrange *redis.StringSliceCmd, l core.Limit, now int64) error {
	v, err := lrange.Result()
	var times []int64 // oldest first; nil: absent
	switch {
	case redis.HasErrorPrefix(err, "WRONGTYPE"):
		st.Exists, st.Foreign = true, true
	case err != nil:
		return err
	case len(v) > 0: // an empty list does not exist in Redis
		st.Exists = true
		times = make([]int64, len(v))
		for j, e := range v {
			t, ok := parseMicros(e)
			if !ok {
				times, st.Foreign = nil, true
				break
			}
			times[len(v)-1-j] = t
		}
		if times != nil && !decide.ValidTimes(times, now) {
			times, st.Foreign = nil, true
		}
	}
	if times != nil {
		st.Times = make([]time.Time, len(times))
		for j, t := range times {
			st.Times[j] = time.UnixMicro(t)
		}
	}
	st.Result, _ = decide.Window(l, slices.Clone(times), now, 1)
	return nil
}

// parseMicros reads a stored time (µs) as the scripts do: an optional '-'
// and decimal digits (Lua's "^%-?%d+$"), strictly between -2^53 and 2^53,
// where Lua's doubles are exact. ok is false for anything else.
func parseMicros(s string) (v int64, ok bool) {
	digits := s
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if digits == "" {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= -1<<53 || v >= 1<<53 {
		return 0, false
	}
	return v, true
}
