package setup_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/outbound"
	"github.com/floodgate-go/floodgate/setup"
	"github.com/floodgate-go/floodgate/store"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

var quiet = slog.New(slog.DiscardHandler)

func msg(user int64) guard.Update {
	return guard.Update{Kind: guard.KindMessage, UserID: user, ChatID: user, ChatType: "private"}
}

func TestOpenMemory(t *testing.T) {
	t.Parallel()
	fg, err := setup.Open(t.Context(), setup.Options{Lookup: env(map[string]string{"FLOODGATE_LIMIT": "2/m"}), Logger: quiet,
		Guard: []guard.Option{guard.WithBypass(99)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fg.Close() })
	if fg.Config.Backend != store.BackendMemory || fg.Limiter.Limit() != core.PerMinute(2) || fg.Metrics != nil {
		t.Fatalf("config %v, limit %v, metrics %v", fg.Config, fg.Limiter.Limit(), fg.Metrics)
	}
	ctx := t.Context()
	for i, want := range []bool{true, true, false} {
		if v := fg.Guard.Check(ctx, msg(1)); v.Pass != want {
			t.Fatalf("message %d: %+v, want pass=%v", i, v, want)
		}
	}
	for range 5 { // the Guard options given were applied
		if v := fg.Guard.Check(ctx, msg(99)); !v.Pass || v.Reason != guard.ReasonBypass {
			t.Fatalf("bypassed admin: %+v", v)
		}
	}
	if fg.Throttle == nil {
		t.Fatal("no outbound throttle")
	}
	sent := 0
	err = fg.Throttle.Do(ctx, outbound.Call{URL: "http://api.invalid/bot1:x/sendMessage?chat_id=5"},
		func(context.Context, io.Reader) (outbound.Reply, error) { sent++; return outbound.Reply{}, nil })
	if err != nil || sent != 1 {
		t.Fatalf("a send through the throttle: err %v, sent %d times", err, sent)
	}
	if err := fg.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fg.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestOpenErrorsNameTheVariable(t *testing.T) {
	t.Parallel()
	for name, vars := range map[string]map[string]string{
		"FLOODGATE_LIMIT": {"FLOODGATE_LIMIT": "lots"},
		"FLOODGATE_STORE": {"FLOODGATE_STORE": "postgres"},
		"METRICS_ADDR":    {"METRICS_ADDR": "not an address"},
		"REDIS_URL":       {"REDIS_URL": "redis://:s3cret@127.0.0.1:1/0"}, // nothing listens on port 1
	} {
		_, err := setup.Open(t.Context(), setup.Options{Lookup: env(vars), Logger: quiet})
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if name != "REDIS_URL" && !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %q does not name the variable", name, err)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: error %q shows the password", name, err)
		}
	}
}

// TestOpenRedisWithMetrics: a real Redis, protected by core.Resilient, and
// /metrics served at METRICS_ADDR with the decisions counted.
func TestOpenRedisWithMetrics(t *testing.T) {
	t.Parallel()
	r := testutil.StartRedis(t)
	addr := testutil.FreeAddr(t)
	fg, err := setup.Open(t.Context(), setup.Options{Logger: quiet, Lookup: env(map[string]string{
		"REDIS_URL": r.URL(), "FLOODGATE_LIMIT": "1/m", "FLOODGATE_PREFIX": "setup-test", "METRICS_ADDR": addr,
	})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fg.Close() })
	ctx := t.Context()
	first, second := fg.Guard.Check(ctx, msg(1)), fg.Guard.Check(ctx, msg(1))
	if !first.Pass || first.Result.Source != core.SourceStore || second.Pass {
		t.Fatalf("decisions %+v, %+v; want one admitted by the store, then a denial", first, second)
	}
	if n, err := r.Client(t).Exists(ctx, "setup-test:{u:1}:msg").Result(); err != nil || n != 1 {
		t.Fatalf("the key is not in Redis: %d, %v", n, err)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`floodgate_decisions_total{prefix="setup-test",result="allowed",rule="msg",source="store"} 1`,
		`floodgate_decisions_total{prefix="setup-test",result="denied",rule="msg",source="store"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if err := fg.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
		t.Error("/metrics still served after Close")
	}
	if err := fg.Store.RedisClient().Ping(context.Background()).Err(); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Ping after Close: %v, want the client closed", err)
	}
}
