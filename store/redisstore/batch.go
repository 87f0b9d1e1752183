package redisstore

// Group commit for script runs: concurrent decisions share one pipeline,
// one network round trip, instead of paying one round trip each.
//
// A caller that finds fewer than maxInFlight round trips in flight runs
// its script at once, on its own goroutine and context, as a plain
// EVALSHA: a lone caller waits for nothing and allocates no pipeline.
// Otherwise it queues its request and waits for its result or for its own
// context to end, whichever comes first. A round trip that ends and finds
// requests queued hands them, at most maxBatch at a time, to a flight: a
// goroutine that sends them as one pipeline, delivers each result to its
// caller, and keeps going while the queue is non-empty. A flight is nobody's
// caller, so no caller waits longer than its own decision, and a caller whose
// context ends leaves at once; the flight runs its script anyway (it may
// already be on the wire) and recycles the request.
//
// The batcher knows nothing of GCRA: a script is a newScript, a run is
// built by request (script, reply constructor, keys), given its ARGV with
// arg, and handed to run. A second script (say, a sliding-window decision
// over several keys of one hash tag) is used the same way:
//
//	r := s.batch.request(window, newIntSliceCmd, key1, key2)
//	r.arg(windowMicros, limit, cost)
//	cmd, err := s.batch.run(ctx, r) // err: ctx ended; cmd.Err(): the script's

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// defaultMaxInFlight is how many round trips (direct runs and
	// pipelines) may be in flight at once before callers queue. Measured
	// on a 2-vCPU machine with 64 callers (BenchmarkMaxInFlight): 1 leaves
	// the server idle while a batch is decoded and delivered; 2 and 3 are
	// equal within noise; 4 and 8 are slower (batches get smaller).
	defaultMaxInFlight = 2
	// defaultMaxBatch caps one pipeline, so one flight never holds a
	// connection for long and the reply buffer stays small.
	defaultMaxBatch = 128
)

// script is a Lua script as the batcher runs it: the go-redis Script and
// its digest and source boxed once, so building a command boxes nothing.
type script struct {
	*redis.Script
	sha, src any
	// multi: the script takes any number of keys with multiStride
	// arguments each and, for several keys, replies with an array of
	// per-key replies (gcra.lua), so a flight may run many requests of it
	// as one script run.
	multi bool
}

// multiStride is how many arguments each key of a multi script takes.
const multiStride = 5

// newScript returns src ready for the batcher.
func newScript(src string) *script {
	s := redis.NewScript(src)
	return &script{Script: s, sha: s.Hash(), src: src}
}

// newMultiScript is newScript for a multi script.
func newMultiScript(src string) *script {
	s := newScript(src)
	s.multi = true
	return s
}

// cmdFunc builds the go-redis command that reads a script's reply, e.g.
// redis.NewIntSliceCmd for a script that returns an array of integers.
type cmdFunc func(ctx context.Context, args ...any) redis.Cmder

// numKeys holds the boxed numkeys argument of EVALSHA for up to 8 keys
// (constant strings box without allocating; go-redis routes by it).
var numKeys = [...]any{"0", "1", "2", "3", "4", "5", "6", "7", "8"}

// request is one script run: the command's arguments, the command once
// built, and the channel its result is announced on. Requests are pooled;
// one is owned by its caller until queued, then by the batcher until the
// caller has read its result or abandoned it.
type request struct {
	args   []any // "evalsha", sha, numkeys, keys..., argv...
	buf    [12]any
	sc     *script
	newCmd cmdFunc
	ctx    context.Context // the caller's, for its deadline; nil once done
	cmd    redis.Cmder
	queued bool // in batcher.queue; guarded by batcher.mu
	state  atomic.Uint32
	ready  chan struct{} // one send per delivered result
}

// Request states. A queued request is waiting; the flight that ran it
// moves it to delivered (and signals ready) unless its caller moved it to
// abandoned first, in which case the flight recycles it.
const (
	waiting uint32 = iota
	delivered
	abandoned
)

// arg appends script arguments (ARGV) to r, after its keys.
func (r *request) arg(v ...any) { r.args = append(r.args, v...) }

// batcher coalesces the script runs of concurrent callers into pipelines
// on one client. The zero value is not usable; see newBatcher.
type batcher struct {
	client      redis.UniversalClient
	coalesce    bool
	merge       atomic.Bool // a flight runs its multi-script requests as one script run
	maxInFlight int
	maxBatch    int

	mu       sync.Mutex
	inFlight int        // round trips in flight: direct runs and flights
	queue    []*request // waiting for a flight, oldest first
	free     []*flight  // idle flights, reused

	reqs sync.Pool

	// Counters, for tests and benchmarks.
	directRuns atomic.Int64 // scripts run alone, as one EVALSHA
	pipelines  atomic.Int64 // pipelines sent (NOSCRIPT retries included)
	batched    atomic.Int64 // scripts sent in pipelines
}

// newBatcher returns a batcher over client; with coalesce false every run
// is direct, one round trip per script; with merge (WithMergedScripts) a
// flight over a *redis.Client runs its GCRA requests as one script run.
func newBatcher(client redis.UniversalClient, coalesce, merge bool) *batcher {
	// A script's keys must share a hash slot in Redis Cluster; concurrent
	// decisions rarely do, so a ClusterClient never merges.
	_, single := client.(*redis.Client)
	b := &batcher{
		client:      client,
		coalesce:    coalesce,
		maxInFlight: defaultMaxInFlight,
		maxBatch:    defaultMaxBatch,
		reqs: sync.Pool{New: func() any {
			r := &request{ready: make(chan struct{}, 1)}
			r.args = r.buf[:0]
			return r
		}},
	}
	b.merge.Store(coalesce && merge && single)
	return b
}

// request returns a pooled request to run sc over keys; add ARGV with
// r.arg, then hand it to run. keys must be at most a few (numKeys).
func (b *batcher) request(sc *script, newCmd cmdFunc, keys ...string) *request {
	r := b.reqs.Get().(*request)
	r.sc, r.newCmd = sc, newCmd
	var nk any
	if len(keys) < len(numKeys) {
		nk = numKeys[len(keys)]
	} else {
		nk = strconv.Itoa(len(keys))
	}
	r.args = append(r.args[:0], "evalsha", sc.sha, nk)
	for _, k := range keys {
		r.args = append(r.args, k)
	}
	return r
}

// put recycles r. Only the request's last owner calls it.
func (b *batcher) put(r *request) {
	clear(r.buf[:])    // drop references to keys and values
	r.args = r.buf[:0] // an argument list that outgrew buf is not kept
	r.sc, r.newCmd, r.ctx, r.cmd = nil, nil, nil, nil
	r.state.Store(waiting)
	b.reqs.Put(r)
}

// run runs r's script and returns its command, whose Err holds the
// script's own error (NOPERM, OOM, a network error). run consumes r: the
// caller must not touch it afterwards. The returned error is non-nil only
// when ctx ended before the result came; the script may still have run,
// or may run later, on the server.
func (b *batcher) run(ctx context.Context, r *request) (redis.Cmder, error) {
	if err := ctx.Err(); err != nil {
		b.put(r)
		return nil, err
	}
	if !b.coalesce {
		cmd := b.direct(ctx, r)
		b.put(r)
		return cmd, nil
	}
	b.mu.Lock()
	if b.inFlight < b.maxInFlight {
		// Nothing to wait for (the queue is empty whenever a round trip
		// is free): run alone, now, on the caller's own context.
		b.inFlight++
		b.mu.Unlock()
		cmd := b.direct(ctx, r)
		b.put(r)
		b.release()
		return cmd, nil
	}
	r.ctx, r.queued = ctx, true
	b.queue = append(b.queue, r)
	b.mu.Unlock()

	select {
	case <-r.ready:
		cmd := r.cmd
		b.put(r)
		return cmd, nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	if r.queued { // no flight has taken it: it never reaches Redis
		b.unqueue(r)
		b.mu.Unlock()
		b.put(r)
		return nil, ctx.Err()
	}
	b.mu.Unlock()
	if r.state.CompareAndSwap(waiting, abandoned) {
		return nil, ctx.Err() // its flight recycles r
	}
	<-r.ready // delivered as ctx ended: the result is here, use it
	cmd := r.cmd
	b.put(r)
	return cmd, nil
}

// unqueue removes r from the queue. b.mu is held.
func (b *batcher) unqueue(r *request) {
	for i, q := range b.queue {
		if q == r {
			n := copy(b.queue[i:], b.queue[i+1:])
			b.queue[i+n] = nil
			b.queue = b.queue[:i+n]
			break
		}
	}
	r.queued = false
}

// direct runs r alone: EVALSHA, then EVAL if the server lacks the script
// (NOSCRIPT runs nothing, so the event is counted once).
func (b *batcher) direct(ctx context.Context, r *request) redis.Cmder {
	b.directRuns.Add(1)
	cmd := r.newCmd(ctx, r.args...)
	_ = b.client.Process(ctx, cmd)
	if isNoScript(cmd.Err()) {
		r.args[0], r.args[1] = "eval", r.sc.src
		cmd = r.newCmd(ctx, r.args...)
		_ = b.client.Process(ctx, cmd)
	}
	return cmd
}

// release ends a round trip: if requests are queued, the round trip's
// slot passes to a flight that sends them; otherwise it is freed.
func (b *batcher) release() {
	b.mu.Lock()
	if len(b.queue) == 0 {
		b.inFlight--
		b.mu.Unlock()
		return
	}
	f := b.takeLocked()
	b.mu.Unlock()
	go b.fly(f)
}

// takeLocked moves up to maxBatch queued requests, oldest first, into an
// idle flight. b.mu is held and the queue is not empty.
func (b *batcher) takeLocked() *flight {
	var f *flight
	if n := len(b.free); n > 0 {
		f, b.free = b.free[n-1], b.free[:n-1]
	} else {
		f = &flight{pipe: b.client.Pipeline()}
	}
	n := min(len(b.queue), b.maxBatch)
	f.reqs = append(f.reqs[:0], b.queue[:n]...)
	for _, r := range f.reqs {
		r.queued = false
	}
	rest := copy(b.queue, b.queue[n:])
	clear(b.queue[rest:])
	b.queue = b.queue[:rest]
	return f
}

// flight is one pipeline's worth of requests and the reusable pipeline
// that sends them.
type flight struct {
	pipe   redis.Pipeliner
	reqs   []*request
	merged []*request // the requests of the one merged script run, if any
	margs  []any      // its arguments
}

// fly sends f's requests as one pipeline, delivers their results, and
// goes on with whatever has queued meanwhile; it ends, freeing its round
// trip, when the queue is empty.
func (b *batcher) fly(f *flight) {
	for {
		b.send(f)
		b.mu.Lock()
		if len(b.queue) == 0 {
			b.inFlight--
			b.free = append(b.free, f)
			b.mu.Unlock()
			return
		}
		b.free = append(b.free, f)
		f = b.takeLocked()
		b.mu.Unlock()
	}
}

// send runs f's requests in one pipeline and delivers every result. With
// merging on, the requests of a multi script (GCRA decisions) go as one
// script run over all their keys: Redis runs one script instead of many,
// which is most of its cost per decision.
//
// Replies that ran nothing are answered by another round: a NOSCRIPT is sent again as EVAL, once; a merged run refused before
// it ran because of one of its keys (CROSSSLOT: keys of different slots on
// a cluster-mode endpoint; NOPERM: a key the ACL user may not touch) is
// split into its requests, sent one by one, so that each gets its own
// reply and no request fails for another's key. After a CROSSSLOT the
// batcher merges no more.
func (b *batcher) send(f *flight) {
	ctx, cancel := flightContext(f.reqs)
	var mcmd *redis.SliceCmd
	sent := 0
	if b.merge.Load() {
		if mcmd = f.merge(ctx); mcmd != nil {
			_ = f.pipe.Process(ctx, mcmd)
			sent += len(f.merged)
		}
	}
	for _, r := range f.reqs {
		if mcmd != nil && r.sc.multi {
			continue // decided by mcmd
		}
		r.cmd = r.newCmd(ctx, r.args...)
		_ = f.pipe.Process(ctx, r.cmd)
		sent++
	}
	// Each round moves a reply that ran nothing one step on (EVALSHA to
	// EVAL, at most once per request and once for the merged run; the
	// merged run split, at most once), so this ends, after three rounds at
	// most.
	for sent > 0 {
		b.exec(ctx, f.pipe, sent)
		sent = 0
		for _, r := range f.reqs {
			if r.cmd != nil && isNoScript(r.cmd.Err()) && r.args[0] == "evalsha" {
				r.args[0], r.args[1] = "eval", r.sc.src
				r.cmd = r.newCmd(ctx, r.args...)
				_ = f.pipe.Process(ctx, r.cmd)
				sent++
			}
		}
		if mcmd == nil {
			continue
		}
		switch err := mcmd.Err(); {
		case isNoScript(err) && f.margs[0] == "evalsha":
			f.margs[0], f.margs[1] = "eval", f.merged[0].sc.src
			mcmd = redis.NewSliceCmd(ctx, f.margs...)
			_ = f.pipe.Process(ctx, mcmd)
			sent += len(f.merged)
		case redis.HasErrorPrefix(err, "CROSSSLOT"), redis.HasErrorPrefix(err, "NOPERM"):
			if redis.HasErrorPrefix(err, "CROSSSLOT") {
				b.merge.Store(false) // a cluster-mode endpoint behind a plain client
			}
			for _, r := range f.merged {
				r.args[0], r.args[1] = f.margs[0], f.margs[1] // as the run was sent
				r.cmd = r.newCmd(ctx, r.args...)
				_ = f.pipe.Process(ctx, r.cmd)
				sent++
			}
			mcmd = nil
		}
	}
	cancel()
	if mcmd != nil {
		f.split(ctx, mcmd)
	}
	for i, r := range f.reqs {
		f.reqs[i] = nil
		r.ctx = nil
		if r.state.CompareAndSwap(waiting, delivered) {
			r.ready <- struct{}{}
		} else { // its caller left
			b.put(r)
		}
	}
	clear(f.merged)
	clear(f.margs)
	f.reqs, f.merged, f.margs = f.reqs[:0], f.merged[:0], f.margs[:0]
}

// merge builds the one script run that decides f's multi-script requests
// (they all run gcra.lua: one script is multi), or returns nil when fewer
// than two would share it.
func (f *flight) merge(ctx context.Context) *redis.SliceCmd {
	for _, r := range f.reqs {
		if r.sc.multi {
			f.merged = append(f.merged, r)
		}
	}
	if len(f.merged) < 2 {
		f.merged = f.merged[:0]
		return nil
	}
	// A request's args: "evalsha", sha, "1", key, then multiStride values.
	f.margs = append(f.margs, "evalsha", f.merged[0].sc.sha, strconv.Itoa(len(f.merged)))
	for _, r := range f.merged {
		f.margs = append(f.margs, r.args[3])
	}
	for _, r := range f.merged {
		f.margs = append(f.margs, r.args[4:4+multiStride]...)
	}
	return redis.NewSliceCmd(ctx, f.margs...)
}

// split hands each merged request its own reply from the merged run's:
// its four integers, or its own error (a write refused under OOM), or the
// run's error (a transport error, a server that refused the whole run).
func (f *flight) split(ctx context.Context, mcmd *redis.SliceCmd) {
	replies, err := mcmd.Result()
	if err == nil && len(replies) != len(f.merged) {
		err = fmt.Errorf("merged script: %w: %d replies for %d decisions", errBadReply, len(replies), len(f.merged))
	}
	for i, r := range f.merged {
		cmd := redis.NewIntSliceCmd(ctx)
		r.cmd = cmd
		if err != nil {
			cmd.SetErr(err)
			continue
		}
		switch v := replies[i].(type) {
		case error:
			cmd.SetErr(v)
		case []any:
			ints := make([]int64, len(v))
			for j, x := range v {
				n, ok := x.(int64)
				if !ok {
					cmd.SetErr(fmt.Errorf("merged script: %w %v", errBadReply, v))
					break
				}
				ints[j] = n
			}
			if cmd.Err() == nil {
				cmd.SetVal(ints)
			}
		default:
			cmd.SetErr(fmt.Errorf("merged script: %w %v", errBadReply, v))
		}
	}
}

// exec sends the commands queued on pipe: one round trip per node.
func (b *batcher) exec(ctx context.Context, pipe redis.Pipeliner, n int) {
	b.pipelines.Add(1)
	b.batched.Add(int64(n))
	// Each command carries its own error; a transport error is set on
	// every one of them.
	_, _ = pipe.Exec(ctx)
}

// flightContext bounds a pipeline by the latest deadline among its
// callers, so that no caller's ending cancels the others' decisions and a
// hung server cannot hold the flight beyond what any caller waits for. If
// a caller has no deadline, neither has the pipeline: like that caller's
// own EVALSHA, it is bounded by the client's read and write timeouts.
func flightContext(reqs []*request) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, r := range reqs {
		d, ok := r.ctx.Deadline()
		if !ok {
			return context.Background(), func() {}
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(context.Background(), latest)
}

// isNoScript reports whether err is Redis' NOSCRIPT reply: the server
// lacks the script and ran nothing.
func isNoScript(err error) bool {
	return err != nil && redis.HasErrorPrefix(err, "NOSCRIPT")
}
