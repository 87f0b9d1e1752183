package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/redisstore"
)

func TestParseScope(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]core.Scope{
		"42": core.User(42), "user:42": core.User(42), "u:42": core.User(42), "{u:42}": core.User(42),
		"-100123": core.Chat(-100123), "chat:-100123": core.Chat(-100123), "c:-100123": core.Chat(-100123),
		"chat:5":                core.Chat(5),
		"user:42@chat:-100123":  core.UserInChat(42, -100123),
		"42@-100123":            core.UserInChat(42, -100123),
		"uc:42:-100123":         core.UserInChat(42, -100123),
		"{uc:42:-100123}":       core.UserInChat(42, -100123),
		"sender:-100123":        core.SenderChat(-100123),
		"sender-chat:-100123":   core.SenderChat(-100123),
		"s:-100123":             core.SenderChat(-100123),
		"global":                core.Global(),
		"g":                     core.Global(),
		"{g}":                   core.Global(),
		"floodgate:{c:-1}:msg":  core.Chat(-1),
		"bot:1:{uc:1:-2}:x:win": core.UserInChat(1, -2),
	} {
		got, err := parseTarget(in)
		if err != nil || got.scope != want {
			t.Errorf("parseTarget(%q) = %v, %v; want %v", in, got.scope, err, want)
		}
	}
	for _, in := range []string{"", "0", "user:0", "user:-1", "-0", "chat:0", "chat:x", "42@0", "uc:42", "team:1",
		"user:9223372036854775808", "1.5", " 42", "g:1"} {
		if got, err := parseTarget(in); err == nil {
			t.Errorf("parseTarget(%q) = %v, want an error", in, got.scope)
		}
	}
}

func TestQuote(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"floodgate:{u:1}:msg": "floodgate:{u:1}:msg",
		"a b":                 `"a b"`,
		"\x1b[2J":             `"\x1b[2J"`,
		"é":                   `"\u00e9"`,
		`a"b`:                 `"a\"b"`,
		"":                    `""`,
		"\xff":                `"\xff"`,
	} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestEveryScope inspects and resets a chat key, a user-in-chat key, a
// sender chat's and the global key, and a sliding-window key, written by a
// bot's Guard; top lists them by kind, and a hostile key name is printed
// escaped.
func TestEveryScope(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	ctx := context.Background()
	lim := newLimiter(t, client, core.PerMinute(3), "floodgate")
	take(t, lim, core.Chat(-100123), 3)
	deny(t, lim, core.Chat(-100123))
	take(t, lim, core.UserInChat(42, -100123), 3)
	take(t, lim, core.SenderChat(-100777), 1)
	take(t, lim, core.Global(), 3)
	win := newLimiter(t, client, core.Window(3, time.Minute), "floodgate")
	take(t, win, core.Chat(-100123), 3)
	// Penalty strikes of the chat, as a Guard keyed by chat writes them.
	g, err := guard.New(lim, guard.WithKey(guard.ByChat), guard.WithPenalty(guard.Penalty{Strikes: 1, Window: time.Minute,
		Blocks: []time.Duration{time.Minute}, Forget: time.Hour}))
	if err != nil {
		t.Fatal(err)
	}
	g.Check(ctx, guard.Update{Kind: guard.KindMessage, UserID: 1, ChatID: -100123})
	g.Check(ctx, guard.Update{Kind: guard.KindMessage, UserID: 1, ChatID: -100123})
	if n, _ := client.Exists(ctx, "floodgate:{c:-100123}:pen.level").Result(); n != 1 {
		t.Fatal("the chat's penalty level key was not written")
	}
	// A hostile key: its name would clear the operator's screen.
	hostile := "floodgate:{\x1b[2J\x1b[H}:msg"
	if err := client.Set(ctx, hostile, time.Now().Add(time.Hour).UnixMicro(), time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"REDIS_URL": srv.URL(), "FLOODGATE_LIMIT": "3/m"}

	for _, arg := range []string{"-100123", "chat:-100123", "floodgate:{c:-100123}:msg"} {
		r := report(mustRun(t, exitOK, env, "status", arg))
		if r["key"] != "floodgate:{c:-100123}:msg" || r["scope"] != "chat -100123" || first(r["allowed"]) != "no" ||
			!strings.HasPrefix(r["block"], "blocked for") {
			t.Errorf("status %s: %q", arg, r)
		}
	}
	r := report(mustRun(t, exitOK, env, "status", "user:42@chat:-100123"))
	if r["key"] != "floodgate:{uc:42:-100123}:msg" || r["scope"] != "user 42 in chat -100123" || first(r["allowed"]) != "no" {
		t.Errorf("status user:42@chat:-100123: %q", r)
	}
	r = report(mustRun(t, exitOK, env, "status", "sender:-100777"))
	if r["key"] != "floodgate:{s:-100777}:msg" || r["scope"] != "sender chat -100777" || first(r["allowed"]) != "yes" {
		t.Errorf("status sender:-100777: %q", r)
	}
	r = report(mustRun(t, exitOK, env, "status", "global"))
	if r["key"] != "floodgate:{g}:msg" || r["scope"] != "global" || first(r["allowed"]) != "no" {
		t.Errorf("status global: %q", r)
	}
	// A window key: given whole, with the window limit.
	r = report(mustRun(t, exitOK, env, "status", "-limit", "3/m window", "floodgate:{c:-100123}:msg:win"))
	if r["key"] != "floodgate:{c:-100123}:msg:win" || !strings.HasPrefix(r["in window"], "3 of 3 events") {
		t.Errorf("status of the window key: %q", r)
	}

	// top, all scopes and one kind; the hostile name is escaped.
	out := mustRun(t, exitOK, env, "top")
	if strings.ContainsRune(out, '\x1b') || !strings.Contains(out, `"floodgate:{\x1b[2J\x1b[H}:msg"`) ||
		!strings.Contains(out, `unknown scope "{\x1b[2J\x1b[H}"`) {
		t.Errorf("top prints the hostile key unescaped:\n%q", out)
	}
	for _, want := range []string{"chat -100123", "user 42 in chat -100123", "global"} {
		if !strings.Contains(out, want) {
			t.Errorf("top does not list %s:\n%s", want, out)
		}
	}
	out = mustRun(t, exitOK, env, "top", "-scope", "chat")
	if !strings.Contains(out, "chat -100123") || strings.Contains(out, "global") || strings.Contains(out, "user 42") ||
		!strings.Contains(out, "SCAN MATCH floodgate:{c:*}:msg") {
		t.Errorf("top -scope chat:\n%s", out)
	}

	// reset of a chat: its key and its penalty keys, as Guard.Reset does.
	out = mustRun(t, exitOK, env, "reset", "chat:-100123")
	if !strings.HasPrefix(out, "deleted floodgate:{c:-100123}:msg: chat -100123 has the full burst (3) again\n") {
		t.Errorf("reset chat:-100123:\n%s", out)
	}
	for key, want := range map[string]int64{"floodgate:{c:-100123}:msg": 0, "floodgate:{c:-100123}:pen.level": 0,
		"floodgate:{c:-100123}:pen.strikes": 0, "floodgate:{c:-100123}:msg:win": 1, "floodgate:{uc:42:-100123}:msg": 1} {
		if n, _ := client.Exists(ctx, key).Result(); n != want {
			t.Errorf("after reset chat:-100123: EXISTS %s = %d, want %d", key, n, want)
		}
	}
	mustRun(t, exitOK, env, "reset", "-limit", "3/m window", "floodgate:{c:-100123}:msg:win")
	mustRun(t, exitOK, env, "reset", "42@-100123")
	if n, _ := client.Exists(ctx, "floodgate:{c:-100123}:msg:win", "floodgate:{uc:42:-100123}:msg").Result(); n != 0 {
		t.Errorf("%d keys left after resetting the window key and user 42 in chat -100123", n)
	}
}

// TestCheckACL runs check as a least-privilege user: with the documented
// CLI rule everything passes; a user lacking commands gets every missing
// one reported, and the test decisions still run.
func TestCheckACL(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	admin := srv.Client(t)
	testutil.ACLUser(t, admin, "ops", "pw", cliACLRule("floodgate", false))
	env := map[string]string{"REDIS_URL": "redis://ops:pw@" + srv.Addr + "/0"}
	r := report(mustRun(t, exitOK, env, "check"))
	if r["result"] != "ok" || !strings.HasPrefix(r["permissions"], "ok:") || !strings.Contains(r["eviction"], "maxmemory-policy noeviction") {
		t.Errorf("check with the documented CLI rule: %q", r)
	}
	testutil.ACLUser(t, admin, "bot", "pw", redisstore.ACLRule("floodgate"))
	env = map[string]string{"REDIS_URL": "redis://bot:pw@" + srv.Addr + "/0"}
	r = report(mustRun(t, exitOK, env, "status", "1"))
	if first(r["allowed"]) != "yes" {
		t.Errorf("status with the bots' rule: %q", r)
	}

	testutil.ACLUser(t, admin, "weak", "pw", redisstore.ACLRule("floodgate")+" -evalsha -lpush")
	env = map[string]string{"REDIS_URL": "redis://weak:pw@" + srv.Addr + "/0"}
	out := mustRun(t, exitFail, env, "check")
	r = report(out)
	if !strings.Contains(r["permissions"], "may not run evalsha, lpush") ||
		!strings.Contains(r["cli access"], "may not run info, scan, script|exists") ||
		!strings.HasPrefix(r["window"], "PROBLEM") && !strings.HasPrefix(r["window"], "allowed") ||
		r["result"] == "ok" {
		t.Errorf("check as a user lacking commands:\n%s", out)
	}
}

// TestDocumentedCLIRule keeps docs/stores.md's CLI rule the one check asks
// for.
func TestDocumentedCLIRule(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/stores.md")
	if err != nil {
		t.Fatal(err)
	}
	want := "ACL SETUSER floodgate-ops on >PASSWORD " + cliACLRule("floodgate", false) + "\n"
	if !strings.Contains(string(doc), want) {
		t.Errorf("docs/stores.md does not give the CLI's rule:\n%s", want)
	}
}

// TestTLS: the CLI reads the TLS variables, with REDIS_URL or -url.
func TestTLS(t *testing.T) {
	t.Parallel()
	srv := testutil.StartTLSRedis(t, true)
	env := map[string]string{"REDIS_URL": srv.TLSURL(), "REDIS_TLS_CA_FILE": srv.CA.CertFile,
		"REDIS_TLS_CERT_FILE": srv.ClientCertFile, "REDIS_TLS_KEY_FILE": srv.ClientKeyFile}
	r := report(mustRun(t, exitOK, env, "check"))
	if r["result"] != "ok" || !strings.Contains(r["config"], "rediss://") || !strings.Contains(r["config"], "tls_ca=") {
		t.Errorf("check over mTLS: %q", r)
	}
	delete(env, "REDIS_URL")
	env["FLOODGATE_STORE"] = "redis"
	mustRun(t, exitOK, env, "-url", srv.TLSURL(), "status", "chat:-1")
	delete(env, "REDIS_TLS_CA_FILE")
	// A dial timeout of 2 s (not 500 ms): on a loaded machine the server's
	// certificate, which the client then refuses, can take longer to come.
	env["FLOODGATE_TIMEOUT"] = "2s"
	if code, _, errOut := cliRun(t, env, "-url", srv.TLSURL(), "status", "1"); code != exitFail ||
		!strings.Contains(errOut, "certificate signed by unknown authority") {
		t.Errorf("without the CA: exit %d, %s", code, errOut)
	}
}
