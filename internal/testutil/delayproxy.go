package testutil

import (
	"net"
	"sync"
	"testing"
	"time"
)

// DelayProxy is a TCP proxy on a loopback port that forwards to a target
// and delays every byte by a fixed time in each direction, so a server on
// the same machine answers as if it were far away: a round trip takes
// twice the delay more. It keeps the bytes' order and does not limit
// throughput. It is closed when the test ends.
type DelayProxy struct {
	// Addr is host:port to dial instead of the target.
	Addr string

	ln     net.Listener
	target string
	delay  time.Duration
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

// StartDelayProxy starts a DelayProxy to target that delays each
// direction by oneWay (a round trip by 2×oneWay).
func StartDelayProxy(t testing.TB, target string, oneWay time.Duration) *DelayProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testutil: delay proxy: %v", err)
	}
	p := &DelayProxy{Addr: ln.Addr().String(), ln: ln, target: target, delay: oneWay}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

func (p *DelayProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(s, c)
		go p.pipe(c, s)
	}
}

// chunk is bytes read at a time, to be written delay later.
type chunk struct {
	b  []byte
	at time.Time
}

// pipe copies src to dst, each chunk delay after it was read.
func (p *DelayProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	ch := make(chan chunk, 1024)
	go func() {
		defer close(ch)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				ch <- chunk{buf[:n], time.Now().Add(p.delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range ch {
		time.Sleep(time.Until(c.at)) // the delay is the proxy's job
		if _, err := dst.Write(c.b); err != nil {
			break
		}
	}
	// Half-close so the other side sees EOF; a full close ends both.
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	for range ch { // drain: the reader ends when src closes
	}
}

// Close stops accepting and closes every connection.
func (p *DelayProxy) Close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
