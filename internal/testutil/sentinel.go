package testutil

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMasterName is the name the Sentinel of StartSentinel monitors.
const SentinelMasterName = "mymaster"

// sentinelReadyWithin bounds how long StartSentinel waits for the
// replication link and for the Sentinel to know master and replica.
const sentinelReadyWithin = 15 * time.Second

// Sentinel is a real Redis Sentinel setup: one master, one replica of it,
// and one Sentinel process monitoring the master as "mymaster" with a
// quorum of 1, down-after-milliseconds 1000 and failover-timeout 5000.
// All three are child processes on free loopback ports, stopped by pid
// when the test ends.
type Sentinel struct {
	master, replica *Redis
	sentinel        *Redis
	admin           *redis.SentinelClient
}

// StartSentinel starts the master, the replica (--replicaof the master)
// and the Sentinel (redis-sentinel with a generated config file, or
// redis-server --sentinel when redis-sentinel is not installed), then waits
// (at most 15 s) until the replica's link to the master is up and the
// Sentinel lists the replica as an online replica of mymaster. It fails the
// test, with an install hint, when the binaries are missing.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	// Redis 7 syncs a replica without disk by default, waiting 5 s for
	// more replicas first, and after that sync streams nothing until the
	// replica's first REPLCONF ACK (up to 1 s later). A sync through a file
	// in the master's temporary directory starts streaming at once.
	s := &Sentinel{master: StartRedis(t, "--repl-diskless-sync", "no")}
	s.replica = StartRedis(t, "--replicaof", "127.0.0.1", strconv.Itoa(s.master.Port),
		"--repl-diskless-sync", "no")
	s.sentinel = startSentinelProcess(t, s.master.Port)
	s.admin = redis.NewSentinelClient(&redis.Options{Addr: s.sentinel.Addr, DialTimeout: time.Second,
		ReadTimeout: time.Second, MaxRetries: -1})
	t.Cleanup(func() { _ = s.admin.Close() })
	if err := s.waitReady(sentinelReadyWithin); err != nil {
		t.Fatalf("testutil: %v", err)
	}
	return s
}

// startSentinelProcess writes a Sentinel config for a free port and starts
// the Sentinel with the launcher StartRedis uses.
func startSentinelProcess(t testing.TB, masterPort int) *Redis {
	t.Helper()
	bin, args := "", []string(nil)
	if b, err := exec.LookPath("redis-sentinel"); err == nil {
		bin = b
	} else if b, err := exec.LookPath("redis-server"); err == nil {
		bin, args = b, []string{"--sentinel"}
	} else {
		t.Fatalf("redis-sentinel not found in PATH: install it with `sudo apt-get install -y redis-sentinel`, " +
			"or run the README's test command (./scripts/test.sh), which installs it")
	}
	r := &Redis{bin: bin, dir: t.TempDir()}
	conf := filepath.Join(r.dir, "sentinel.conf")
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("testutil: find a free port: %v", err)
		}
		r.Port = port
		r.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		// The Sentinel rewrites its config file (it must be writable), so
		// write a fresh one for every attempt.
		text := fmt.Sprintf(`port %d
bind 127.0.0.1
daemonize no
logfile ""
dir %q
sentinel monitor %s 127.0.0.1 %d 1
sentinel down-after-milliseconds %s 1000
sentinel failover-timeout %s 5000
`, port, r.dir, SentinelMasterName, masterPort, SentinelMasterName, SentinelMasterName)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatalf("testutil: write sentinel config: %v", err)
		}
		// The config file must come first.
		r.args = append([]string{conf}, args...)
		if lastErr = r.start(); lastErr == nil {
			t.Cleanup(r.Stop)
			return r
		}
	}
	t.Fatalf("testutil: start redis-sentinel: %v", lastErr)
	return nil
}

// waitReady waits until a write on the master reaches the replica (WAIT),
// and the Sentinel reports the replica online with its master link ok.
func (s *Sentinel) waitReady(within time.Duration) error {
	ctx := context.Background()
	deadline := time.Now().Add(within)
	master := redis.NewClient(&redis.Options{Addr: s.master.Addr, MaxRetries: -1})
	defer master.Close()
	var last string
	for {
		last = s.readiness(ctx, master)
		if last == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sentinel setup not ready within %v: %s", within, last)
		}
		time.Sleep(20 * time.Millisecond) // polling other processes' progress
	}
}

// readiness returns "" when the setup is ready, or what is still missing.
func (s *Sentinel) readiness(ctx context.Context, master *redis.Client) string {
	info, err := master.Info(ctx, "replication").Result()
	if err != nil {
		return "master INFO replication: " + err.Error()
	}
	if v := clusterField(info, "connected_slaves"); v != "1" {
		return "master reports connected_slaves:" + v + ", want 1"
	}
	// A replica can be connected and still receive no writes (see
	// StartSentinel): WAIT for one to be acknowledged.
	const probe = "testutil:sentinel:ready"
	if err := master.Set(ctx, probe, "1", time.Minute).Err(); err != nil {
		return "SET on the master: " + err.Error()
	}
	acked, err := master.Wait(ctx, 1, 100*time.Millisecond).Result()
	if err != nil {
		return "WAIT on the master: " + err.Error()
	}
	if acked != 1 {
		return "the replica has not acknowledged a write yet"
	}
	if err := master.Del(ctx, probe).Err(); err != nil {
		return "DEL on the master: " + err.Error()
	}
	addr, err := s.admin.GetMasterAddrByName(ctx, SentinelMasterName).Result()
	if err != nil {
		return "SENTINEL GET-MASTER-ADDR-BY-NAME: " + err.Error()
	}
	if len(addr) != 2 || net.JoinHostPort(addr[0], addr[1]) != s.master.Addr {
		return fmt.Sprintf("sentinel reports master %v, want %s", addr, s.master.Addr)
	}
	replicas, err := s.admin.Replicas(ctx, SentinelMasterName).Result()
	if err != nil {
		return "SENTINEL REPLICAS: " + err.Error()
	}
	for _, r := range replicas {
		if net.JoinHostPort(r["ip"], r["port"]) == s.replica.Addr &&
			r["flags"] == "slave" && r["master-link-status"] == "ok" {
			return ""
		}
	}
	return fmt.Sprintf("sentinel does not list %s as an online replica yet: %v", s.replica.Addr, replicas)
}

// MasterName returns the monitored master's name, "mymaster".
func (s *Sentinel) MasterName() string { return SentinelMasterName }

// SentinelAddr returns the Sentinel's host:port.
func (s *Sentinel) SentinelAddr() string { return s.sentinel.Addr }

// URL returns redis+sentinel://SentinelAddr/mymaster/0, the form
// store.Config accepts for Sentinel.
func (s *Sentinel) URL() string {
	return "redis+sentinel://" + s.sentinel.Addr + "/" + SentinelMasterName + "/0"
}

// Master returns the server that was master at start (after Failover, the
// replica).
func (s *Sentinel) Master() *Redis { return s.master }

// Replica returns the server that was the replica at start (after
// Failover, the master).
func (s *Sentinel) Replica() *Redis { return s.replica }

// SentinelProcess returns the Sentinel process itself.
func (s *Sentinel) SentinelProcess() *Redis { return s.sentinel }

// FailoverClient returns a go-redis client that finds the master through
// the Sentinel (redis.NewFailoverClient) and follows failovers, closed when
// the test ends.
func (s *Sentinel) FailoverClient(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:    SentinelMasterName,
		SentinelAddrs: []string{s.sentinel.Addr},
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// MasterAddr returns the master's host:port as the Sentinel reports it.
func (s *Sentinel) MasterAddr(ctx context.Context) (string, error) {
	addr, err := s.admin.GetMasterAddrByName(ctx, SentinelMasterName).Result()
	if err != nil {
		return "", err
	}
	if len(addr) != 2 {
		return "", fmt.Errorf("SENTINEL GET-MASTER-ADDR-BY-NAME %s: %v", SentinelMasterName, addr)
	}
	return net.JoinHostPort(addr[0], addr[1]), nil
}

// Failover forces a failover (SENTINEL FAILOVER mymaster) and waits until
// the Sentinel reports the former replica as the master, or ctx ends (give
// it a deadline). At that moment the Sentinel publishes +switch-master;
// failover clients switch when they receive it, a moment later. The old
// master stays a master until the Sentinel demotes it, about 8 s later
// (Sentinel waits that long before reconfiguring an instance that still
// claims to be master); writes that reach it meanwhile are lost when it
// resyncs from the new master. After Failover, Master and Replica still
// return the processes as they were at start.
func (s *Sentinel) Failover(ctx context.Context) error {
	if err := s.admin.Failover(ctx, SentinelMasterName).Err(); err != nil {
		return fmt.Errorf("SENTINEL FAILOVER %s: %w", SentinelMasterName, err)
	}
	for {
		addr, err := s.MasterAddr(ctx)
		if err == nil && addr == s.replica.Addr {
			return nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("master still %s", addr)
			}
			return fmt.Errorf("failover to %s not done: %w (%w)", s.replica.Addr, ctx.Err(), err)
		case <-time.After(10 * time.Millisecond): // polling the Sentinel's view
		}
	}
}
