package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/redis/go-redis/v9"
)

// scanCount is the COUNT hint of each SCAN, and the most keys whose TATs
// one pipeline reads.
const scanCount = 1000

// limitedKey is one key top found limited.
type limitedKey struct {
	key                    string
	retryAfter, resetAfter time.Duration
}

// topResult is what top gathers over every node.
type topResult struct {
	mu         sync.Mutex // ForEachMaster runs the nodes concurrently
	limited    map[string]limitedKey
	scanned    int // keys SCAN returned (a key may come twice during a rehash)
	unreadable int // keys matching the pattern whose value is not a TAT
	nodes      int
}

// top lists the keys of the rule that would deny a message now, longest
// wait first. It walks every node's keyspace with SCAN (never KEYS) and
// reads the TATs with pipelined GETs, each pipeline led by the node's TIME,
// and decides each key under the configured limit with core.Decide on that
// clock: the arithmetic of the decision script, writing nothing.
func (c *cli) top(ctx context.Context, n int) error {
	match := globEscape(c.lim.Prefix()) + ":{*}:" + globEscape(c.lim.RuleName())
	l := c.lim.Limit()
	r := &topResult{limited: map[string]limitedKey{}}
	err := forEachNode(ctx, c.client, func(ctx context.Context, node *redis.Client) error {
		return r.scanNode(ctx, node, match, l)
	})
	if err != nil {
		return err
	}

	keys := make([]limitedKey, 0, len(r.limited))
	for _, k := range r.limited {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].retryAfter != keys[j].retryAfter {
			return keys[i].retryAfter > keys[j].retryAfter
		}
		return keys[i].key < keys[j].key
	})
	if len(keys) > 0 {
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "RETRY AFTER\tRESET AFTER\tSCOPE\tKEY")
		for _, k := range keys[:min(n, len(keys))] {
			fmt.Fprintf(tw, "%v\t%v\t%s\t%s\n", k.retryAfter.Round(time.Millisecond), k.resetAfter.Round(time.Millisecond),
				scopeOf(k.key, c.lim.Prefix(), c.lim.RuleName()), k.key)
		}
		_ = tw.Flush()
	} else {
		fmt.Fprintln(c.stdout, "no key is limited right now")
	}
	nodes := "1 node"
	if r.nodes != 1 {
		nodes = fmt.Sprintf("%d masters", r.nodes)
	}
	shown := ""
	if len(keys) > n {
		shown = fmt.Sprintf(", showing the first %d", n)
	}
	fmt.Fprintf(c.stdout, "%d limited under %v of %d keys scanned (SCAN MATCH %s COUNT %d on %s)%s\n",
		len(keys), l, r.scanned, match, scanCount, nodes, shown)
	if r.unreadable > 0 {
		fmt.Fprintf(c.stdout, "%d keys matching the pattern hold no TAT (not floodgate keys?)\n", r.unreadable)
	}
	return nil
}

// scanNode walks one node's keys matching match and records the limited
// ones.
func (r *topResult) scanNode(ctx context.Context, node *redis.Client, match string, l core.Limit) error {
	r.mu.Lock()
	r.nodes++
	r.mu.Unlock()
	batch := make([]string, 0, 2*scanCount)
	var cursor uint64
	for {
		keys, next, err := node.Scan(ctx, cursor, match, scanCount).Result()
		if err != nil {
			return fmt.Errorf("SCAN on %s: %w", node.Options().Addr, err)
		}
		batch = append(batch, keys...)
		if cursor = next; cursor == 0 || len(batch) >= scanCount {
			if err := r.decide(ctx, node, batch, l); err != nil {
				return err
			}
			batch = batch[:0]
		}
		if cursor == 0 {
			return nil
		}
	}
}

// decide reads the TATs of keys, with the node's TIME, in one pipeline and
// records the keys a message would be denied on now.
func (r *topResult) decide(ctx context.Context, node *redis.Client, keys []string, l core.Limit) error {
	if len(keys) == 0 {
		return nil
	}
	pipe := node.Pipeline()
	tm := pipe.Time(ctx)
	gets := make([]*redis.StringCmd, len(keys))
	for i, k := range keys {
		gets[i] = pipe.Get(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("GET on %s: %w", node.Options().Addr, err)
	}
	if err := tm.Err(); err != nil {
		return fmt.Errorf("TIME on %s: %w", node.Options().Addr, err)
	}
	now := tm.Val().UnixMicro()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.scanned += len(keys)
	for i, g := range gets {
		v, err := g.Result()
		if errors.Is(err, redis.Nil) {
			continue // expired since SCAN returned it: fully replenished
		}
		if err != nil {
			return fmt.Errorf("GET %s: %w", keys[i], err)
		}
		tat, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			r.unreadable++
			continue
		}
		if res, _ := core.Decide(l, tat, now, 1); !res.Allowed {
			r.limited[keys[i]] = limitedKey{key: keys[i], retryAfter: res.RetryAfter, resetAfter: res.ResetAfter}
		}
	}
	return nil
}
