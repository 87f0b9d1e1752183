package outbound

import "testing"

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// TestQueue: each request's turn follows the request before it until that
// one has asked; a request that leaves (asked or gave up) lets the next
// ask; an empty line asks at once.
func TestQueue(t *testing.T) {
	var q queue
	a, b, c := q.enter(nil), q.enter(nil), q.enter(nil)
	if a.turn != nil || b.turn != (<-chan struct{})(a.asked) || c.turn != (<-chan struct{})(b.asked) {
		t.Fatal("a must ask first, b after a, c after b")
	}
	q.leave(b) // gave up before asking
	if !isClosed(b.asked) || isClosed(a.asked) {
		t.Fatal("b's leaving must let c ask, and only c")
	}
	a.done() // a asked
	d := q.enter(nil)
	if d.turn != (<-chan struct{})(c.asked) {
		t.Fatal("d must ask after c, the last that has not asked")
	}
	c.unordered() // a streamed upload: takes no turn, holds nobody up
	if !isClosed(d.turn) {
		t.Fatal("c took no turn: d may ask")
	}
	q.leave(d)
	q.leave(d) // idempotent
	if e := q.enter(nil); e.turn != nil {
		t.Fatal("with everyone asked, e must ask at once")
	}
}
