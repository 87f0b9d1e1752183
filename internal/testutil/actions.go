package testutil

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/guard"
)

// ActionLog is a guard.Observer that records the Bot API calls a Guard
// made, or dropped, on denials. It is safe for concurrent use.
type ActionLog struct {
	mu      sync.Mutex
	events  []guard.ActionEvent
	changed chan struct{} // closed and replaced at each event
}

// Action records e.
func (l *ActionLog) Action(e guard.ActionEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
}

// WaitEvents blocks until at least n events were recorded, and fails the
// test if that takes more than 20 s.
func (l *ActionLog) WaitEvents(t testing.TB, n int) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		l.mu.Lock()
		if len(l.events) >= n {
			l.mu.Unlock()
			return
		}
		if l.changed == nil {
			l.changed = make(chan struct{})
		}
		changed := l.changed
		l.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("waited 20 s for %d Guard actions, have %d", n, len(l.Events()))
		}
	}
}

// Events returns the events recorded so far, oldest first.
func (l *ActionLog) Events() []guard.ActionEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]guard.ActionEvent(nil), l.events...)
}

// Dropped returns how many calls to each Bot API method were dropped.
func (l *ActionLog) Dropped() map[string]int {
	n := map[string]int{}
	for _, e := range l.Events() {
		if e.Dropped {
			n[e.Action]++
		}
	}
	return n
}

// Settle waits, up to 20 s, for the answers and notices g is sending off
// the update path (guard.Guard.Respond) to be done, and fails the test
// otherwise.
func Settle(t testing.TB, g *guard.Guard) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := g.Wait(ctx); err != nil {
		t.Fatalf("the Guard's calls on denials did not finish: %v", err)
	}
}
