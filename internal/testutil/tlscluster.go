package testutil

import (
	"net"
	"strconv"
	"strings"
	"testing"
)

// TLSCluster is a Cluster whose nodes also serve TLS (tls-cluster yes:
// the cluster bus too, and CLUSTER SLOTS names the TLS ports), with
// certificates a test CA signed for 127.0.0.1 and "redis.test".
type TLSCluster struct {
	*Cluster
	// TLSAddrs are the nodes' TLS listeners, in Nodes order.
	TLSAddrs []string
	// CA signed every node's certificate.
	CA *CA
}

// StartTLSCluster starts a three-master cluster as StartCluster does, each
// node with a TLS port.
func StartTLSCluster(t testing.TB) *TLSCluster {
	t.Helper()
	ca := NewCA(t, "floodgate test cluster CA")
	cert, key := ca.Issue(t, "redis-cluster-node", "127.0.0.1", "redis.test")
	tc := &TLSCluster{CA: ca}
	for range 3 {
		port, err := freePort()
		if err != nil {
			t.Fatalf("testutil: find a free port: %v", err)
		}
		tc.TLSAddrs = append(tc.TLSAddrs, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	}
	tc.Cluster = startCluster(t, func(i int) []string {
		_, port, _ := net.SplitHostPort(tc.TLSAddrs[i])
		return []string{"--tls-port", port, "--tls-cert-file", cert, "--tls-key-file", key,
			"--tls-ca-cert-file", ca.CertFile, "--tls-auth-clients", "no", "--tls-cluster", "yes",
			"--tls-replication", "yes"}
	})
	return tc
}

// TLSURL returns rediss+cluster:// with every node's TLS address.
func (c *TLSCluster) TLSURL() string { return "rediss+cluster://" + strings.Join(c.TLSAddrs, ",") }
