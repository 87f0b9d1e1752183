package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/redis/go-redis/v9"
)

// scanCount is the COUNT hint of each SCAN, and about the most keys one
// pipeline reads.
const scanCount = 1000

// limitedKey is one key top found limited.
type limitedKey struct {
	key                    string
	retryAfter, resetAfter time.Duration // from the TIME of the key's pipeline
	// retryAt is when the key admits again, in µs on its node's clock: the
	// order of the list. Keys read in different pipelines were decided at
	// different times, so their retryAfter alone does not compare.
	retryAt int64
}

// topResult is what top gathers over every node.
type topResult struct {
	mu         sync.Mutex // ForEachMaster runs the nodes concurrently
	limited    map[string]limitedKey
	wrongType  map[string]string // key → its Redis type, when not the one the limit keeps
	scanned    int               // keys SCAN returned (a key may come twice during a rehash)
	unreadable int               // keys of the right type whose value is not a TAT or a list of times
	nodes      int
}

// top lists the keys of the rule that would deny a message now, longest
// wait first. It walks every node's keyspace with SCAN (never KEYS) and
// reads the keys in pipelines, each led by the node's TIME: under GCRA the
// TATs with GET, decided with core.Decide; under a sliding window the
// newest Rate times with LRANGE, decided with core.DecideWindow. Both are
// the arithmetic of the decision scripts, on the node's clock, writing
// nothing. A key of the type the other algorithm keeps is skipped and
// named, with what that suggests (a limit that is not the bots').
func (c *cli) top(ctx context.Context, n int) error {
	match := globEscape(c.lim.Prefix()) + ":{*}:" + globEscape(c.lim.RuleName())
	l := c.lim.Limit()
	r := &topResult{limited: map[string]limitedKey{}, wrongType: map[string]string{}}
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
		if keys[i].retryAt != keys[j].retryAt {
			return keys[i].retryAt > keys[j].retryAt
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
		what := "no TAT"
		if l.Algorithm == core.SlidingWindow {
			what = "a list that is not of times"
		}
		fmt.Fprintf(c.stdout, "%d keys matching the pattern hold %s (not floodgate keys?)\n", r.unreadable, what)
	}
	r.printWrongType(c.stdout, l, n)
	return nil
}

// printWrongType names the keys (at most n, sorted) whose type is not the
// one l keeps, each with what its type suggests.
func (r *topResult) printWrongType(w io.Writer, l core.Limit, n int) {
	if len(r.wrongType) == 0 {
		return
	}
	keys := make([]string, 0, len(r.wrongType))
	for k := range r.wrongType {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	what := fmt.Sprintf("%d keys", len(keys))
	if len(keys) == 1 {
		what = "1 key"
	}
	fmt.Fprintf(w, "%s skipped: not of the type %v keeps (a %s)\n", what, l, expectedType(l))
	for _, k := range keys[:min(n, len(keys))] {
		fmt.Fprintf(w, "skipped %s: %s\n", k, wrongType(r.wrongType[k], l))
	}
	if len(keys) > n {
		fmt.Fprintf(w, "… and %d more keys skipped\n", len(keys)-n)
	}
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

// decide reads keys, with the node's TIME, in one pipeline and records the
// keys a message would be denied on now. A key of the wrong type fails only
// its own command (WRONGTYPE); one more pipeline asks those keys' TYPE.
func (r *topResult) decide(ctx context.Context, node *redis.Client, keys []string, l core.Limit) error {
	if len(keys) == 0 {
		return nil
	}
	window := l.Algorithm == core.SlidingWindow
	pipe := node.Pipeline()
	tm := pipe.Time(ctx)
	gets := make([]*redis.StringCmd, len(keys))
	lists := make([]*redis.StringSliceCmd, len(keys))
	for i, k := range keys {
		if window {
			lists[i] = pipe.LRange(ctx, k, 0, int64(l.Rate)-1)
		} else {
			gets[i] = pipe.Get(ctx, k)
		}
	}
	_, _ = pipe.Exec(ctx) // each reply is looked at below
	if err := tm.Err(); err != nil {
		return fmt.Errorf("TIME on %s: %w", node.Options().Addr, err)
	}
	now := tm.Val().UnixMicro()
	var (
		wrong    []string
		limited  []limitedKey
		unusable int
	)
	for i, k := range keys {
		var res core.Result
		if window {
			elems, err := lists[i].Result()
			switch {
			case isWrongType(err):
				wrong = append(wrong, k)
				continue
			case err != nil:
				return fmt.Errorf("LRANGE %s: %w", k, err)
			case len(elems) == 0:
				continue // expired since SCAN returned it: no events
			}
			times, err := parseTimes(oldestFirst(elems))
			if err != nil {
				unusable++
				continue
			}
			res, _ = core.DecideWindow(l, times, now, 1)
		} else {
			v, err := gets[i].Result()
			switch {
			case errors.Is(err, redis.Nil):
				continue // expired since SCAN returned it: fully replenished
			case isWrongType(err):
				wrong = append(wrong, k)
				continue
			case err != nil:
				return fmt.Errorf("GET %s: %w", k, err)
			}
			tat, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				unusable++
				continue
			}
			res, _ = core.Decide(l, tat, now, 1)
		}
		if !res.Allowed {
			limited = append(limited, limitedKey{key: k, retryAfter: res.RetryAfter, resetAfter: res.ResetAfter,
				retryAt: now + res.RetryAfter.Microseconds()})
		}
	}
	types, err := keyTypes(ctx, node, wrong)
	if err != nil {
		return err
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	r.scanned += len(keys)
	r.unreadable += unusable
	for _, k := range limited {
		r.limited[k.key] = k
	}
	for i, k := range wrong {
		if types[i] != "none" && types[i] != expectedType(l) { // else it expired or changed meanwhile
			r.wrongType[k] = types[i]
		}
	}
	return nil
}

// keyTypes returns the TYPE of each key, in one pipeline.
func keyTypes(ctx context.Context, node *redis.Client, keys []string) ([]string, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	pipe := node.Pipeline()
	cmds := make([]*redis.StatusCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.Type(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("TYPE on %s: %w", node.Options().Addr, err)
	}
	types := make([]string, len(keys))
	for i, c := range cmds {
		types[i] = c.Val()
	}
	return types, nil
}
