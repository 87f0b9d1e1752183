package testutil

import (
	"context"
	"strconv"
	"testing"
	"time"
)

func TestStartSentinel(t *testing.T) {
	t.Parallel()
	start := time.Now()
	s := StartSentinel(t)
	t.Logf("master %s, replica %s, sentinel %s ready in %v", s.Master().Addr, s.Replica().Addr,
		s.SentinelAddr(), time.Since(start).Round(time.Millisecond))
	if s.MasterName() != "mymaster" {
		t.Errorf("MasterName() = %q", s.MasterName())
	}
	ctx := context.Background()
	client := s.FailoverClient(t)
	if err := client.Set(ctx, "before", "1", time.Minute).Err(); err != nil {
		t.Fatalf("SET through the failover client: %v", err)
	}
	// The write reached the replica.
	replica := s.Replica().Client(t)
	if n, err := client.Wait(ctx, 1, time.Second).Result(); err != nil || n != 1 {
		t.Fatalf("WAIT 1 = %d, %v; want the replica to acknowledge the write", n, err)
	}
	if v, err := replica.Get(ctx, "before").Result(); err != nil || v != "1" {
		t.Fatalf("GET before on the replica = %q, %v", v, err)
	}

	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	start = time.Now()
	if err := s.Failover(fctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("failover done in %v", time.Since(start).Round(time.Millisecond))
	if addr, err := s.MasterAddr(ctx); err != nil || addr != s.Replica().Addr {
		t.Fatalf("MasterAddr() = %s, %v; want %s", addr, err, s.Replica().Addr)
	}
	// The failover client follows (on the Sentinel's +switch-master
	// message): its commands reach the former replica.
	deadline := time.Now().Add(5 * time.Second)
	for {
		info, err := client.Info(ctx, "server").Result()
		if err == nil && clusterField(info, "tcp_port") == strconv.Itoa(s.Replica().Port) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the failover client still talks to the old master 5 s after the failover: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("failover client switched %v after the failover began", time.Since(start).Round(time.Millisecond))
	if err := client.Set(ctx, "after", "2", time.Minute).Err(); err != nil {
		t.Fatalf("SET after the failover: %v", err)
	}
	if v, err := replica.Get(ctx, "after").Result(); err != nil || v != "2" {
		t.Errorf("GET after on the new master = %q, %v", v, err)
	}
	role, err := replica.Do(ctx, "ROLE").Slice()
	if err != nil || len(role) == 0 || role[0] != "master" {
		t.Errorf("ROLE of the former replica = %v, %v; want master", role, err)
	}
}
