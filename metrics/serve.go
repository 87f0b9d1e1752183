package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server serves /metrics for a bot that has no HTTP server of its own (the
// starter bots use it when METRICS_ADDR is set). A bot that already
// serves HTTP should register m with its registry and mount promhttp
// itself instead.
type Server struct {
	srv  *http.Server
	addr string
	done chan struct{}
}

// Listen starts serving m, plus the Go runtime and process collectors, at
// http://addr/metrics on a registry of its own. It binds before returning,
// so a bad or busy address is an error here, not later.
func Listen(addr string, m *Metrics) (*Server, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(m); err != nil {
		return nil, err
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	s := &Server{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, addr: ln.Addr().String(), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // Serve only fails here if the listener breaks; Close reports nothing more
		}
	}()
	return s, nil
}

// Addr returns the address the server listens on (useful with port 0).
func (s *Server) Addr() string { return s.addr }

// Close stops the server, letting scrapes in progress finish for up to 5 s.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	<-s.done
	return err
}
