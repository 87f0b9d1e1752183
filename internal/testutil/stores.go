package testutil

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
)

// ErrStoreDown is what FailingStore returns.
var ErrStoreDown = errors.New("testutil: store is down")

// FailingStore is a core.Store whose every call fails, like a Redis that is
// down: the limiter's failure policy then decides.
type FailingStore struct{}

// Take implements core.Store: it fails.
func (FailingStore) Take(context.Context, string, core.Limit, int) (core.Result, error) {
	return core.Result{}, ErrStoreDown
}

// Peek implements core.Store: it fails.
func (FailingStore) Peek(context.Context, string, core.Limit) (core.Result, error) {
	return core.Result{}, ErrStoreDown
}

// Reset implements core.Store: it fails.
func (FailingStore) Reset(context.Context, string) error { return ErrStoreDown }

// TakeAll implements core.Store: it fails.
func (FailingStore) TakeAll(context.Context, []core.Lane, int) (core.Result, error) {
	return core.Result{}, ErrStoreDown
}

// Reserve implements core.Store: it fails.
func (FailingStore) Reserve(context.Context, []core.Lane, int, time.Duration, time.Duration) (core.Result, error) {
	return core.Result{}, ErrStoreDown
}

// Block implements core.Store: it fails.
func (FailingStore) Block(context.Context, string, core.Limit, time.Duration) error {
	return ErrStoreDown
}

// AllowStore admits every call at once and costs nothing, so a benchmark
// over it times the adapter and core, not a store.
type AllowStore struct{}

// Take implements core.Store: always allowed.
func (AllowStore) Take(_ context.Context, _ string, l core.Limit, _ int) (core.Result, error) {
	return core.Result{Allowed: true, Remaining: l.Burst - 1, Limit: l}, nil
}

// Peek implements core.Store: always allowed.
func (AllowStore) Peek(_ context.Context, _ string, l core.Limit) (core.Result, error) {
	return core.Result{Allowed: true, Remaining: l.Burst, Limit: l}, nil
}

// Reset implements core.Store.
func (AllowStore) Reset(context.Context, string) error { return nil }

// Block implements core.Store: it does nothing.
func (AllowStore) Block(context.Context, string, core.Limit, time.Duration) error { return nil }

// TakeAll implements core.Store: always allowed.
func (AllowStore) TakeAll(_ context.Context, lanes []core.Lane, _ int) (core.Result, error) {
	l := lanes[0].Limit
	return core.Result{Allowed: true, Remaining: l.Burst - 1, Limit: l}, nil
}

// Reserve implements core.Store: always a slot at once.
func (AllowStore) Reserve(_ context.Context, lanes []core.Lane, _ int, _, _ time.Duration) (core.Result, error) {
	l := lanes[0].Limit
	return core.Result{Allowed: true, Remaining: l.Burst - 1, Limit: l}, nil
}

var (
	_ core.Store = FailingStore{}
	_ core.Store = AllowStore{}
)

// NewGuard builds a Guard for a test: a Limiter over st under l with the
// limiter options lopts, then guard.New with gopts and, first, a logger
// (nil: discard). It fails the test on an error.
func NewGuard(t testing.TB, st core.Store, l core.Limit, logger *slog.Logger, lopts []core.Option, gopts ...guard.Option) *guard.Guard {
	t.Helper()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	lim, err := core.New(st, l, lopts...)
	if err != nil {
		t.Fatalf("core.New: %v", err)
	}
	g, err := guard.New(lim, append([]guard.Option{guard.WithLogger(logger)}, gopts...)...)
	if err != nil {
		t.Fatalf("guard.New: %v", err)
	}
	return g
}

// SyncBuffer is an io.Writer that collects what several goroutines write,
// e.g. a test's log output.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// FreeAddr returns a loopback address ("127.0.0.1:port") with a port that
// was free a moment ago, for a test server to listen on.
func FreeAddr(t testing.TB) string {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatalf("testutil: find a free port: %v", err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}
