package e2e_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/internal/testutil"
)

// TestDemoRedis runs the demo as README shows, with REDIS_URL, twice
// against one Redis: every number matches (the demo exits non-zero
// otherwise), the second run counts afresh, and every key it leaves has a
// TTL. (The demo's own tests run it in memory, with public packages only.)
func TestDemoRedis(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	bin := build(t, "demo")
	for run := 1; run <= 2; run++ {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, bin)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "REDIS_URL=" + srv.URL()}
		var out, logs bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &logs
		err := cmd.Run()
		cancel()
		t.Logf("run %d: %v; output:\n%s", run, err, out.String())
		if err != nil {
			t.Fatalf("run %d: %v; log:\n%s", run, err, logs.String())
		}
		store := "floodgate demo: store backend=redis addr=redis://" + srv.Addr + " db=0 prefix=floodgate-demo limit=3/m policy=local timeout=1s"
		if !strings.Contains(out.String()+logs.String(), store) {
			t.Errorf("run %d does not describe its store as %q", run, store)
		}
		if !strings.Contains(out.String(), "✓ every number as expected on all 5 frameworks") {
			t.Errorf("run %d: not every number as expected", run)
		}
		if !regexp.MustCompile(`(?m)^keys: floodgate-demo:\d+:<framework>:`).MatchString(out.String()) {
			t.Errorf("run %d: output lacks the key prefix", run)
		}
	}
	if n := testutil.AssertEveryKeyHasTTL(t, srv.Client(t)); n == 0 {
		t.Errorf("the demo left no keys in Redis")
	}
}
