package main

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/redis/go-redis/v9"
)

// limitedKey is one key top found limited.
type limitedKey struct {
	key        string
	retryAfter time.Duration
	remaining  int
}

// top lists the keys of the rule that would deny a message now, longest
// wait first. It walks every node's keyspace with SCAN (never KEYS), reads
// the TATs with pipelined GETs, and decides each under the configured limit
// with core.Decide on the node's own clock.
func (c *cli) top(ctx context.Context, n int) error {
	match := globEscape(c.lim.Prefix()) + ":{*}:" + globEscape(c.lim.RuleName())
	l := c.lim.Limit()
	var (
		mu      sync.Mutex
		limited []limitedKey
		scanned int
	)
	err := forEachNode(ctx, c.client, func(ctx context.Context, node *redis.Client) error {
		tm, err := node.Time(ctx).Result()
		if err != nil {
			return err
		}
		now := tm.UnixMicro()
		flush := func(keys []string) error {
			pipe := node.Pipeline()
			gets := make([]*redis.StringCmd, len(keys))
			for i, k := range keys {
				gets[i] = pipe.Get(ctx, k)
			}
			if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			scanned += len(keys)
			for i, g := range gets {
				tat, err := strconv.ParseInt(g.Val(), 10, 64)
				if err != nil {
					continue // expired meanwhile, or not a TAT
				}
				if res, _ := core.Decide(l, tat, now, 1); !res.Allowed {
					limited = append(limited, limitedKey{keys[i], res.RetryAfter, res.Remaining})
				}
			}
			return nil
		}
		var batch []string
		iter := node.Scan(ctx, 0, match, 1000).Iterator()
		for iter.Next(ctx) {
			if batch = append(batch, iter.Val()); len(batch) == 1000 {
				if err := flush(batch); err != nil {
					return err
				}
				batch = batch[:0]
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
		return flush(batch)
	})
	if err != nil {
		return err
	}
	sort.Slice(limited, func(i, j int) bool {
		if limited[i].retryAfter != limited[j].retryAfter {
			return limited[i].retryAfter > limited[j].retryAfter
		}
		return limited[i].key < limited[j].key
	})
	fmt.Fprintf(c.stdout, "%-14s %-28s %s\n", "RETRY AFTER", "SCOPE", "KEY")
	for i, k := range limited {
		if i == n {
			break
		}
		fmt.Fprintf(c.stdout, "%-14v %-28s %s\n", k.retryAfter.Round(time.Millisecond),
			scopeOf(k.key, c.lim.Prefix(), c.lim.RuleName()), k.key)
	}
	fmt.Fprintf(c.stdout, "%d keys scanned matching %s under %v; %d limited now (SCAN, never KEYS)\n",
		scanned, match, l, len(limited))
	return nil
}
