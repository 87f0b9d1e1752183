package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/redisstore"
)

// cliRun runs the CLI with env and returns its exit code and output.
func cliRun(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCommandsOnRealRedis(t *testing.T) {
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	ctx := context.Background()
	limit := core.PerMinute(3)
	lim, err := core.New(redisstore.New(client), limit, core.WithPrefix("ops"), core.WithTimeout(5*time.Second),
		core.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ { // user 1 floods: 3 admitted, then limited
		lim.Allow(ctx, 1)
	}
	lim.Allow(ctx, 2) // user 2: one message, not limited
	g, err := core.NewGuard(lim, core.WithPenalty(core.Penalty{Strikes: 1, Window: time.Minute, Blocks: []time.Duration{time.Hour}}))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 6; i++ { // user 3 floods into a one-hour block
		g.Check(ctx, core.Update{Kind: core.KindMessage, UserID: 3, ChatID: 3})
	}
	env := map[string]string{"REDIS_URL": srv.URL(), "FLOODGATE_PREFIX": "ops", "FLOODGATE_LIMIT": "3/m"}

	code, out, errOut := cliRun(t, env, "status", "1")
	t.Logf("$ floodgate status 1\n%s", out)
	if code != exitOK || !strings.Contains(out, "allowed:      no") || !strings.Contains(out, "key:          ops:{u:1}:msg") ||
		!strings.Contains(out, "penalty:      none") {
		t.Fatalf("status 1: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := cliRun(t, env, "status", "2"); code != exitOK || !strings.Contains(out, "allowed:      yes") ||
		!strings.Contains(out, "remaining:    1") {
		t.Fatalf("status 2: exit %d\n%s", code, out)
	}
	if code, out, _ := cliRun(t, env, "status", "3"); code != exitOK || !strings.Contains(out, "penalty:      blocked for") {
		t.Fatalf("status 3 (blocked): exit %d\n%s", code, out)
	}

	if err := client.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = cliRun(t, env, "top")
	t.Logf("$ floodgate top\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != exitOK || len(lines) < 3 || !strings.Contains(out, "user 1 ") || strings.Contains(out, "user 2 ") {
		t.Fatalf("top: exit %d\n%s%s", code, out, errOut)
	}
	calls, err := testutil.CommandCalls(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	if calls["scan"] == 0 || calls["keys"] != 0 {
		t.Fatalf("top ran SCAN %d times and KEYS %d times; want SCAN only", calls["scan"], calls["keys"])
	}

	code, out, _ = cliRun(t, env, "reset", "1")
	t.Logf("$ floodgate reset 1\n%s", out)
	if code != exitOK || !strings.Contains(out, "deleted ops:{u:1}:msg") {
		t.Fatalf("reset 1: exit %d\n%s", code, out)
	}
	if code, out, _ := cliRun(t, env, "status", "1"); code != exitOK || !strings.Contains(out, "allowed:      yes") ||
		!strings.Contains(out, "stored TAT:   none") {
		t.Fatalf("status after reset: exit %d\n%s", code, out)
	}

	code, out, errOut = cliRun(t, env, "check")
	t.Logf("$ floodgate check\n%s", out)
	if code != exitOK || !strings.Contains(out, "result:       ok") || !strings.Contains(out, "decision script loaded") {
		t.Fatalf("check: exit %d\n%s%s", code, out, errOut)
	}
}

func TestUsageAndFailures(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	const secret = "sup3r-s3cret"
	down := map[string]string{"REDIS_URL": "redis://:" + secret + "@127.0.0.1:" + closedPort + "/0"}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
	}{
		{"no command", down, nil, exitUsage},
		{"unknown command", down, []string{"frobnicate"}, exitUsage},
		{"bad user id", down, []string{"status", "bob"}, exitUsage},
		{"negative user id", down, []string{"reset", "-5"}, exitUsage},
		{"bad limit", down, []string{"-limit", "0/s", "top"}, exitUsage},
		{"redis down", down, []string{"status", "1"}, exitFail},
		{"redis down: check", down, []string{"check"}, exitFail},
		{"memory store: status", map[string]string{}, []string{"status", "1"}, exitUsage},
		{"memory store: check", map[string]string{}, []string{"check"}, exitOK},
		{"help", map[string]string{}, []string{"-h"}, exitOK},
	} {
		code, out, errOut := cliRun(t, tc.env, tc.args...)
		if code != tc.code {
			t.Errorf("%s: exit %d, want %d\n%s%s", tc.name, code, tc.code, out, errOut)
		}
		if strings.Contains(out+errOut, secret) {
			t.Errorf("%s: the password appears in the output:\n%s%s", tc.name, out, errOut)
		}
	}
}
