package outbound

import (
	"testing"
	"time"
)

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// TestQueue: a request may ask once the one before it has asked or left;
// one that leaves before its turn passes the turn on when it gets it, so
// the next still asks after the ones before; an empty line asks at once.
func TestQueue(t *testing.T) {
	q := newQueue(time.Hour) // only order, never the bound, may let a request ask
	a, b, c := q.enter(nil), q.enter(nil), q.enter(nil)
	if !isClosed(a.allowed) || isClosed(b.allowed) || isClosed(c.allowed) {
		t.Fatal("a must ask first, then b, then c")
	}
	q.leave(a) // a asked
	if !isClosed(b.allowed) || isClosed(c.allowed) {
		t.Fatal("a asked: b may ask, c not yet")
	}
	q.leave(c) // c gives up (or takes no turn) before its turn
	d := q.enter(nil)
	if isClosed(c.allowed) || isClosed(d.allowed) {
		t.Fatal("b has not asked: neither c nor d may")
	}
	q.leave(b) // b asked: c's turn, which it passes on to d
	if !isClosed(c.allowed) || !isClosed(d.allowed) {
		t.Fatal("b asked and c left: d may ask")
	}
	q.leave(d)
	q.leave(d) // idempotent
	if e := q.enter(nil); !isClosed(e.allowed) {
		t.Fatal("with everyone asked, e must ask at once")
	}
}

// TestQueueBound: a request allowed to ask that does not (a stalled dial)
// holds up the one after it for the bound, counted from when it was
// allowed; a request joining after that asks at once behind it.
func TestQueueBound(t *testing.T) {
	q := newQueue(20 * time.Millisecond)
	stalled, next := q.enter(nil), q.enter(nil)
	if !isClosed(stalled.allowed) || isClosed(next.allowed) {
		t.Fatal("the first asks at once, the second waits")
	}
	select {
	case <-next.allowed:
	case <-time.After(10 * time.Second): // generous: only a broken bound waits this long
		t.Fatal("the request after a stalled one was never allowed")
	}
	q.leave(next)
	if late := q.enter(nil); !isClosed(late.allowed) {
		t.Fatal("behind a stalled request already passed over, a newcomer must ask at once")
	}
}
