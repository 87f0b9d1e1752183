// Package testutil holds what floodgate's tests (and the token-free demo)
// share: a launcher for real redis-server processes, a frozen clock, the
// store conformance suite that every core.Store must pass, and a local fake
// Telegram Bot API server (BotAPI).
package testutil

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// InstallHint tells a developer how to get the binaries the Redis tests use.
const InstallHint = "install it with `sudo apt-get install -y redis-server`, " +
	"or run the README's test command (./scripts/test.sh), which installs it"

// Redis is a real redis-server child process listening on a free loopback
// port, with persistence off. It is stopped (by pid) when the test ends.
type Redis struct {
	// Addr is host:port of the server, e.g. 127.0.0.1:40123.
	Addr string
	// Port is the port in Addr.
	Port int

	bin  string
	args []string
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// StartRedis starts a redis-server for the test and registers its shutdown
// with t.Cleanup. extra are more server arguments ("--maxmemory", "1mb").
// It fails the test, with an install hint, when redis-server is missing.
func StartRedis(t testing.TB, extra ...string) *Redis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found in PATH: %s", InstallHint)
	}
	r := &Redis{bin: bin, dir: t.TempDir()}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("testutil: find a free port: %v", err)
		}
		r.Port = port
		r.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		r.args = append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", r.dir,
			"--logfile", ""}, extra...)
		if lastErr = r.start(); lastErr == nil {
			t.Cleanup(r.Stop)
			return r
		}
	}
	t.Fatalf("testutil: start redis-server: %v", lastErr)
	return nil
}

// start launches the server with r.args and waits until it answers PING.
func (r *Redis) start() error {
	cmd := exec.Command(r.bin, r.args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	lines := make(chan string, 64)
	go func() { // drain the log so the server never blocks on a full pipe
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(done) }()
	r.cmd, r.done = cmd, done
	if err := waitPing(r.Addr, done, 10*time.Second); err != nil {
		r.Stop()
		var log []string
		for len(lines) > 0 {
			log = append(log, <-lines)
		}
		return fmt.Errorf("%w; server log: %s", err, strings.Join(log, " | "))
	}
	return nil
}

// waitPing dials addr until the server answers PING, the process exits, or
// the deadline passes.
func waitPing(addr string, exited <-chan struct{}, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		select {
		case <-exited:
			return fmt.Errorf("redis-server on %s exited during start-up", addr)
		default:
		}
		if pingOnce(addr) == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on %s did not answer PING within %v", addr, within)
		}
		time.Sleep(5 * time.Millisecond) // polling a child process's readiness
	}
}

func pingOnce(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") && !strings.HasPrefix(line, "-NOAUTH") { // NOAUTH: up, with a password
		return fmt.Errorf("unexpected reply %q", line)
	}
	return nil
}

// Stop kills the server by its pid and waits for it to exit. Safe to call
// more than once.
func (r *Redis) Stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	<-r.done
}

// Signal sends sig to the server (syscall.SIGSTOP to hang it, SIGCONT to
// resume it, SIGKILL to crash it).
func (r *Redis) Signal(sig syscall.Signal) error { return r.cmd.Process.Signal(sig) }

// Restart starts a fresh, empty server on the same port after Stop.
func (r *Redis) Restart() error {
	r.Stop()
	return r.start()
}

// Pid returns the server's process id.
func (r *Redis) Pid() int { return r.cmd.Process.Pid }

// URL returns redis://Addr/0.
func (r *Redis) URL() string { return "redis://" + r.Addr + "/0" }

// Client returns a go-redis client for the server, closed when the test
// ends.
func (r *Redis) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: r.Addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// freePort asks the kernel for a free loopback TCP port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// AssertEveryKeyHasTTL scans every key of the server (SCAN, never KEYS) and
// fails the test for any key without a time to live. It returns how many
// keys it checked.
func AssertEveryKeyHasTTL(t testing.TB, c redis.UniversalClient) int {
	t.Helper()
	ctx := context.Background()
	var n atomic.Int64 // ForEachMaster runs check concurrently
	check := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, "*", 1000).Iterator()
		for iter.Next(ctx) {
			n.Add(1)
			ttl, err := c.PTTL(ctx, iter.Val()).Result()
			if err != nil {
				return err
			}
			if ttl < 0 && ttl != -2*time.Nanosecond { // -2: expired between SCAN and PTTL
				t.Errorf("key %q has no TTL (PTTL %v)", iter.Val(), ttl)
			}
		}
		return iter.Err()
	}
	var err error
	switch c := c.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, check)
	case *redis.Client:
		err = check(ctx, c)
	default:
		t.Fatalf("AssertEveryKeyHasTTL: unsupported client %T", c)
	}
	if err != nil {
		t.Fatalf("scan keys: %v", err)
	}
	return int(n.Load())
}

// CommandCalls returns how many times the server ran each command since
// start or the last CONFIG RESETSTAT, from INFO commandstats, keyed by lower
// case command name ("evalsha", "eval", "time").
func CommandCalls(ctx context.Context, c redis.UniversalClient) (map[string]int64, error) {
	info, err := c.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, err
	}
	calls := map[string]int64{}
	for _, line := range strings.Split(info, "\n") {
		// cmdstat_evalsha:calls=3,usec=40,usec_per_call=13.33,...
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		for _, field := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(field, "calls="); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				calls[strings.TrimPrefix(name, "cmdstat_")] = n
			}
		}
	}
	return calls, nil
}

// UsedMemory returns the server's INFO memory used_memory in bytes, failing
// tb when it cannot be read.
func UsedMemory(tb testing.TB, c redis.UniversalClient) int64 {
	tb.Helper()
	info, err := c.Info(context.Background(), "memory").Result()
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return n
		}
	}
	tb.Fatal("INFO memory has no used_memory")
	return 0
}
