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

// TestQueue: places go first come, first served; a request that gives up
// while waiting leaves the line; each holder's turn follows the holder
// before it until that one has asked.
func TestQueue(t *testing.T) {
	q := newQueue(2)
	a, b, c, d := q.enter(), q.enter(), q.enter(), q.enter()
	if !isClosed(a.granted) || !isClosed(b.granted) || isClosed(c.granted) || isClosed(d.granted) {
		t.Fatal("want a and b granted, c and d waiting")
	}
	if a.turn != nil || b.turn != (<-chan struct{})(a.asked) {
		t.Fatal("a must ask first, b after a")
	}
	q.leave(c) // gave up while waiting
	q.leave(a) // a's slot came due: its place goes to d, not c
	if !isClosed(a.asked) || !isClosed(d.granted) || isClosed(c.granted) {
		t.Fatal("a's place must go to d, the first still waiting")
	}
	if d.turn != (<-chan struct{})(b.asked) {
		t.Fatal("d must ask after b, the holder before it that has not asked")
	}
	b.done() // b asked
	e := q.enter()
	if isClosed(e.granted) {
		t.Fatal("both places are held (b, d): e must wait")
	}
	q.leave(b)
	if !isClosed(e.granted) || e.turn != (<-chan struct{})(d.asked) {
		t.Fatal("b's place must go to e, whose turn follows d's")
	}
	d.unordered() // a streamed upload: takes no turn, holds nobody up
	q.leave(d)
	q.leave(e)
	q.leave(e) // idempotent
	f := q.enter()
	if !isClosed(f.granted) || f.turn != nil {
		t.Fatal("with the line empty, f must be granted at once and ask at once")
	}
	if q.free != 1 {
		t.Fatalf("%d free places, want 1", q.free)
	}
}
