package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/redis/go-redis/v9"
)

// scanCount is the COUNT hint of each SCAN, and about the most keys one
// Inspect reads.
const scanCount = 1000

// limitedKey is one key top found limited.
type limitedKey struct {
	key                    string
	retryAfter, resetAfter time.Duration // on the clock of the key's Inspect
	// retryAt is when the key admits again on the server's clock: the
	// order of the list. Keys read at different times have RetryAfters
	// that do not compare.
	retryAt time.Time
}

// topResult is what top gathers over every node.
type topResult struct {
	mu      sync.Mutex // ForEachMaster runs the nodes concurrently
	limited map[string]limitedKey
	foreign map[string]bool // keys holding no valid state for the limit
	scanned int             // keys SCAN returned (a key may come twice during a rehash)
	nodes   int
}

// top lists the keys of the rule that would deny a message now, longest
// wait first. It walks every node's keyspace with SCAN (never KEYS) for the
// keys the limiter names, and reads them in batches with redisstore
// Inspect: the decision Peek would make, on the server's clock, writing
// nothing. Foreign keys (no valid state for the limit) are skipped and
// named.
func (c *cli) top(ctx context.Context, n int, kind string) error {
	shape := shapeOf(c.lim)
	match := shape.match()
	if kind != "" {
		match = shape.matchScope(scopeKinds[kind])
	}
	l := c.lim.Limit()
	r := &topResult{limited: map[string]limitedKey{}, foreign: map[string]bool{}}
	err := forEachNode(ctx, c.client, func(ctx context.Context, node *redis.Client) error {
		return c.scanNode(ctx, r, node, match)
	})
	if err != nil {
		return err
	}

	keys := make([]limitedKey, 0, len(r.limited))
	for _, k := range r.limited {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if !keys[i].retryAt.Equal(keys[j].retryAt) {
			return keys[i].retryAt.After(keys[j].retryAt)
		}
		return keys[i].key < keys[j].key
	})
	if len(keys) > 0 {
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "RETRY AFTER\tRESET AFTER\tSCOPE\tKEY")
		for _, k := range keys[:min(n, len(keys))] {
			fmt.Fprintf(tw, "%v\t%v\t%s\t%s\n", k.retryAfter.Round(time.Millisecond), k.resetAfter.Round(time.Millisecond),
				shape.scopeOf(k.key), quote(k.key))
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
		len(keys), l, r.scanned, quote(match), scanCount, nodes, shown)
	r.printForeign(c.stdout, l, n)
	if r.scanned == 0 {
		return c.hintOtherAlgorithm()
	}
	return nil
}

// hintOtherAlgorithm says, when no key matched, which keys the other
// algorithm's limit would scan: the limit given may not be the bots'.
func (c *cli) hintOtherAlgorithm() error {
	ol, ok := otherAlgorithm(c.lim.Limit())
	if !ok {
		return nil
	}
	other, err := c.limiter(c.rs, ol)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "note: under %q (FLOODGATE_LIMIT or -limit) the keys would match %s\n",
		ol.String(), quote(shapeOf(other).match()))
	return nil
}

// printForeign names the foreign keys (at most n, sorted).
func (r *topResult) printForeign(w io.Writer, l core.Limit, n int) {
	if len(r.foreign) == 0 {
		return
	}
	keys := make([]string, 0, len(r.foreign))
	for k := range r.foreign {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	what := fmt.Sprintf("%d keys", len(keys))
	if len(keys) == 1 {
		what = "1 key"
	}
	fmt.Fprintf(w, "%s skipped: %s\n", what, foreign(l))
	for _, k := range keys[:min(n, len(keys))] {
		fmt.Fprintf(w, "skipped %s\n", quote(k))
	}
	if len(keys) > n {
		fmt.Fprintf(w, "… and %d more keys skipped\n", len(keys)-n)
	}
}

// scanNode walks one node's keys matching match and records the limited
// and the foreign ones.
func (c *cli) scanNode(ctx context.Context, r *topResult, node *redis.Client, match string) error {
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
			if err := c.inspect(ctx, r, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
		if cursor == 0 {
			return nil
		}
	}
}

// inspect reads keys with Inspect and records those a message would be
// denied on now, and the foreign ones.
func (c *cli) inspect(ctx context.Context, r *topResult, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	states, err := c.rs.Inspect(ctx, c.lim.Limit(), keys...)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.scanned += len(keys)
	for _, st := range states {
		switch {
		case !st.Exists: // expired since SCAN returned it
		case st.Foreign:
			r.foreign[st.Key] = true
		case !st.Result.Allowed:
			r.limited[st.Key] = limitedKey{key: st.Key, retryAfter: st.Result.RetryAfter,
				resetAfter: st.Result.ResetAfter, retryAt: st.Now.Add(st.Result.RetryAfter)}
		}
	}
	return nil
}
