package outbound

import (
	"sync"
	"time"
)

// queue is one instance's line for the store: its requests ask the store
// in the order they asked the throttle.
//
// A request asks the store when its lanes are known: a form or JSON
// request before its body is written, a multipart one at its body's end
// (see gate). Left to the scheduler, the goroutines of a burst reach that
// point in any order, and the first to queue could get a slot a second
// after the last. So a request may ask only once the request before it in
// line has asked or given up (its turn), or has been allowed to ask for
// turnWait without asking: a stalled dial must not hold up the instance,
// and each stalled request costs the line at most turnWait once, however
// long the line (the bound runs from when the stalled one was allowed,
// not from when its successors joined). A streamed upload takes no turn
// (see place.unordered): it may take far longer than turnWait to reach its
// end, and it takes its rank when it does.
//
// Nothing else waits here: every request books its slot as it asks
// (however far ahead it lies, within its budget), which a Reserve that
// reads a long lane at its two ends only (decide.Span) makes as cheap for
// the ten-thousandth send as for the first.
type queue struct {
	wait time.Duration // turnWait, or a test's

	mu   sync.Mutex
	last *place // the request that joined last, if it has not asked yet
}

// turnWait is the longest a request waits for the one before it to ask the
// store once that one was allowed to.
const turnWait = time.Second

// place is one request's place in the line, from enter to leave.
type place struct {
	allowed chan struct{} // closed when this request may ask the store
	asked   chan struct{} // closed once it asked the store or gave up

	// under the queue's mu
	next                     *place      // the request after it, until it is allowed
	timer                    *time.Timer // allows next turnWait after this one was allowed
	isAllowed, isAsked, late bool        // late: allowed turnWait ago without asking
}

func newQueue(wait time.Duration) *queue { return &queue{wait: wait} }

// enter puts a request in line, behind the last one. mark, if not nil, is
// called in line (a test's timestamp of the order).
func (q *queue) enter(mark func()) *place {
	p := &place{allowed: make(chan struct{}), asked: make(chan struct{})}
	q.mu.Lock()
	defer q.mu.Unlock()
	if mark != nil {
		mark()
	}
	prev := q.last
	q.last = p
	switch {
	case prev == nil || (prev.isAllowed && (prev.isAsked || prev.late)):
		q.allow(p)
	default:
		prev.next = p
	}
	return p
}

// allow lets p ask, and, along the line, every request after it that has
// already left; it arms the timer that lets the next one ask turnWait
// later. Under q.mu.
func (q *queue) allow(p *place) {
	for p != nil && !p.isAllowed {
		p.isAllowed = true
		close(p.allowed)
		if !p.isAsked {
			p.timer = time.AfterFunc(q.wait, func() { q.expire(p) })
			return
		}
		next := p.next
		p.next = nil
		p = next
	}
}

// expire lets the request after p ask: p was allowed turnWait ago and has
// not asked.
func (q *queue) expire(p *place) {
	q.mu.Lock()
	defer q.mu.Unlock()
	p.late = true
	next := p.next
	p.next = nil
	q.allow(next)
}

// leave marks that p asked the store, or will not, and lets the request
// after it ask if p's own turn had come. Idempotent.
func (q *queue) leave(p *place) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if p.isAsked {
		return
	}
	p.isAsked = true
	close(p.asked)
	if !p.isAllowed {
		return // it passes the turn on when it gets it
	}
	if q.last == p {
		q.last = nil
	}
	if p.timer != nil {
		p.timer.Stop()
	}
	next := p.next
	p.next = nil
	q.allow(next)
}
