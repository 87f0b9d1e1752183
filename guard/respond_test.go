package guard_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/outbound"
)

// stuck is a guard.Responder whose calls hang until released or until their
// ctx ends, like a notice queued behind a busy group's outbound lane.
type stuck struct {
	started chan string
	release chan struct{}
}

func newStuck() *stuck { return &stuck{started: make(chan string, 16), release: make(chan struct{})} }

func (s *stuck) wait(ctx context.Context, call string) error {
	s.started <- call
	select {
	case <-s.release:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", call, ctx.Err())
	}
}

func (s *stuck) AnswerCallback(ctx context.Context, _ string) error {
	return s.wait(ctx, "answerCallbackQuery")
}
func (s *stuck) AnswerInline(ctx context.Context) error { return s.wait(ctx, "answerInlineQuery") }
func (s *stuck) SendNotice(ctx context.Context, _ int64, _ string) error {
	return s.wait(ctx, "sendMessage")
}

// Respond returns while its calls hang; they run under their own deadline,
// not the caller's ctx, and a call that misses the deadline is dropped and
// reported so.
func TestRespondOffThePath(t *testing.T) {
	t.Parallel()
	obs := &actions{}
	g, _ := newGuard(t, core.Every(time.Hour), guard.WithObserver(obs), guard.WithActions(4, 100*time.Millisecond))
	m := msg(3, -5, "x")
	g.Check(t.Context(), m)
	v := g.Check(t.Context(), m)
	if v.Notice == "" {
		t.Fatalf("%+v: want a notice due", v)
	}
	s := newStuck()
	ctx, cancel := context.WithCancel(t.Context())
	g.Respond(ctx, m, v, s, "") // must not wait for the notice
	cancel()                    // the update's handling ends: the notice goes on
	if call := <-s.started; call != "sendMessage" {
		t.Fatalf("started %q, want the notice", call)
	}
	// The update path is free: another user is decided meanwhile.
	check(t, g, msg(4, 4, "/ping"), true, guard.ReasonAllowed, "unrelated user while the notice hangs")
	if err := g.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if len(obs.events) != 1 || !obs.events[0].Dropped || !errors.Is(obs.events[0].Err, context.DeadlineExceeded) {
		t.Fatalf("observer heard %+v, want one dropped sendMessage past its deadline", obs.events)
	}
}

// At most WithActions' max denials are acted on at once; beyond that the
// calls are dropped at once, reported with ErrActionsBusy, and Respond
// still returns without waiting.
func TestRespondBounded(t *testing.T) {
	t.Parallel()
	obs := &actions{}
	g, _ := newGuard(t, core.Every(time.Hour), guard.WithObserver(obs), guard.WithActions(2, time.Minute))
	s := newStuck()
	for user := int64(1); user <= 3; user++ {
		cb := guard.Update{Kind: guard.KindCallbackQuery, UserID: user}
		g.Check(t.Context(), cb)
		g.Respond(t.Context(), cb, g.Check(t.Context(), cb), s, "")
	}
	<-s.started
	<-s.started
	obs.mu.Lock()
	if len(obs.events) != 1 || !obs.events[0].Dropped || !errors.Is(obs.events[0].Err, guard.ErrActionsBusy) ||
		obs.events[0].Action != "answerCallbackQuery" {
		t.Errorf("observer heard %+v, want the third answer dropped as busy", obs.events)
	}
	obs.mu.Unlock()
	short, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if err := g.Wait(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait with two calls hanging = %v, want the ctx's deadline", err)
	}
	close(s.release)
	if err := g.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if len(obs.events) != 3 || obs.events[1].Dropped || obs.events[2].Dropped {
		t.Errorf("observer heard %+v, want two answers made after the busy one", obs.events)
	}
}

// A send an outbound throttle refuses because its lane cannot admit it
// before the deadline is dropped, not failed: it would have gone out late.
func TestRespondThrottleRefusal(t *testing.T) {
	t.Parallel()
	obs := &actions{}
	g, _ := newGuard(t, core.Every(time.Hour), guard.WithObserver(obs))
	m := msg(3, -5, "x")
	g.Check(t.Context(), m)
	refused := fmt.Errorf("Post \"https://api.telegram.org/botX/sendMessage\": %w", outbound.ErrWaitTooLong)
	g.Respond(t.Context(), m, g.Check(t.Context(), m), &responder{err: refused}, "")
	failed := errors.New("Bad Request: chat not found")
	m2 := msg(4, -5, "x")
	g.Check(t.Context(), m2)
	g.Respond(t.Context(), m2, g.Check(t.Context(), m2), &responder{err: failed}, "")
	if err := g.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if len(obs.events) != 2 {
		t.Fatalf("observer heard %+v, want 2 events", obs.events)
	}
	for _, e := range obs.events {
		if want := errors.Is(e.Err, outbound.ErrWaitTooLong); e.Dropped != want {
			t.Errorf("%+v: Dropped %v, want %v", e, e.Dropped, want)
		}
	}
}

func TestWithActionsInvalid(t *testing.T) {
	t.Parallel()
	lim, err := core.New(newMemory(t, testutil.NewClock()), core.PerSecond(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, opt := range []guard.Option{guard.WithActions(0, time.Second), guard.WithActions(1, 0)} {
		if _, err := guard.New(lim, opt); !errors.Is(err, core.ErrInvalidOption) {
			t.Errorf("New = %v, want ErrInvalidOption", err)
		}
	}
}

// Wait may run while other goroutines are still deciding and responding
// (a framework that handles updates concurrently): no race, and it
// returns once nothing is in flight.
func TestWaitConcurrentWithRespond(t *testing.T) {
	t.Parallel()
	g, _ := newGuard(t, core.Every(time.Hour))
	var wg sync.WaitGroup
	for user := int64(1); user <= 16; user++ {
		wg.Go(func() {
			cb := guard.Update{Kind: guard.KindCallbackQuery, UserID: user}
			for range 3 {
				g.Respond(t.Context(), cb, g.Check(t.Context(), cb), &responder{}, "")
				_ = g.Wait(t.Context())
			}
		})
	}
	wg.Wait()
	short, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := g.Wait(short); err != nil {
		t.Fatalf("Wait after every Respond returned: %v", err)
	}
}
