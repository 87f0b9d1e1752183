package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/redis/go-redis/v9"
)

// kindName names what kindOf says: "key", "config" or "outage".
func kindName(err error) string {
	switch {
	case errors.Is(err, core.ErrKeyFault) && errors.Is(err, core.ErrMisconfigured):
		return "both kinds"
	case errors.Is(err, core.ErrKeyFault):
		return "key"
	case errors.Is(err, core.ErrMisconfigured):
		return "config"
	}
	return "outage"
}

// The classifier on the replies a real redis-server gives: ACL users that
// lack a permission, wrong or missing credentials, a renamed command, a
// read-only replica, a server out of memory, a stopped server, a closed
// client, a canceled context. Each store method's error is prefixed, keeps
// the cause for errors.Is, and has the kind Resilient's breaker needs.
func TestErrorKindsOnRealReplies(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	admin := srv.Client(t)
	ctx := context.Background()
	l, win := core.PerMinute(5), core.Window(3, time.Minute)
	const key = "floodgate:{u:1}:msg"
	// call runs one store method and returns its error.
	type call func(s *Store) error
	take := func(s *Store) error { _, err := s.Take(ctx, key, l, 1); return err }
	peek := func(s *Store) error { _, err := s.Peek(ctx, key, l); return err }
	takeWin := func(s *Store) error { _, err := s.Take(ctx, key+":win", win, 1); return err }
	block := func(s *Store) error { return s.Block(ctx, key, l, time.Minute) }
	reset := func(s *Store) error { return s.Reset(ctx, key) }
	inspect := func(s *Store) error { _, err := s.Inspect(ctx, l, key); return err }
	user := func(name string, rules ...string) *Store {
		c, _ := aclClient(t, srv, name, rules...)
		return New(c)
	}
	fresh := func(extra ...string) *testutil.Redis { return testutil.StartRedis(t, extra...) }
	plain := func(r *testutil.Redis, o redis.Options) *Store {
		o.Addr, o.MaxRetries, o.DialerRetries = r.Addr, -1, 1
		c := redis.NewClient(&o)
		t.Cleanup(func() { _ = c.Close() })
		return New(c)
	}

	noAuth := fresh("--requirepass", "s3cret")
	renamed := fresh("--rename-command", "evalsha", "")
	replica := fresh("--replicaof", "127.0.0.1", fmt.Sprint(srv.Port))
	full := fresh()
	if err := full.Client(t).ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	// A stopped server: a Unix socket left with no listener refuses every
	// connection, and unlike a freed TCP port no parallel test can reuse it.
	stopped := filepath.Join(t.TempDir(), "stopped.sock")
	ln, err := net.Listen("unix", stopped)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	_ = ln.Close()
	stoppedStore := func() *Store {
		c := redis.NewClient(&redis.Options{Network: "unix", Addr: stopped, MaxRetries: -1, DialerRetries: 1})
		t.Cleanup(func() { _ = c.Close() })
		return New(c)
	}
	closed := redis.NewClient(&redis.Options{Addr: srv.Addr})
	_ = closed.Close()
	canceled, cancel := context.WithCancel(ctx)
	cancel()

	for _, tc := range []struct {
		name  string
		store *Store
		calls map[string]call
		kind  string
		has   string // in the message
	}{
		{"no EVALSHA, no EVAL", user("noscripts", "~*", "+@all", "-evalsha", "-eval"),
			map[string]call{"Take": take, "Peek": peek, "window Take": takeWin, "Block": block}, "config", "NOPERM"},
		{"no EVAL, script not cached", user("noeval", "~*", "+@all", "-eval", "-script"),
			map[string]call{"Take": take}, "config", "NOPERM"},
		{"no GET inside the script", user("noget", "~*", "+@all", "-get"),
			map[string]call{"Take": take, "Block": block}, "config", "can't run this command"},
		{"no TIME inside the script", user("notime", "~*", "+@all", "-time"),
			map[string]call{"Take": take, "window Take": takeWin}, "config", "can't run this command"},
		{"no DEL", user("nodel", "~*", "+@all", "-del"), map[string]call{"Reset": reset}, "config", "NOPERM"},
		{"no PTTL", user("nopttl", "~*", "+@all", "-pttl"), map[string]call{"Inspect": inspect}, "config", "NOPERM"},
		{"other keys only", user("otherkeys", "~other:*", "+@all"),
			map[string]call{"Take": take, "Block": block, "Reset": reset, "Inspect": inspect}, "config", "NOPERM"},
		{"wrong password", plain(srv, redis.Options{Username: "noget", Password: "wrong"}),
			map[string]call{"Take": take}, "config", "WRONGPASS"},
		{"no password", plain(noAuth, redis.Options{}), map[string]call{"Take": take, "Reset": reset}, "config", "NOAUTH"},
		{"EVALSHA renamed away", plain(renamed, redis.Options{}), map[string]call{"Take": take}, "config", "unknown command"},
		{"read-only replica", plain(replica, redis.Options{}), map[string]call{"Take": take, "Block": block}, "outage", "READONLY"},
		{"out of memory", plain(full, redis.Options{}), map[string]call{"Take": take}, "outage", "OOM"},
		{"stopped server", stoppedStore(), map[string]call{"Take": take, "Inspect": inspect}, "outage", "refused"},
		{"closed client", New(closed), map[string]call{"Take": take, "Reset": reset}, "outage", "closed"},
	} {
		for name, c := range tc.calls {
			err := c(tc.store)
			switch {
			case err == nil:
				t.Errorf("%s, %s: no error", tc.name, name)
			case kindName(err) != tc.kind || !strings.Contains(err.Error(), tc.has) || !strings.HasPrefix(err.Error(), "redisstore: "):
				t.Errorf("%s, %s: %q is %s; want a redisstore: error of kind %s mentioning %q", tc.name, name, err, kindName(err), tc.kind, tc.has)
			default:
				t.Logf("%-28s %-12s %-6s %v", tc.name, name, tc.kind, err)
			}
		}
	}
	if err := take(New(closed)); !errors.Is(err, redis.ErrClosed) {
		t.Errorf("closed client: %v does not wrap redis.ErrClosed", err)
	}
	s := New(admin)
	for name, c := range map[string]func() error{
		"Take":    func() error { _, err := s.Take(canceled, key, l, 1); return err },
		"Block":   func() error { return s.Block(canceled, key, l, time.Minute) },
		"Inspect": func() error { _, err := s.Inspect(canceled, l, key); return err },
	} {
		if err := c(); !errors.Is(err, context.Canceled) || kindName(err) != "outage" {
			t.Errorf("%s with a canceled ctx: %v (%s), want an outage wrapping context.Canceled", name, err, kindName(err))
		}
	}
	// A healed key is no error at all.
	if err := admin.HSet(ctx, key, "f", "v").Err(); err != nil {
		t.Fatal(err)
	}
	if res, err := s.Take(ctx, key, l, 1); err != nil || !res.Allowed {
		t.Errorf("Take on a hash: %+v, %v; want healed and admitted", res, err)
	}
}

// CROSSSLOT: the lanes of a TakeAll in different slots are the request's
// fault, not the cluster's.
func TestClusterCrossSlotIsKeyFault(t *testing.T) {
	skipShort(t, "starts a 3-master cluster")
	t.Parallel()
	cluster := testutil.StartCluster(t)
	s := New(cluster.Client(t))
	w := core.Window(3, time.Minute)
	_, err := s.TakeAll(context.Background(), []core.Lane{{Key: "a:{x}:out", Limit: w}, {Key: "a:{y}:out", Limit: w}}, 1)
	if kindName(err) != "key" || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Fatalf("TakeAll over two slots: %v (%s), want a key fault (CROSSSLOT)", err, kindName(err))
	}
	t.Logf("%v", err)
}

// redisErr is a Redis error reply, as go-redis returns it.
type redisErr string

func (e redisErr) Error() string { return string(e) }
func (redisErr) RedisError()     {}

// Replies no test server gives on demand (without DEBUG), and errors that
// are not replies.
func TestKindOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		kind string
	}{
		{redisErr("LOADING Redis is loading the dataset in memory"), "outage"},
		{redisErr("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."), "outage"},
		{redisErr("CLUSTERDOWN The cluster is down"), "outage"},
		{redisErr("TRYAGAIN Multiple keys request during rehashing of slot"), "outage"},
		{redisErr("BUSY Redis is busy running a script."), "outage"},
		{redisErr("READONLY You can't write against a read only replica."), "outage"},
		{redisErr("OOM command not allowed when used memory > 'maxmemory'."), "outage"},
		{redisErr("ERR user_script:1: Script attempted to access nonexistent global variable 'x'"), "outage"},
		{redisErr("NOSCRIPT No matching script. Please use EVAL."), "config"},
		{redisErr("NOPERM this user has no permissions to run the 'evalsha' command"), "config"},
		{redisErr("NOAUTH Authentication required."), "config"},
		{redisErr("WRONGPASS invalid username-password pair or user is disabled."), "config"},
		{redisErr("ERR AUTH <password> called without any password configured for the default user."), "config"},
		{redisErr("ERR unknown command 'evalsha', with args beginning with: "), "config"},
		{redisErr("ERR The user executing the script can't run this command or subcommand script: 1, on @user_script:1."), "config"},
		{redisErr("ERR Error running script (call to f_1): @user_script:25: @user_script: 25: -NOPERM this user has no permissions"), "config"},
		{redisErr("ERR Error running script (call to f_1): @user_script:25: @user_script: 25: -WRONGTYPE Operation against a key"), "key"},
		{redisErr("WRONGTYPE Operation against a key holding the wrong kind of value"), "key"},
		{redis.ErrCrossSlot, "key"},
		{fmt.Errorf("%w [1 2]", errBadReply), "key"},
		{fmt.Errorf("fallback: %w", core.ErrKeyFault), "key"},
		{context.DeadlineExceeded, "outage"},
		{context.Canceled, "outage"},
		{io.EOF, "outage"},
		{redis.ErrClosed, "outage"},
		{redis.ErrPoolTimeout, "outage"},
		{&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, "outage"},
	} {
		err := storeErr(context.Background(), "eval", tc.err)
		if got := kindName(err); got != tc.kind || !errors.Is(err, tc.err) {
			t.Errorf("%q: %s (wraps the cause: %v), want %s", tc.err, got, errors.Is(err, tc.err), tc.kind)
		}
	}
	// A deadline go-redis set on the socket fails as an i/o timeout: once
	// the caller's deadline has passed, the error says so.
	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	timeout := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	if err := storeErr(expired, "eval", timeout); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, timeout) || kindName(err) != "outage" {
		t.Errorf("%q after the deadline: want an outage wrapping context.DeadlineExceeded and the i/o timeout", err)
	}
	if err := storeErr(context.Background(), "eval", timeout); errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%q without a deadline wraps context.DeadlineExceeded", err)
	}
	// An error that already has its kind keeps it, once.
	err := storeErr(context.Background(), "eval", fmt.Errorf("x: %w", core.ErrMisconfigured))
	if strings.Count(err.Error(), core.ErrMisconfigured.Error()) != 1 {
		t.Errorf("%q names its kind twice", err)
	}
}
