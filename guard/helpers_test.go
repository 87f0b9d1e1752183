package guard_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
)

var discard = slog.New(slog.DiscardHandler)

// newMemory returns a memory store on clock, closed when the test ends.
func newMemory(t testing.TB, clock *testutil.Clock, opts ...memorystore.Option) *memorystore.Store {
	t.Helper()
	st := memorystore.New(append([]memorystore.Option{memorystore.WithClock(clock.Now)}, opts...)...)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// newGuard builds a Guard under l over a fresh memory store on a frozen
// clock, logging nowhere.
func newGuard(t testing.TB, l core.Limit, opts ...guard.Option) (*guard.Guard, *testutil.Clock) {
	t.Helper()
	clock := testutil.NewClock()
	return testutil.NewGuard(t, newMemory(t, clock), l, nil, nil, opts...), clock
}

// msg is a message from user in chat (private when user == chat).
func msg(user, chat int64, text string) guard.Update {
	typ := "private"
	if chat < 0 {
		typ = "supergroup"
	}
	return guard.Update{Kind: guard.KindMessage, UserID: user, ChatID: chat, ChatType: typ, Command: guard.CommandOf(text)}
}

// check runs g.Check on u and fails the test unless the Verdict passes as
// pass with reason.
func check(t *testing.T, g *guard.Guard, u guard.Update, pass bool, reason guard.Reason, step string) guard.Verdict {
	t.Helper()
	v := g.Check(t.Context(), u)
	if v.Pass != pass || v.Reason != reason {
		t.Fatalf("%s: %+v, want pass=%v reason=%v", step, v, pass, reason)
	}
	return v
}

// errDown is what a flakyStore returns while it is down.
var errDown = errors.New("flaky: store is down")

// flakyStore is a memory store that can be taken down and brought back,
// like a Redis that restarts, and counts the calls that reach it.
type flakyStore struct {
	core.Store
	down  atomic.Bool
	calls atomic.Int64
}

func (s *flakyStore) fail() error {
	s.calls.Add(1)
	if s.down.Load() {
		return errDown
	}
	return nil
}

func (s *flakyStore) Take(ctx context.Context, key string, l core.Limit, n int) (core.Result, error) {
	if err := s.fail(); err != nil {
		return core.Result{}, err
	}
	return s.Store.Take(ctx, key, l, n)
}

func (s *flakyStore) Peek(ctx context.Context, key string, l core.Limit) (core.Result, error) {
	if err := s.fail(); err != nil {
		return core.Result{}, err
	}
	return s.Store.Peek(ctx, key, l)
}

func (s *flakyStore) Reset(ctx context.Context, key string) error {
	if err := s.fail(); err != nil {
		return err
	}
	return s.Store.Reset(ctx, key)
}

func (s *flakyStore) Block(ctx context.Context, key string, l core.Limit, d time.Duration) error {
	if err := s.fail(); err != nil {
		return err
	}
	return s.Store.Block(ctx, key, l, d)
}

func (s *flakyStore) TakeAll(ctx context.Context, lanes []core.Lane, n int) (core.Result, error) {
	if err := s.fail(); err != nil {
		return core.Result{}, err
	}
	return s.Store.TakeAll(ctx, lanes, n)
}

// resilient wraps st as store.Open wraps Redis, on clock, with r's policy
// and breaker settings (zero: the defaults; FailLocal gets a fallback).
func resilient(t testing.TB, st core.Store, clock *testutil.Clock, r core.Resilience) core.Store {
	t.Helper()
	if r.Policy == core.FailLocal && r.Fallback == nil {
		r.Fallback = newMemory(t, clock)
	}
	r.Clock, r.Logger = clock.Now, discard
	rs, err := core.Resilient(st, r)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// actions records the Bot API calls a Guard reports (guard.Observer).
type actions struct {
	mu     sync.Mutex
	events []guard.ActionEvent
}

func (a *actions) Action(e guard.ActionEvent) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, e)
}

// text is a guard.TextFunc that always gives s.
func text(s string) guard.TextFunc { return func(guard.Update, time.Duration) string { return s } }

// responder is a guard.Responder that records each call and returns err.
type responder struct {
	calls []string
	err   error
}

func (r *responder) AnswerCallback(_ context.Context, text string) error {
	r.calls = append(r.calls, "answerCallbackQuery "+text)
	return r.err
}

func (r *responder) AnswerInline(context.Context) error {
	r.calls = append(r.calls, "answerInlineQuery")
	return r.err
}

func (r *responder) SendNotice(_ context.Context, chatID int64, text string) error {
	r.calls = append(r.calls, fmt.Sprintf("sendMessage %d %s", chatID, text))
	return r.err
}
