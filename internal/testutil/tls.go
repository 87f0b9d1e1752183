package testutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// CA is a certificate authority a test generates: its certificate in
// CertFile (PEM), and what it needs to issue certificates.
type CA struct {
	// CertFile is the CA certificate, PEM, to trust (REDIS_TLS_CA_FILE).
	CertFile string
	cert     *x509.Certificate
	key      *ecdsa.PrivateKey
	dir      string
}

// NewCA generates a CA named name, valid for a day, its files in a
// directory of the test.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &CA{cert: cert, key: key, dir: t.TempDir()}
	ca.CertFile = ca.write(t, "ca.pem", "CERTIFICATE", der)
	return ca
}

// Issue signs a certificate for name (a server's host names and IP
// addresses in hosts, good for client authentication too; or a client
// only when hosts is empty) and returns its certificate and key files,
// PEM.
func (ca *CA) Issue(t testing.TB, name string, hosts ...string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if len(hosts) > 0 {
		// A server's certificate serves as a client's too: cluster nodes
		// present it to each other on the TLS cluster bus.
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return ca.write(t, name+".pem", "CERTIFICATE", der), ca.write(t, name+"-key.pem", "EC PRIVATE KEY", keyDER)
}

func (ca *CA) write(t testing.TB, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(ca.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TLSRedis is a redis-server that also listens for TLS on TLSAddr, with a
// certificate a test CA signed for 127.0.0.1 and the name "redis.test".
// Addr (plain TCP) stays open for the test's own client.
type TLSRedis struct {
	*Redis
	// TLSAddr is host:port of the TLS listener.
	TLSAddr string
	// CA signed the server's certificate and the client certificate.
	CA *CA
	// ClientCertFile and ClientKeyFile are a client certificate the CA
	// signed, for mutual TLS.
	ClientCertFile, ClientKeyFile string
}

// StartTLSRedis starts a redis-server with a TLS port, its certificate
// signed by a CA the test generates. With requireClientCert the server
// refuses TLS clients without a certificate from that CA
// (tls-auth-clients yes). extra are more server arguments.
func StartTLSRedis(t testing.TB, requireClientCert bool, extra ...string) *TLSRedis {
	t.Helper()
	ca := NewCA(t, "floodgate test CA")
	serverCert, serverKey := ca.Issue(t, "redis-server", "127.0.0.1", "redis.test")
	clientCert, clientKey := ca.Issue(t, "floodgate-client")
	port, err := freePort()
	if err != nil {
		t.Fatalf("testutil: find a free port: %v", err)
	}
	auth := "no"
	if requireClientCert {
		auth = "yes"
	}
	args := append([]string{"--tls-port", strconv.Itoa(port), "--tls-cert-file", serverCert,
		"--tls-key-file", serverKey, "--tls-ca-cert-file", ca.CertFile, "--tls-auth-clients", auth}, extra...)
	r := StartRedis(t, args...)
	return &TLSRedis{Redis: r, TLSAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), CA: ca,
		ClientCertFile: clientCert, ClientKeyFile: clientKey}
}

// TLSURL returns rediss://TLSAddr/0.
func (r *TLSRedis) TLSURL() string { return "rediss://" + r.TLSAddr + "/0" }
