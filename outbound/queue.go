package outbound

import (
	"sync"
	"time"
)

// queue is one instance's line for the store: it lets at most its
// capacity of the instance's requests hold a slot that lies ahead (a
// place), hands places out in the order requests asked, and makes the
// holders ask the store in that same order.
//
// Places bound the slots one instance reserves ahead of time, which every
// Reserve reads, however many goroutines send at once; the rest wait here,
// before a connection is even made. Order matters because a holder asks
// the store only when its body has been written (see gate): left to the
// scheduler, the holders of one burst would ask in any order, and the
// first to queue could get a slot a second after the last. So each place
// comes with a turn: a holder asks the store after the holder before it
// has asked, or has given up, or has taken turnWait without asking (a slow
// dial or upload must not hold up the instance). A streamed upload takes
// no turn (see place.unordered): it may take far longer than turnWait to
// reach its end, and it takes its rank when it does.
type queue struct {
	mu      sync.Mutex
	free    int      // places nobody holds
	waiting []*place // requests waiting for a place, in the order they asked
	last    *place   // the holder that got its place last, if it has not asked yet
}

// turnWait is the longest a holder waits for the holder before it to ask
// the store.
const turnWait = time.Second

// place is one request's place in the queue, from enter to leave.
type place struct {
	granted chan struct{}   // closed when the request holds a place
	turn    <-chan struct{} // the asked of the holder before it, if that had not asked; nil: none
	asked   chan struct{}   // closed once this holder asked the store or gave up
	once    sync.Once
	held    bool // under queue.mu: granted and not yet left
}

func newQueue(capacity int) *queue { return &queue{free: capacity} }

// enter puts a request in line. The place is granted at once (granted is
// closed) when one is free and nobody waits; else when leave hands one on.
func (q *queue) enter() *place {
	p := &place{granted: make(chan struct{}), asked: make(chan struct{})}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.free > 0 && len(q.waiting) == 0 {
		q.free--
		q.grant(p)
	} else {
		q.waiting = append(q.waiting, p)
	}
	return p
}

// grant gives p a place and its turn, behind the last holder. Under q.mu.
func (q *queue) grant(p *place) {
	p.held = true
	if q.last != nil {
		select {
		case <-q.last.asked:
		default:
			p.turn = q.last.asked // not the place: a line of places would keep every one alive
		}
	}
	q.last = p
	close(p.granted)
}

// leave gives p's place to the first request waiting, or frees it; a
// request that was still waiting leaves the line. It marks p as having
// asked. Idempotent.
func (q *queue) leave(p *place) {
	p.done()
	q.mu.Lock()
	defer q.mu.Unlock()
	if !p.held {
		for i, w := range q.waiting {
			if w == p {
				q.waiting = append(q.waiting[:i], q.waiting[i+1:]...)
				break
			}
		}
		return
	}
	p.held = false
	if q.last == p {
		q.last = nil
	}
	if len(q.waiting) > 0 {
		next := q.waiting[0]
		q.waiting[0] = nil
		q.waiting = q.waiting[1:]
		q.grant(next)
		return
	}
	q.free++
}

// done marks that p asked the store (or will not), so the holder after it
// may ask. Idempotent.
func (p *place) done() { p.once.Do(func() { close(p.asked) }) }

// unordered releases the holder after p at once: p takes no turn.
func (p *place) unordered() { p.done() }
