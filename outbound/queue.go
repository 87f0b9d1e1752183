package outbound

import (
	"sync"
	"time"
)

// queue is one instance's line for the store: its requests ask the store
// in the order they asked the throttle.
//
// A request asks the store when its body has been written (see gate), and
// left to the scheduler the requests of one burst would write their bodies,
// and so ask, in any order: the first to queue could get a slot a second
// after the last. So each request that joins the line gets a turn: it asks
// the store after the request before it has asked, or has given up, or has
// taken turnWait without asking (a slow dial or upload must not hold up
// the instance). A streamed upload takes no turn (see place.unordered): it
// may take far longer than turnWait to reach its end, and it takes its
// rank when it does.
//
// Nothing else waits here: every request reserves its slot as it asks
// (however far ahead it lies, within its budget), which a Reserve that
// reads a long lane at its two ends only (decide.Span) makes as cheap for
// the ten-thousandth send as for the first.
type queue struct {
	mu   sync.Mutex
	last *place // the request that joined last, if it has not asked yet
}

// turnWait is the longest a request waits for the one before it to ask
// the store.
const turnWait = time.Second

// place is one request's place in the line, from enter to leave.
type place struct {
	turn  <-chan struct{} // the asked of the request before it, if that had not asked; nil: none
	asked chan struct{}   // closed once this request asked the store or gave up
	once  sync.Once
}

// enter puts a request in line, behind the last one. mark, if not nil, is
// called in line (a test's timestamp of the order).
func (q *queue) enter(mark func()) *place {
	p := &place{asked: make(chan struct{})}
	q.mu.Lock()
	defer q.mu.Unlock()
	if mark != nil {
		mark()
	}
	if q.last != nil {
		select {
		case <-q.last.asked:
		default:
			p.turn = q.last.asked // not the place: a line of places would keep every one alive
		}
	}
	q.last = p
	return p
}

// leave takes p out of the line, marking it as having asked. Idempotent.
func (q *queue) leave(p *place) {
	p.done()
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.last == p {
		q.last = nil
	}
}

// done marks that p asked the store (or will not), so the request after
// it may ask. Idempotent.
func (p *place) done() { p.once.Do(func() { close(p.asked) }) }

// unordered releases the request after p at once: p takes no turn.
func (p *place) unordered() { p.done() }
