package redisstore

// Coalescing on real redis-servers (standalone and a 3-master cluster):
// concurrent decisions share pipelines and stay exact; a lone caller runs
// its EVALSHA alone; one decision's error or ended context touches no
// other decision of its pipeline; NOSCRIPT inside a pipeline is retried as
// EVAL and counted once. Round trips are counted by a go-redis hook on the
// test's client, i.e. by what go-redis actually sends.

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/redis/go-redis/v9"
)

// tripCounter is a go-redis hook that counts round trips: commands sent
// alone, and pipelines with the commands in them; only script runs
// (EVALSHA, EVAL) count. onPipeline, if set, sees every counted pipeline
// before it is sent.
type tripCounter struct {
	single, pipelines, pipelined, evalRetries atomic.Int64
	// decided counts the keys of every script run: the decisions sent,
	// whether each ran alone or several ran as one merged script.
	decided    atomic.Int64
	onPipeline func(cmds []redis.Cmder)
}

// scriptKeys returns the keys of an EVALSHA or EVAL command.
func scriptKeys(c redis.Cmder) []string {
	args := c.Args()
	if len(args) < 3 {
		return nil
	}
	n, _ := strconv.Atoi(fmt.Sprint(args[2]))
	keys := make([]string, 0, n)
	for _, k := range args[3:min(3+n, len(args))] {
		keys = append(keys, fmt.Sprint(k))
	}
	return keys
}

func (h *tripCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *tripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if name := cmd.Name(); name == "evalsha" || name == "eval" {
			h.single.Add(1)
			h.decided.Add(int64(len(scriptKeys(cmd))))
		}
		return next(ctx, cmd)
	}
}

func (h *tripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) == 0 || (cmds[0].Name() != "evalsha" && cmds[0].Name() != "eval") {
			return next(ctx, cmds) // go-redis' own, e.g. a new connection's handshake
		}
		h.pipelines.Add(1)
		h.pipelined.Add(int64(len(cmds)))
		for _, c := range cmds {
			h.decided.Add(int64(len(scriptKeys(c))))
		}
		if cmds[0].Name() == "eval" {
			h.evalRetries.Add(1)
		}
		if h.onPipeline != nil {
			h.onPipeline(cmds)
		}
		return next(ctx, cmds)
	}
}

// trips is how many round trips the counter saw (a cluster pipeline counts
// once, though it is one round trip per master it touches).
func (h *tripCounter) trips() int64 { return h.single.Load() + h.pipelines.Load() }

// countedClient returns a client of srv with a tripCounter hook, honouring
// context deadlines.
func countedClient(t *testing.T, srv *testutil.Redis) (*redis.Client, *tripCounter) {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = client.Close() })
	h := &tripCounter{}
	client.AddHook(h)
	return client, h
}

// flood runs goroutines × each Takes from as many goroutines, all started
// together, on keys[i%len(keys)] under l, and returns how many each key
// admitted. Any error fails the test.
func flood(t *testing.T, s *Store, keys []string, l core.Limit, goroutines, each int) map[string]int {
	t.Helper()
	var (
		mu       sync.Mutex
		admitted = map[string]int{}
		wg       sync.WaitGroup
		start    = make(chan struct{})
		errs     = make(chan error, goroutines)
	)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range each {
				key := keys[(g*each+i)%len(keys)]
				res, err := s.Take(context.Background(), key, l, 1)
				if err != nil {
					errs <- err
					return
				}
				if res.Allowed {
					mu.Lock()
					admitted[key]++
					mu.Unlock()
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return admitted
}

// checkExact fails unless every key admitted exactly min(takes, burst).
func checkExact(t *testing.T, admitted map[string]int, keys []string, takesPerKey, burst int) {
	t.Helper()
	want := min(takesPerKey, burst)
	for _, k := range keys {
		if admitted[k] != want {
			t.Errorf("%s admitted %d, want exactly %d (%d Takes, burst %d)", k, admitted[k], want, takesPerKey, burst)
		}
	}
}

// 64 goroutines deciding at once share pipelines: far fewer round trips
// than decisions, and every key still admits exactly its burst.
func TestCoalescingSharesRoundTrips(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client, trips := countedClient(t, srv)
	clock := testutil.NewClock()
	s := New(client, WithClock(clock.Now), WithMergedScripts())
	keys := make([]string, 16)
	for i := range keys {
		keys[i] = "floodgate:{u:" + strconv.Itoa(500+i) + "}:msg"
	}
	const goroutines, each = 64, 100
	l := core.Limit{Rate: 1, Period: time.Hour, Burst: 300} // 400 Takes per key: 300 admitted
	// Warm up (the script is loaded), then count from zero.
	if _, err := s.Take(context.Background(), "floodgate:{u:1}:warm", l, 1); err != nil {
		t.Fatal(err)
	}
	if err := client.ConfigResetStat(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	trips.single.Store(0)
	trips.decided.Store(0)
	s.batch.directRuns.Store(0)
	admitted := flood(t, s, keys, l, goroutines, each)
	checkExact(t, admitted, keys, goroutines*each/len(keys), l.Burst)

	decisions := int64(goroutines * each)
	if got := trips.decided.Load(); got != decisions {
		t.Errorf("go-redis sent %d decisions for %d, want each once", got, decisions)
	}
	scripts := trips.single.Load() + trips.pipelined.Load()
	t.Logf("%d decisions: %d alone, %d in %d pipelines of %d script runs; %d round trips",
		decisions, trips.single.Load(), decisions-trips.single.Load(), trips.pipelines.Load(),
		trips.pipelined.Load(), trips.trips())
	// Without coalescing every decision is a round trip. How many share one
	// depends on scheduling (a quarter or less on a quiet machine, about a
	// third with other race-enabled packages running alongside), so the bar
	// is half: far from what sending alone gives.
	if trips.trips() > decisions/2 {
		t.Errorf("%d round trips for %d concurrent decisions; coalescing should need at most half", trips.trips(), decisions)
	}
	if got := s.batch.directRuns.Load() + s.batch.batched.Load(); got != decisions {
		t.Errorf("batcher counted %d runs for %d decisions", got, decisions)
	}
	calls, err := testutil.CommandCalls(context.Background(), client)
	if err != nil {
		t.Fatal(err)
	}
	// One EVALSHA per script run (a merged run decides many), one SET per
	// admission: nothing ran twice.
	if calls["evalsha"] != scripts || calls["eval"] != 0 || calls["set"] != int64(len(keys)*l.Burst) {
		t.Errorf("commandstats evalsha=%d eval=%d set=%d, want %d, 0, %d",
			calls["evalsha"], calls["eval"], calls["set"], scripts, len(keys)*l.Burst)
	}
	if scripts >= decisions {
		t.Errorf("%d script runs for %d decisions: WithMergedScripts should merge a flight's decisions", scripts, decisions)
	}
}

// A lone caller runs its script at once as one EVALSHA: no pipeline, no
// wait. WithoutCoalescing does the same however many callers there are.
func TestLoneCallerRunsDirectly(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client, trips := countedClient(t, srv)
	s := New(client)
	l := core.Limit{Rate: 1000, Period: time.Hour, Burst: 1000}
	for i := range 50 {
		if _, err := s.Take(context.Background(), "floodgate:{u:1}:msg", l, 1); err != nil {
			t.Fatalf("Take %d: %v", i, err)
		}
		if _, err := s.Peek(context.Background(), "floodgate:{u:1}:msg", l); err != nil {
			t.Fatalf("Peek %d: %v", i, err)
		}
	}
	// The first run was EVALSHA (NOSCRIPT) then EVAL: 101 commands alone.
	if trips.pipelines.Load() != 0 || trips.single.Load() != 101 {
		t.Errorf("serial decisions: %d pipelines, %d commands alone; want 0 and 101", trips.pipelines.Load(), trips.single.Load())
	}

	off := New(client, WithoutCoalescing())
	keys := []string{"floodgate:{u:2}:msg", "floodgate:{u:3}:msg"}
	admitted := flood(t, off, keys, core.Limit{Rate: 1, Period: time.Hour, Burst: 100}, 32, 20)
	checkExact(t, admitted, keys, 32*20/2, 100)
	if trips.pipelines.Load() != 0 || trips.single.Load() != 101+32*20 {
		t.Errorf("WithoutCoalescing under 32 callers: %d pipelines, %d commands alone; want 0 and %d",
			trips.pipelines.Load(), trips.single.Load(), 101+32*20)
	}
}

// aclClient creates the ACL user name on srv (password "pw") with rules
// added to "on" and returns a client logged in as that user, honouring
// context deadlines, with a tripCounter hook.
func aclClient(t *testing.T, srv *testutil.Redis, name string, rules ...string) (*redis.Client, *tripCounter) {
	t.Helper()
	args := []any{"ACL", "SETUSER", name, "reset", "on", ">pw"}
	for _, r := range rules {
		args = append(args, r)
	}
	if err := srv.Client(t).Do(context.Background(), args...).Err(); err != nil {
		t.Fatalf("ACL SETUSER %s: %v", name, err)
	}
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: name, Password: "pw", ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = client.Close() })
	h := &tripCounter{}
	client.AddHook(h)
	return client, h
}

// One request's error stays its own, even when it shares a pipeline (or,
// WithMergedScripts, a merged script run) with others: the client's ACL
// user may touch floodgate:* keys only, so every decision on another key
// fails with NOPERM (a fault of the deployment), and the decisions beside
// it are exact.
func TestErrorIsolatedToItsDecision(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	for _, merged := range []bool{false, true} {
		t.Run("merged="+strconv.FormatBool(merged), func(t *testing.T) {
			client, trips := aclClient(t, srv, "floodgate-only-"+strconv.FormatBool(merged), "~floodgate:*", "+@all")
			errorIsolated(t, client, trips, merged)
		})
	}
}

func errorIsolated(t *testing.T, client *redis.Client, trips *tripCounter, merged bool) {
	ctx := context.Background()
	bad := "forbidden:{u:666}:msg"
	var mixed atomic.Int64 // pipelines holding the bad key and a good one
	trips.onPipeline = func(cmds []redis.Cmder) {
		var b, g bool
		for _, c := range cmds {
			for _, k := range scriptKeys(c) {
				if k == bad {
					b = true
				} else {
					g = true
				}
			}
		}
		if b && g {
			mixed.Add(1)
		}
	}
	opts := []Option{WithClock(testutil.NewClock().Now)}
	if merged {
		opts = append(opts, WithMergedScripts())
	}
	s := New(client, opts...)
	good := []string{"floodgate:{u:1}:msg-" + strconv.FormatBool(merged), "floodgate:{u:2}:msg-" + strconv.FormatBool(merged)}
	l := core.Limit{Rate: 1, Period: time.Hour, Burst: 150}
	var admitted [2]atomic.Int64
	var noPerm, otherErrs atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range 64 {
		wg.Go(func() {
			<-start
			for i := range 60 {
				if i%3 == 0 {
					_, err := s.Take(ctx, bad, l, 1)
					if errors.Is(err, core.ErrMisconfigured) && !errors.Is(err, core.ErrKeyFault) &&
						strings.HasPrefix(err.Error(), "redisstore: eval: ") && strings.Contains(err.Error(), "NOPERM") {
						noPerm.Add(1)
					} else {
						otherErrs.Add(1)
						t.Errorf("Take on a key the user may not touch: %v, want a redisstore: eval: error wrapping ErrMisconfigured (NOPERM)", err)
					}
					continue
				}
				k := (g + i) % 2
				res, err := s.Take(ctx, good[k], l, 1)
				if err != nil {
					otherErrs.Add(1)
					t.Errorf("Take(%s) beside a failing decision: %v", good[k], err)
					continue
				}
				if res.Allowed {
					admitted[k].Add(1)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	if noPerm.Load() != 64*20 || otherErrs.Load() != 0 {
		t.Errorf("%d NOPERM errors and %d others, want %d and 0", noPerm.Load(), otherErrs.Load(), 64*20)
	}
	for k := range good {
		if admitted[k].Load() != int64(l.Burst) {
			t.Errorf("%s admitted %d, want exactly %d", good[k], admitted[k].Load(), l.Burst)
		}
	}
	if mixed.Load() == 0 {
		t.Errorf("no pipeline held both the failing key and a good one (%d pipelines); the test proved nothing", trips.pipelines.Load())
	}
	t.Logf("%d pipelines mixed a NOPERM decision with good ones", mixed.Load())
}

// waitFor polls cond (a state the test drives towards, not a race it
// hides) until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// A caller whose context ends while its decision is in a pipeline returns
// at once with the context's error; the others in that pipeline wait for
// and get their own results. The abandoned decision was sent, so it is
// applied: that is what the docs warn of.
func TestCancelIsolatedToItsDecision(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client, trips := countedClient(t, srv)
	clock := testutil.NewClock()
	s := New(client, WithClock(clock.Now))
	l := core.Limit{Rate: 1, Period: time.Hour, Burst: 100}
	const shared, quitter = "floodgate:{u:1}:msg", "floodgate:{u:2}:msg"
	if _, err := s.Take(context.Background(), shared, l, 1); err != nil { // loads the script
		t.Fatal(err)
	}
	var inPipeline = make(chan struct{})
	var once sync.Once
	trips.onPipeline = func(cmds []redis.Cmder) {
		for _, c := range cmds {
			if slices.Contains(scriptKeys(c), quitter) {
				once.Do(func() { close(inPipeline) })
			}
		}
	}

	if err := srv.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Signal(syscall.SIGCONT) })

	// Both round trips go to decisions that block on the stopped server
	// until their 2 s deadline; meanwhile the others queue behind them.
	var blockers sync.WaitGroup
	for i := range s.batch.maxInFlight {
		blockers.Add(1)
		go func() {
			defer blockers.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if _, err := s.Take(ctx, "floodgate:{u:blocker"+strconv.Itoa(i)+"}:msg", l, 1); err == nil {
				t.Error("a Take against a stopped server succeeded")
			}
		}()
	}
	waitFor(t, "the blockers to hold every round trip", func() bool {
		s.batch.mu.Lock()
		defer s.batch.mu.Unlock()
		return s.batch.inFlight == s.batch.maxInFlight
	})
	const stayers = 8
	type outcome struct {
		res core.Result
		err error
	}
	results := make(chan outcome, stayers)
	for range stayers {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			res, err := s.Take(ctx, shared, l, 1)
			results <- outcome{res, err}
		}()
	}
	qctx, quit := context.WithTimeout(context.Background(), 20*time.Second) // quit() cancels it long before
	quitDone := make(chan error, 1)
	go func() {
		_, err := s.Take(qctx, quitter, l, 1)
		quitDone <- err
	}()
	waitFor(t, "all nine callers to queue", func() bool {
		s.batch.mu.Lock()
		defer s.batch.mu.Unlock()
		return len(s.batch.queue) == stayers+1
	})
	blockers.Wait() // their deadlines end; a flight takes the queue
	select {
	case <-inPipeline:
	case <-time.After(10 * time.Second):
		t.Fatal("the queued decisions were never sent")
	}

	quit()
	start := time.Now()
	select {
	case err := <-quitDone:
		if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "redisstore: ") {
			t.Errorf("canceled caller got %v, want a redisstore: error wrapping context.Canceled", err)
		}
		t.Logf("canceled caller returned after %v", time.Since(start))
	case <-time.After(time.Second):
		t.Fatal("a canceled caller in a pipeline to a stopped server did not return within 1 s")
	}
	select {
	case o := <-results:
		t.Fatalf("a caller sharing the pipeline returned while the server is stopped: %+v, %v", o.res, o.err)
	default:
	}

	if err := srv.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	for range stayers {
		o := <-results
		if o.err != nil || !o.res.Allowed {
			t.Errorf("caller sharing the pipeline with a canceled one: %+v, %v; want allowed", o.res, o.err)
		}
	}
	// The warm-up and the 8 stayers on shared; the canceled decision on its
	// own key, applied although its caller left.
	for key, want := range map[string]int{shared: 1 + stayers, quitter: 1} {
		res, err := s.Peek(context.Background(), key, l)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.Burst - 1 - res.Remaining; got != want {
			t.Errorf("%s recorded %d events, want %d", key, got, want)
		}
	}
}

// NOSCRIPT inside a pipeline (SCRIPT FLUSH, a restart, a failover): the
// affected decisions are sent again as EVAL, once; the NOSCRIPT attempt
// ran nothing, so every event counts exactly once.
func TestNoScriptInPipeline(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client, trips := countedClient(t, srv)
	noScriptInPipeline(t, client, trips)
}

func TestClusterNoScriptInPipeline(t *testing.T) {
	skipShort(t, "starts a 3-master cluster")
	t.Parallel()
	cluster := testutil.StartCluster(t)
	client := cluster.Client(t)
	trips := &tripCounter{}
	client.AddHook(trips)
	noScriptInPipeline(t, client, trips)
}

func noScriptInPipeline(t *testing.T, client redis.UniversalClient, trips *tripCounter) {
	ctx := context.Background()
	clock := testutil.NewClock()
	s := New(client, WithClock(clock.Now))
	l := core.Limit{Rate: 1, Period: time.Hour, Burst: 1000}
	keys := make([]string, 40) // spread over every master of a cluster
	for i := range keys {
		keys[i] = "floodgate:{u:" + strconv.Itoa(9000+i) + "}:msg"
	}

	// Deterministic: one flight of 40 decisions right after SCRIPT FLUSH.
	if err := client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	reqs := sendFlight(ctx, s, client, keys, l, clock.Now().UnixMicro())
	for i, r := range reqs {
		<-r.ready
		v, err := r.cmd.(*redis.IntSliceCmd).Result()
		if err != nil || len(v) != 4 || v[0] != 1 || v[1] != int64(l.Burst-1) {
			t.Errorf("%s after SCRIPT FLUSH: %v, %v; want allowed with %d left", keys[i], v, err, l.Burst-1)
		}
	}
	if trips.pipelines.Load() != 2 || trips.evalRetries.Load() != 1 || trips.decided.Load() != 80 {
		t.Errorf("%d pipelines (%d as EVAL) carrying %d decisions in all; want 2 (1 as EVAL) carrying 80",
			trips.pipelines.Load(), trips.evalRetries.Load(), trips.decided.Load())
	}

	// Concurrent: SCRIPT FLUSH over and over while 64 callers decide.
	var stop atomic.Bool
	flushed := make(chan int)
	go func() {
		n := 0
		for !stop.Load() || trips.evalRetries.Load() < 3 {
			if err := client.ScriptFlush(ctx).Err(); err != nil {
				t.Error(err)
				break
			}
			n++
			time.Sleep(time.Millisecond) // let some pipelines through between flushes
		}
		flushed <- n
	}()
	recorded := map[string]int{} // per key: the flight's one plus every admission since
	for _, k := range keys {
		recorded[k] = 1
	}
	for round := 0; ; round++ {
		admitted := flood(t, s, keys, l, 64, 10)
		for _, k := range keys {
			if admitted[k] != 16 { // 640 Takes over 40 keys, all under the burst
				t.Errorf("round %d: %s admitted %d of 16", round, k, admitted[k])
			}
			recorded[k] += admitted[k]
		}
		if trips.evalRetries.Load() >= 3 || round == 20 {
			break
		}
	}
	stop.Store(true)
	t.Logf("SCRIPT FLUSH ×%d; %d pipelines retried as EVAL", <-flushed, trips.evalRetries.Load())
	if trips.evalRetries.Load() < 3 {
		t.Fatalf("only %d pipelines hit NOSCRIPT; the test proved nothing", trips.evalRetries.Load())
	}
	// No event counted twice: each key's TAT holds exactly its admissions.
	for _, k := range keys {
		res, err := s.Peek(ctx, k, l)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.Burst - 1 - res.Remaining; got != recorded[k] {
			t.Errorf("%s recorded %d events, want %d", k, got, recorded[k])
		}
	}
}

// On a 3-master cluster, go-redis splits each pipeline by node; decisions
// on keys spread over every master still share round trips and stay exact.
func TestClusterCoalescingExact(t *testing.T) {
	skipShort(t, "starts a 3-master cluster")
	t.Parallel()
	cluster := testutil.StartCluster(t)
	client := cluster.Client(t)
	trips := &tripCounter{}
	client.AddHook(trips)
	s := New(client, WithClock(testutil.NewClock().Now))
	keys := make([]string, 48)
	for i := range keys {
		keys[i] = "floodgate:{u:" + strconv.Itoa(7000+i) + "}:msg"
	}
	l := core.Limit{Rate: 1, Period: time.Hour, Burst: 100}
	admitted := flood(t, s, keys, l, 64, 150) // 200 Takes per key: 100 admitted
	checkExact(t, admitted, keys, 64*150/len(keys), l.Burst)
	sizes, err := cluster.DBSizes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range sizes {
		if n == 0 {
			t.Errorf("master %d holds no key (keys per master %v): the pipelines did not span every master", i, sizes)
		}
	}
	decisions := int64(64 * 150)
	t.Logf("%d decisions: %d alone, %d in %d pipelines", decisions, trips.single.Load(), trips.pipelined.Load(), trips.pipelines.Load())
	if trips.pipelines.Load() == 0 || trips.trips() > decisions/4 {
		t.Errorf("%d round trips (%d pipelines) for %d concurrent decisions; want at most a quarter",
			trips.trips(), trips.pipelines.Load(), decisions)
	}
	cluster.AssertEveryKeyHasTTL(t)
}

// BenchmarkMaxInFlight measures 64 callers on 100k keys with 1 to 8 round
// trips in flight at once, the figure defaultMaxInFlight was chosen by.
func BenchmarkMaxInFlight(b *testing.B) {
	srv := testutil.StartRedis(b)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	b.Cleanup(func() { _ = client.Close() })
	keys := testutil.BenchKeys(100_000)
	l := core.PerSecond(1_000_000)
	for _, k := range []int{1, 2, 3, 4, 8} {
		s := New(client)
		s.batch.maxInFlight = k
		b.Run("k="+strconv.Itoa(k), func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism((64 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			var seq atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				i := int(seq.Add(7919))
				for pb.Next() {
					i++
					if _, err := s.Take(context.Background(), keys[i%len(keys)], l, 1); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
			b.ReportMetric(float64(s.batch.batched.Load())/float64(max(1, s.batch.pipelines.Load())), "per-pipeline")
		})
	}
}

// With WithMergedScripts, one script run decides a flight's GCRA
// decisions, each exact and in queue order, and heals the keys it cannot
// read; a key the ACL user may not touch makes Redis refuse the whole run
// before it runs, so the flight sends its decisions again one by one, and
// only that key's decision fails.
func TestMergedRunIsolatesErrors(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client, trips := aclClient(t, srv, "floodgate-only", "~floodgate:*", "+@all")
	ctx := context.Background()
	const bad = "forbidden:{u:666}:msg"
	clock := testutil.NewClock()
	s := New(client, WithClock(clock.Now), WithMergedScripts())
	l := core.Limit{Rate: 1, Period: time.Hour, Burst: 2}
	if err := client.ScriptLoad(ctx, gcraSource).Err(); err != nil {
		t.Fatal(err)
	}
	check := func(keys, want []string) {
		t.Helper()
		reqs := sendFlight(ctx, s, client, keys, l, clock.Now().UnixMicro())
		for i, r := range reqs {
			<-r.ready
			v, err := r.cmd.(*redis.IntSliceCmd).Result()
			got := "denied"
			switch {
			case err != nil && kindOf(err) == core.ErrMisconfigured:
				got = "misconfigured"
			case err != nil:
				got = err.Error()
			case v[0] == 1 && v[1] == int64(l.Burst-1):
				got = "fresh"
			case v[0] == 1:
				got = "allowed"
			}
			if got != want[i] {
				t.Errorf("decision %d on %s: %s (%v), want %s", i, keys[i], got, v, want[i])
			}
		}
	}

	// Planted values: healed, each read as a fresh key, inside one run.
	planted := []string{"floodgate:{u:7}:list", "floodgate:{u:7}:abc", "floodgate:{u:7}:inf", "floodgate:{u:7}:big"}
	if err := client.RPush(ctx, planted[0], "x").Err(); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{planted[1]: "abc", planted[2]: "inf", planted[3]: "99999999999999999999999"} {
		if err := client.Set(ctx, k, v, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	check(planted, []string{"fresh", "fresh", "fresh", "fresh"})
	if trips.pipelines.Load() != 1 || trips.pipelined.Load() != 1 {
		t.Errorf("%d pipelines of %d script runs, want 1 of 1: the planted keys must not split the run",
			trips.pipelines.Load(), trips.pipelined.Load())
	}
	for _, k := range planted {
		if ttl := client.PTTL(ctx, k).Val(); ttl <= 0 {
			t.Errorf("%s after the merged run: PTTL %v, want a TTL", k, ttl)
		}
	}

	// u:1 three times under burst 2: admitted, admitted, denied, in order.
	trips.pipelines.Store(0)
	trips.pipelined.Store(0)
	trips.decided.Store(0)
	keys := []string{"floodgate:{u:1}:msg", bad, "floodgate:{u:1}:msg", "floodgate:{u:2}:msg", "floodgate:{u:1}:msg"}
	check(keys, []string{"fresh", "misconfigured", "allowed", "fresh", "denied"})
	if trips.pipelines.Load() != 2 || trips.pipelined.Load() != 1+int64(len(keys)) || trips.decided.Load() != 2*int64(len(keys)) {
		t.Errorf("%d pipelines of %d script runs deciding %d; want 2 (the refused run, then each alone) of %d deciding %d",
			trips.pipelines.Load(), trips.pipelined.Load(), trips.decided.Load(), 1+len(keys), 2*len(keys))
	}
}

// A plain client to one node of a Cluster (a cluster-mode endpoint) gets
// CROSSSLOT for a merged run over keys of different slots, which runs
// nothing: the decisions are then sent one by one, and merging stops.
func TestMergedRunCrossSlotFallsBack(t *testing.T) {
	skipShort(t, "starts a 3-master cluster")
	t.Parallel()
	cluster := testutil.StartCluster(t)
	router := cluster.Client(t)
	node := cluster.Nodes()[0]
	ctx := context.Background()
	var keys []string // keys that node owns, in different slots
	for i := 0; len(keys) < 6 && i < 10_000; i++ {
		k := "floodgate:{u:" + strconv.Itoa(i) + "}:msg"
		m, err := router.MasterForKey(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if m.Options().Addr == node.Addr {
			keys = append(keys, k)
		}
	}
	if len(keys) < 6 {
		t.Fatalf("found %d keys on %s", len(keys), node.Addr)
	}
	client, trips := countedClient(t, node)
	clock := testutil.NewClock()
	s := New(client, WithClock(clock.Now), WithMergedScripts())
	l := core.Limit{Rate: 1, Period: time.Hour, Burst: 5}
	if err := client.ScriptLoad(ctx, gcraSource).Err(); err != nil { // the decisions alone are EVALSHA
		t.Fatal(err)
	}
	reqs := sendFlight(ctx, s, client, keys, l, clock.Now().UnixMicro())
	for i, r := range reqs {
		<-r.ready
		v, err := r.cmd.(*redis.IntSliceCmd).Result()
		if err != nil || len(v) != 4 || v[0] != 1 || v[1] != int64(l.Burst-1) {
			t.Errorf("%s: %v, %v; want allowed with %d left, exactly once", keys[i], v, err, l.Burst-1)
		}
	}
	if s.batch.merge.Load() {
		t.Error("merging still on after CROSSSLOT")
	}
	if trips.decided.Load() != int64(2*len(keys)) {
		t.Errorf("%d decisions sent, want %d: the merged run, then each alone", trips.decided.Load(), 2*len(keys))
	}
}

// sendFlight sends one flight of GCRA Takes on keys (cost 1 under l, at
// now µs) straight through the batcher, deterministically, and returns its
// requests in key order; read each result after <-r.ready.
func sendFlight(ctx context.Context, s *Store, client redis.UniversalClient, keys []string, l core.Limit, now int64) []*request {
	f := &flight{pipe: client.Pipeline()}
	for _, k := range keys {
		r := s.batch.request(gcra, newIntSliceCmd, k)
		r.arg(l.Interval().Microseconds(), l.Burst, 1, "1", now)
		r.ctx = ctx
		f.reqs = append(f.reqs, r)
	}
	reqs := append([]*request(nil), f.reqs...)
	s.batch.send(f)
	return reqs
}
