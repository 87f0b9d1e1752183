package redisstore_test

// Many instances, one limit: three OS processes, each with its own go-redis
// client and connection pool, flood one user at the same time through one
// Redis. The script's atomicity and the server's single clock must admit
// exactly the limit's burst across all of them. TestClusterThreeProcessesOneLimit
// (cluster_test.go) runs the same flood against a Redis Cluster.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/redisstore"
	"github.com/redis/go-redis/v9"
)

const (
	// helperEnv tells a helper process where Redis is: host:port of a
	// standalone server, or "cluster:" and the comma-separated host:port of
	// cluster nodes. Unset, the helper test does nothing.
	helperEnv = "FLOODGATE_HELPER_FLOOD"
	// clusterTarget starts a helperEnv value that names a cluster.
	clusterTarget = "cluster:"
	// helperProcs × helperWorkers × helperCalls calls in all.
	helperProcs   = 3
	helperWorkers = 16
	helperCalls   = 100
	// The start barrier: each helper INCRs readyKey, then blocks on BLPOP
	// goKey until the parent pushes one token per helper. One hash tag, so
	// that one DEL removes both on a cluster too.
	readyKey = "test:{flood}:ready"
	goKey    = "test:{flood}:go"
	// floodUser is the one user every helper floods.
	floodUser = 424242
)

// floodLimit: 100 per hour, burst 100. T is 36 s, so during a flood that
// lasts seconds at most nothing replenishes: exactly 100 may pass.
var floodLimit = core.Limit{Rate: 100, Period: time.Hour, Burst: 100}

// helperLine is what a helper prints on stdout.
var helperLine = regexp.MustCompile(`floodgate-helper pid=(\d+) admitted=(\d+) denied=(\d+) errors=(\d+) start=(\d+) end=(\d+)`)

func TestThreeProcessesOneLimit(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	runThreeProcesses(t, srv.Addr, client)
	testutil.AssertEveryKeyHasTTL(t, client)
}

// runThreeProcesses starts helperProcs processes running TestHelperFlood
// against target (a helperEnv value), releases them together through
// client, checks that exactly floodLimit.Burst calls were admitted in all,
// and removes the barrier keys.
func runThreeProcesses(t *testing.T, target string, client redis.UniversalClient) {
	t.Helper()
	ctx := context.Background()

	type proc struct {
		cmd            *exec.Cmd
		stdout, stderr bytes.Buffer
	}
	procs := make([]*proc, helperProcs)
	for i := range procs {
		p := &proc{cmd: exec.Command(os.Args[0], "-test.run=^TestHelperFlood$", "-test.count=1")}
		p.cmd.Env = append(os.Environ(), helperEnv+"="+target)
		p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
		if err := p.cmd.Start(); err != nil {
			t.Fatalf("start helper %d: %v", i, err)
		}
		procs[i] = p
	}
	// Whatever happens, no helper outlives the test.
	t.Cleanup(func() {
		for _, p := range procs {
			if p.cmd.ProcessState == nil {
				_ = p.cmd.Process.Kill()
				_ = p.cmd.Wait()
			}
		}
	})

	// Release the helpers together once all are connected and waiting.
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := client.Get(ctx, readyKey).Int()
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Fatal(err)
		}
		if n == helperProcs {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d helpers reached the start barrier within 30s", n, helperProcs)
		}
		time.Sleep(5 * time.Millisecond) // polling other processes' progress
	}
	tokens := make([]any, helperProcs)
	for i := range tokens {
		tokens[i] = "go"
	}
	if err := client.RPush(ctx, goKey, tokens...).Err(); err != nil {
		t.Fatal(err)
	}

	var admitted, denied int
	var latestStart, earliestEnd int64 = 0, 1<<63 - 1
	for i, p := range procs {
		err := p.cmd.Wait()
		if err != nil {
			t.Fatalf("helper %d: %v\nstdout:\n%s\nstderr:\n%s", i, err, &p.stdout, &p.stderr)
		}
		m := helperLine.FindStringSubmatch(p.stdout.String())
		if m == nil {
			t.Fatalf("helper %d printed no result line\nstdout:\n%s\nstderr:\n%s", i, &p.stdout, &p.stderr)
		}
		num := func(j int) int64 { v, _ := strconv.ParseInt(m[j], 10, 64); return v }
		a, d, e, start, end := num(2), num(3), num(4), num(5), num(6)
		if e != 0 {
			t.Errorf("helper %d: %d errors\nstderr:\n%s", i, e, &p.stderr)
		}
		if a+d+e != helperWorkers*helperCalls {
			t.Errorf("helper %d: %d+%d+%d results, want %d", i, a, d, e, helperWorkers*helperCalls)
		}
		t.Logf("process %d (pid %s): admitted %d, denied %d, flooded for %v",
			i, m[1], a, d, time.Duration(end-start).Round(time.Millisecond))
		admitted += int(a)
		denied += int(d)
		latestStart, earliestEnd = max(latestStart, start), min(earliestEnd, end)
	}
	total := helperProcs * helperWorkers * helperCalls
	t.Logf("total: %d admitted, %d denied of %d calls from %d processes", admitted, denied, total, helperProcs)
	if admitted != floodLimit.Burst {
		t.Errorf("admitted %d across %d processes, want exactly %d", admitted, helperProcs, floodLimit.Burst)
	}
	if denied != total-floodLimit.Burst {
		t.Errorf("denied %d, want %d", denied, total-floodLimit.Burst)
	}
	if latestStart >= earliestEnd {
		t.Errorf("the floods did not overlap: the last started %v after the first ended",
			time.Duration(latestStart-earliestEnd))
	} else {
		t.Logf("all %d processes flooded at once for %v", helperProcs, time.Duration(earliestEnd-latestStart).Round(time.Microsecond))
	}

	if err := client.Del(ctx, readyKey, goKey).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestHelperFlood is one flooding bot instance of
// TestThreeProcessesOneLimit, run in a process of its own. Without
// FLOODGATE_HELPER_FLOOD it does nothing.
func TestHelperFlood(t *testing.T) {
	target := os.Getenv(helperEnv)
	if target == "" {
		return
	}
	ctx := context.Background()
	var client redis.UniversalClient
	if addrs, ok := strings.CutPrefix(target, clusterTarget); ok {
		client = redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(addrs, ","), PoolSize: helperWorkers})
	} else {
		client = redis.NewClient(&redis.Options{Addr: target, PoolSize: helperWorkers})
	}
	defer client.Close()
	// The exact total is the point: the store is not wrapped in
	// core.Resilient, so no decision can fall back to a local store because
	// a loaded CI machine made one Redis call slow; any error is counted.
	lim, err := core.New(redisstore.New(client), floodLimit)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing loads the script beforehand: the first decisions of all 48
	// goroutines may hit NOSCRIPT and fall back to EVAL at once, which is
	// part of the test.
	if err := client.Incr(ctx, readyKey).Err(); err != nil {
		t.Fatal(err)
	}
	if err := client.BLPop(ctx, 30*time.Second, goKey).Err(); err != nil {
		t.Fatalf("start barrier: %v", err)
	}

	var admitted, denied, errs atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range helperWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range helperCalls {
				res, err := lim.Take(ctx, core.User(floodUser), 1)
				switch {
				case err != nil:
					errs.Add(1)
					fmt.Fprintln(os.Stderr, err)
				case res.Allowed:
					admitted.Add(1)
				default:
					denied.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	end := time.Now()
	fmt.Printf("floodgate-helper pid=%d admitted=%d denied=%d errors=%d start=%d end=%d\n",
		os.Getpid(), admitted.Load(), denied.Load(), errs.Load(), start.UnixNano(), end.UnixNano())
}
