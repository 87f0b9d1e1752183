package outbound

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/floodgate-go/floodgate/core"
)

// ErrWaitTooLong is wrapped by the error a request gets when the wait for
// its lanes (or a 429's retry_after) would end past the maximum wait
// (WithMaxWait) or past its context's deadline. Such a request is never
// sent; the throttle says so at once rather than sleeping in vain.
var ErrWaitTooLong = errors.New("outbound: wait too long")

// observerRule is the rule name under which the throttle's decisions
// reach its observer (WithObserver; metrics label rule="outbound"). Lane
// keys do not use it.
const observerRule = "outbound"

// DefaultMaxWait is how long a request may wait in the throttle in total,
// 429 retries included, unless WithMaxWait says otherwise. An http.Client
// that goes through the throttle needs a Timeout above it (see Client).
const DefaultMaxWait = time.Minute

// defaultRetries is how many times a request answered 429 (or refused
// before it reached Telegram) is sent again, unless WithRetries says
// otherwise.
const defaultRetries = 3

// Limits are the lanes a throttled request must pass. Every field must be
// a SlidingWindow Limit (core.Window); a zero field takes its default.
// Telegram's Bot FAQ gives the defaults. The throttle keeps each with its
// period lengthened by a small margin (WithMargin).
type Limits struct {
	// Global caps every throttled request of the bot. Default
	// core.Window(30, time.Second).
	Global core.Limit
	// Private caps requests to one private chat (a positive chat_id).
	// Default core.Window(1, time.Second). Telegram tolerates short
	// bursts; core.Window(3, 3*time.Second) lets three go at once.
	Private core.Limit
	// Group caps requests to one group, supergroup or channel (a negative
	// chat_id or an @username). Default core.Window(20, time.Minute).
	Group core.Limit
	// Paid replaces Global for requests with allow_paid_broadcast=true,
	// which Telegram lets through at up to 1000 per second for a fee.
	// Default core.Window(1000, time.Second). The chat lanes still apply.
	Paid core.Limit
}

// defaultLimits returns Telegram's published limits: 30 per second overall,
// 1 per second to a private chat, 20 per minute to a group, 1000 per second
// for paid broadcasts.
func defaultLimits() Limits {
	return Limits{
		Global:  core.Window(30, time.Second),
		Private: core.Window(1, time.Second),
		Group:   core.Window(20, time.Minute),
		Paid:    core.Window(1000, time.Second),
	}
}

// Throttle paces one bot's requests to the Bot API through a core.Store,
// so every instance of the bot that uses the same store (and prefix)
// shares its lanes. Build it with New; plug it into a framework with
// Client (net/http), or Do (any other transport;
// adapters/telegolimit.Caller wraps telego's fasthttp caller with it). A
// Throttle is safe for concurrent use.
type Throttle struct {
	store    core.Store
	prefix   string
	observer core.Observer // nil: none
	limits   Limits
	maxWait  time.Duration
	retries  int
	logger   *slog.Logger
	botID    string
	events   func(Event)
	clock    clock
	// line makes this instance's requests ask the store in the order they
	// asked (see queue).
	line *queue
	// queueing, when set (by tests), is called with a request's context as
	// it joins the line, in line.
	queueing func(context.Context)
	// booked, when set (by tests), is called with a request's context and
	// each answer the store gave it, with the real times of the call and
	// the answer.
	booked func(ctx context.Context, res core.Result, asked, replied time.Time)
	// late is how far past its slot a request may be released (see
	// admit): the margin, at least minLate.
	late time.Duration
	// rtt is the shortest Reserve round trip seen, in ns (0: none yet):
	// the store's answer is taken to be computed rtt/2 after the call.
	rtt atomic.Int64
	// tail is the latest slot this instance was given, in Unix ns on its
	// clock: whether its sends queue (see sendLead).
	tail atomic.Int64
}

// minLate is the least lateness admit tolerates before it takes a new
// slot, whatever the margin: timers and the scheduler are that precise.
const minLate = 5 * time.Millisecond

// maxLateRetries bounds how many new slots one admission takes because it
// was released late: a process stalled that long draws a 429 at worst.
const maxLateRetries = 2

// clock is the throttle's time: the real clock, or a test's.
type clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed, and a
	// function that stops it.
	After(d time.Duration) (<-chan time.Time, func() bool)
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) After(d time.Duration) (<-chan time.Time, func() bool) {
	tm := time.NewTimer(d)
	return tm.C, tm.Stop
}

// chatlessPause is the longest pause a 429 on a request that names no chat
// (editMessageText by inline_message_id, ...) puts on the global (or paid)
// lane, shared by every chat: Telegram's retry_after there concerns that
// request's target, and a day-long retry_after must not silence the bot.
// The request itself still waits out its whole retry_after, within its
// budget, before it is sent again.
const chatlessPause = time.Second

type config struct {
	prefix   string
	observer core.Observer
	limits   Limits
	maxWait  time.Duration
	retries  int
	logger   *slog.Logger
	botID    int64
	events   func(Event)
	margin   time.Duration
}

// DefaultMargin is the margin (WithMargin) every lane's period gets unless
// WithMargin says otherwise.
const DefaultMargin = 25 * time.Millisecond

// Option configures a Throttle in New.
type Option func(*config)

// WithPrefix sets the first part of every lane key (default
// core.DefaultPrefix); use the bot's limiter prefix, e.g. store.Config's
// Prefix, so tenants sharing one Redis stay apart.
func WithPrefix(p string) Option { return func(c *config) { c.prefix = p } }

// WithObserver reports each lane decision to o as a core.DecisionEvent
// under the throttle's prefix (WithPrefix) and the rule name "outbound".
// Default: none.
func WithObserver(o core.Observer) Option { return func(c *config) { c.observer = o } }

// WithLimits sets the lanes (defaults: see Limits); zero fields keep
// their defaults.
func WithLimits(l Limits) Option { return func(c *config) { c.limits = l } }

// WithMaxWait bounds how long one request may wait in the throttle in
// total, for its lanes and for 429 retries (default DefaultMaxWait). A
// request that would wait longer gets an error wrapping ErrWaitTooLong at
// once and is not sent. 0 never waits: a full lane refuses at once.
// Negative is an error. A context deadline shorter than the maximum wait
// bounds it too, and so does an http.Client's Timeout, which covers the
// time spent in its Transport.
func WithMaxWait(d time.Duration) Option { return func(c *config) { c.maxWait = d } }

// WithMargin lengthens every lane's period by d when the throttle reserves
// slots (default DefaultMargin, 25 ms): core.Window(30, time.Second) is
// kept as 30 per 1.025 s. Slots are exact on the store's clock, but a send
// reaches Telegram a little later, by a delay that varies (a timer, the
// scheduler, the connection, the network); when one send of a full window
// is delayed more than the next window's first, Telegram sees both in one
// window. The margin absorbs such jitter up to d, for 2.4% of the pace at
// 30 per second. 0 keeps the periods exact. Negative, or not a whole
// number of microseconds, is an error. Every instance sharing the lanes
// must use the same margin, as the same limits.
func WithMargin(d time.Duration) Option { return func(c *config) { c.margin = d } }

// WithRetries sets how many times a request is sent again (default 3)
// after Telegram answered 429, or after a connection error that proves the
// request never reached Telegram (a failed dial). Nothing else is ever
// retried: not a 5xx, not a timeout, not a reset connection, since
// Telegram may have acted on those. 0 disables retries (lanes are still
// paused on a 429). Negative is an error.
func WithRetries(n int) Option { return func(c *config) { c.retries = n } }

// WithLogger sets where the throttle logs (default slog.Default()): a
// warning per 429 (method, chat id, retry_after) and per pause it could
// not share through the store. Bot API URLs carry the bot token; the
// throttle never logs a URL, and redacts "/bot<token>/" from any error it
// logs.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithBotID sets the bot id in the lane keys (default: read from each
// request's URL, /bot<id>:<secret>/<method>). Set it when requests go
// through a proxy whose URLs carry no token. The id must be positive.
func WithBotID(id int64) Option { return func(c *config) { c.botID = id } }

// WithEvents calls fn for each wait, pause, retry, refusal and late release (see Event),
// e.g. to count them in metrics. fn runs on the request's goroutine and
// must be quick. Default: none.
func WithEvents(fn func(Event)) Option { return func(c *config) { c.events = fn } }

// EventKind says what happened to a request.
type EventKind uint8

const (
	// Waited: the request waited for its lanes, Event.Wait long, and was
	// admitted.
	Waited EventKind = iota + 1
	// Paused: Telegram answered 429; the lane Event.Lane is paused for
	// Event.Wait (retry_after) on every instance.
	Paused
	// Retried: the request is sent again (Event.Attempt counts from 1 for
	// the first retry) after Event.Wait.
	Retried
	// Refused: the request was not sent: its wait would have exceeded the
	// maximum wait or its deadline (ErrWaitTooLong), or its context ended.
	Refused
	// Late: the request was ready to go Event.Wait after its slot, more
	// than the margin (at least 5 ms): the process stalled. Sent then, it
	// could reach Telegram with the next window's sends; it asks the store
	// for a new slot instead (at most twice), and this slot goes unused.
	Late
)

// String returns "waited", "paused", "retried", "refused" or "late".
func (k EventKind) String() string {
	switch k {
	case Waited:
		return "waited"
	case Paused:
		return "paused"
	case Retried:
		return "retried"
	case Refused:
		return "refused"
	case Late:
		return "late"
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Event is one thing the throttle did to a request.
type Event struct {
	Kind EventKind
	// Method is the Bot API method, as requested.
	Method string
	// Chat is the chat_id as sent, "" when the request names none.
	Chat string
	// Lane is the lane a pause applies to: "global", "paid", or
	// "chat:<id>". Empty for other kinds.
	Lane string
	// Wait is how long the request waited (Waited), the pause (Paused), the
	// delay before the next attempt (Retried), or the wait refused
	// (Refused; 0 when its context ended).
	Wait time.Duration
	// Attempt is the retry number for Retried, else 0.
	Attempt int
	// Err is the reason for Refused or Retried.
	Err error
}

// New returns a Throttle that keeps its lanes in st (TakeAll and Block),
// shared by every instance using the same store and prefix. Wrap a remote
// store with core.Resilient (store.Open does) so that an outage is decided
// by its failure policy. It does no I/O.
//
// Keys are "<prefix>:{bot:<id>}:out:global", ":out:paid" and
// ":out:chat:<chat_id>": one hash tag per bot, so a bot's lanes share one
// Redis Cluster slot, as TakeAll requires. Errors wrap core.ErrInvalidOption
// (nil store, bad option or prefix) or core.ErrInvalidLimit (a lane that is
// not a valid SlidingWindow Limit).
func New(st core.Store, opts ...Option) (*Throttle, error) {
	if st == nil {
		return nil, fmt.Errorf("outbound: %w: store is nil", core.ErrInvalidOption)
	}
	c := config{prefix: core.DefaultPrefix, limits: defaultLimits(), maxWait: DefaultMaxWait, retries: defaultRetries,
		logger: slog.Default(), margin: DefaultMargin}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("outbound: %w: nil Option", core.ErrInvalidOption)
		}
		o(&c)
	}
	def := defaultLimits()
	for _, f := range []struct {
		name string
		l    *core.Limit
		def  core.Limit
	}{{"Global", &c.limits.Global, def.Global}, {"Private", &c.limits.Private, def.Private},
		{"Group", &c.limits.Group, def.Group}, {"Paid", &c.limits.Paid, def.Paid}} {
		if *f.l == (core.Limit{}) {
			*f.l = f.def
		}
		if err := f.l.Validate(); err != nil {
			return nil, fmt.Errorf("outbound: %s lane: %w", f.name, err)
		}
		if f.l.Algorithm != core.SlidingWindow {
			return nil, fmt.Errorf("outbound: %s lane: %w: %v is not a SlidingWindow limit (use core.Window)",
				f.name, core.ErrInvalidLimit, *f.l)
		}
		if c.margin < 0 || c.margin%time.Microsecond != 0 {
			return nil, fmt.Errorf("outbound: %w: margin must be a whole number of microseconds ≥ 0, got %v",
				core.ErrInvalidOption, c.margin)
		}
		kept := core.Window(f.l.Rate, f.l.Period+c.margin)
		if err := kept.Validate(); err != nil {
			return nil, fmt.Errorf("outbound: %s lane with a margin of %v: %w", f.name, c.margin, err)
		}
		*f.l = kept
	}
	switch {
	case c.maxWait < 0:
		return nil, fmt.Errorf("outbound: %w: max wait must not be negative, got %v", core.ErrInvalidOption, c.maxWait)
	case c.retries < 0:
		return nil, fmt.Errorf("outbound: %w: retries must not be negative, got %d", core.ErrInvalidOption, c.retries)
	case c.botID < 0:
		return nil, fmt.Errorf("outbound: %w: bot id must be positive, got %d", core.ErrInvalidOption, c.botID)
	case c.logger == nil:
		return nil, fmt.Errorf("outbound: %w: nil logger", core.ErrInvalidOption)
	}
	if err := core.ValidatePrefix(c.prefix); err != nil {
		return nil, fmt.Errorf("outbound: %w", err)
	}
	t := &Throttle{store: st, prefix: c.prefix, observer: c.observer, limits: c.limits, maxWait: c.maxWait,
		retries: c.retries, logger: c.logger, events: c.events, clock: realClock{},
		line: newQueue(turnWait), late: max(c.margin, minLate)}
	if c.botID > 0 {
		t.botID = strconv.FormatInt(c.botID, 10)
	}
	return t, nil
}

// Call is one Bot API request, as Do sees it.
type Call struct {
	// URL is the request URL: <server>/bot<token>/<method>, query included.
	// URLs of any other shape (file downloads) are sent as they are.
	URL string
	// ContentType is the body's Content-Type: the throttle reads chat_id
	// and allow_paid_broadcast from form, JSON and multipart bodies, and
	// from the URL's query.
	ContentType string
	// Body is the whole body when it is in memory (it is never modified).
	// Such a request can always be sent again.
	Body []byte
	// Stream is the body otherwise, read once, on the first attempt. A form
	// or JSON stream is read into memory first (up to 1 MiB; past that
	// only the global lane applies); a multipart stream is passed through
	// as it is read, never held in memory (see Do).
	Stream io.Reader
	// Replay returns a fresh copy of Stream for another attempt, or is nil
	// when there is none: then a 429 is returned, not retried.
	Replay func() (io.Reader, error)
}

// Reply is what one attempt got from Telegram.
type Reply struct {
	// ErrorCode is Telegram's error_code (the HTTP status of an error
	// answer), 0 or 200 for success.
	ErrorCode int
	// RetryAfter is parameters.retry_after of a 429 answer. The pause it
	// sets lasts at least a second (0, a missing retry_after, means 1 s)
	// and at most core.MaxBlock.
	RetryAfter time.Duration
}

// Do sends c through the throttle with send, which makes one attempt:
// it must send body (the request body, byte for byte; for a Call with
// Body it may send Body itself) and report Telegram's answer. Do
// returns nil when the last attempt's answer stands (success, an error
// answer, or a 429 it did not retry: the caller reads it from what send
// kept), send's error when the last attempt failed, or the throttle's own
// error: one wrapping ErrWaitTooLong, the context's error, or the store's
// (a lane that is invalid for the store), with nothing sent.
//
// A throttled method (every send* but sendChatAction, copyMessage(s),
// forwardMessage(s), editMessage*, stopMessageLiveLocation, stopPoll: what
// puts or changes a message in a chat) is admitted when its body ends: send
// reads the body through a gate that passes it on as it is read (finding
// chat_id in an upload on the way), holds back the last byte, waits until
// every lane admits the request, then releases it. The connection is made
// and the upload sent before the admission, so the request reaches
// Telegram within moments of it. If the wait fails, body's Read returns
// the error and send must abandon the request (net/http and fasthttp do);
// Telegram never acts on an incomplete body. A request without a body is
// admitted before send.
//
// A throttled request asks the store once (core.Store.Reserve) for the
// earliest instant every lane admits it; that slot is recorded at once, so
// requests are admitted first come, first served, and the request then
// waits for it here without asking again.
//
// On a 429 the throttle pauses the request's chat lane for retry_after on
// every instance, and sends again, up to the retry count and within the
// maximum wait; other chats are not paused. A request without a chat
// pauses the global (or paid) lane for at most a second, whatever its
// retry_after: the request itself waits out retry_after before its retry,
// or, when that exceeds its budget, returns the 429 at once. A 429 on a method that is not
// throttled is waited out and retried the same way, pausing nothing.
func (t *Throttle) Do(ctx context.Context, c Call, send func(ctx context.Context, body io.Reader) (Reply, error)) error {
	u, err := url.Parse(c.URL)
	if err != nil {
		return fmt.Errorf("outbound: %w", redactErr(err))
	}
	return t.do(ctx, u, c, send)
}

func (t *Throttle) do(ctx context.Context, u *url.URL, c Call, send func(context.Context, io.Reader) (Reply, error)) error {
	ep := parseEndpoint(u.Path)
	if !ep.api {
		body := io.Reader(bytes.NewReader(c.Body))
		if c.Body == nil {
			body = c.Stream
		}
		_, err := send(ctx, body)
		return err
	}
	r := &run{t: t, ctx: ctx, method: ep.method, bot: ep.bot, deadline: t.clock.Now().Add(t.maxWait)}
	if t.botID != "" {
		r.bot = t.botID
	}
	leaving, _ := ctx.Value(admittedKey{}).(func())
	throttled := throttledMethod(ep.method) && r.bot != ""
	if throttled {
		// Queue first, before reading the body and before the connection
		// is made: the request's rank is the moment it asked.
		r.queue()
		defer r.dequeue()
	}
	var p params
	p.fromValues(u.Query())
	kind, boundary := kindOf(c.ContentType)
	body, stream, replay := c.Body, c.Stream, c.Replay
	if body == nil && stream != nil && (kind == bodyForm || kind == bodyJSON) {
		b, small, rest, err := readSmall(stream)
		if err != nil {
			return fmt.Errorf("outbound: read body: %w", err)
		}
		if small {
			body, stream = b, nil
		} else {
			stream, kind = rest, bodyNone
		}
	}
	if body != nil {
		sniffBytes(&p, kind, body)
	}
	r.chat = p.chat
	if throttled && body == nil && stream != nil {
		// A streamed body may take long to reach its end: it takes its rank
		// then, holding up nobody before.
		r.t.line.leave(r.place.Load()) // takes no turn: it passes the turn on when it gets it
	}

	for attempt := 0; ; attempt++ {
		var rd io.Reader
		switch {
		case body != nil:
			rd = bytes.NewReader(body)
		case attempt == 0 || stream == nil:
			rd = stream
		default:
			var err error
			if rd, err = replay(); err != nil {
				return fmt.Errorf("outbound: replay body: %w", err)
			}
		}
		canRetry := attempt < t.retries && (body != nil || replay != nil || rd == nil)
		var lanes []core.Lane
		var g *gate
		if throttled {
			// A retry does not queue again (its place is gone): it asked
			// first, so it takes no turn behind the requests that asked
			// after it.
			if rd != nil {
				// Admit at the body's end (see gate). decide runs on the
				// goroutine that reads the body; the gate orders its writes
				// before this one reads them (g.wait).
				bd := ""
				if kind == bodyMultipart {
					bd = boundary
				}
				var booked *slot
				if kind != bodyMultipart { // the lanes are known before the body
					var err error
					if booked, err = r.bookEarly(p); err != nil {
						return err
					}
				}
				g = newGate(rd, bd, func(found params, closed <-chan struct{}) ([]core.Lane, error) {
					q := p
					if found.chat != "" {
						q.chat, r.chat = found.chat, found.chat
					}
					q.paid = q.paid || found.paid
					ls := r.lanes(q)
					err := r.admit(ls, closed, booked)
					if err == nil && leaving != nil {
						leaving()
					}
					return ls, err
				})
				rd = g
			} else {
				lanes = r.lanes(p)
				if err := r.admit(lanes, nil, nil); err != nil {
					return err
				}
				if leaving != nil {
					leaving()
				}
			}
		} else if leaving != nil {
			leaving()
		}
		reply, err := send(ctx, rd)
		if g != nil {
			_ = g.Close()
			var admitErr error
			lanes, admitErr = g.wait()
			r.dequeue()
			if admitErr != nil {
				return admitErr
			}
		}
		r.dequeue()
		if err != nil {
			if canRetry && ctx.Err() == nil && notSent(err) {
				delay := min(100*time.Millisecond<<attempt, 2*time.Second)
				if r.sleep(delay, nil) == nil {
					r.event(Event{Kind: Retried, Wait: delay, Attempt: attempt + 1, Err: err})
					continue
				}
			}
			return err
		}
		if reply.ErrorCode != 429 {
			return nil
		}
		// The pause is at least a second (a missing retry_after means 1 s)
		// and at most core.MaxBlock, the longest Block a store takes: any
		// value send reports becomes a valid pause here, once.
		wait := min(max(reply.RetryAfter, time.Second), core.MaxBlock)
		t.logger.LogAttrs(ctx, slog.LevelWarn, "floodgate: Telegram answered 429 Too Many Requests",
			slog.String("method", r.method), slog.String("chat_id", r.chat), slog.Duration("retry_after", wait),
			slog.Int("attempt", attempt+1))
		if lanes != nil {
			r.pause(lanes, wait)
		}
		if !canRetry || r.fits(wait) != nil {
			return nil
		}
		// Wait out retry_after here too, not only through the lane: if the
		// pause could not be stored (the store is out and the policy admits)
		// the lane would let the retry go at once, and Telegram answers
		// repeated 429s with longer bans. With the pause stored, the lane
		// then admits the retry at once.
		if r.sleep(wait, nil) != nil {
			return nil
		}
		r.event(Event{Kind: Retried, Wait: wait, Attempt: attempt + 1})
	}
}

// admittedKey is the context key of a func() that Do calls when the
// request is admitted, just before its last byte (or, unthrottled, the
// request) leaves: Broadcast records there that a message left.
type admittedKey struct{}

// run is one request's way through the throttle.
type run struct {
	t        *Throttle
	ctx      context.Context
	method   string
	bot      string
	chat     string
	deadline time.Time
	place    atomic.Pointer[place] // its place in t.line, while it holds one
}

// lanes returns the request's lanes: global (or paid) first, then its
// chat's lane if it names a chat.
func (r *run) lanes(p params) []core.Lane {
	prefix := r.t.prefix + ":{bot:" + r.bot + "}:out:"
	lanes := make([]core.Lane, 1, 2)
	lanes[0] = core.Lane{Key: prefix + "global", Limit: r.t.limits.Global}
	if p.paid {
		lanes[0] = core.Lane{Key: prefix + "paid", Limit: r.t.limits.Paid}
	}
	switch kind, id := chatOf(p.chat); kind {
	case privateChat:
		lanes = append(lanes, core.Lane{Key: prefix + "chat:" + id, Limit: r.t.limits.Private})
	case groupChat:
		lanes = append(lanes, core.Lane{Key: prefix + "chat:" + id, Limit: r.t.limits.Group})
	}
	return lanes
}

// slot is a request's slot as the store gave it.
type slot struct {
	res     core.Result
	due     time.Time     // when it comes, on the throttle's clock
	rtt     time.Duration // the Reserve call's round trip (real time)
	replied time.Time     // when the store's answer came (real time)
}

// book asks the store once, in the request's turn, for its slot on every
// lane: the earliest instant they all admit it (core.Store.Reserve:
// recorded at once, so later requests queue behind it). A slot beyond the
// budget records nothing and fails at once with ErrWaitTooLong; so does a
// store the failure policy refuses (FailClosed), without polling. A store
// that refuses for its own reason (an in-process store at its key cap) is
// asked again when it says.
func (r *run) book(lanes []core.Lane, closed <-chan struct{}) (slot, error) {
	for {
		if err := r.turn(closed); err != nil {
			return slot{}, err
		}
		now := r.t.clock.Now()
		within := min(r.deadline.Sub(now), core.MaxBlock)
		if dl, ok := r.ctx.Deadline(); ok {
			within = min(within, dl.Sub(now))
		}
		asked := time.Now() // real time, whatever the throttle's clock: lateness is the process's
		res, err := r.t.reserve(r.ctx, lanes, max(within, -1))
		replied := time.Now()
		if p := r.place.Load(); p != nil {
			r.t.line.leave(p)
		}
		if r.t.booked != nil && err == nil {
			r.t.booked(r.ctx, res, asked, replied)
		}
		if err != nil {
			r.event(Event{Kind: Refused, Err: err})
			return slot{}, fmt.Errorf("outbound: %s: %w", r.method, err)
		}
		if res.Allowed {
			if res.Source == core.SourceStore {
				r.t.noteRTT(replied.Sub(asked))
			}
			due := r.t.clock.Now().Add(res.RetryAfter)
			r.t.noteTail(due)
			return slot{res: res, due: due, rtt: replied.Sub(asked), replied: replied}, nil
		}
		if res.Source == core.SourcePolicy {
			err := fmt.Errorf("outbound: %s to chat %q: %w: the store is out and its failure policy refuses sends",
				r.method, r.chat, ErrWaitTooLong)
			r.event(Event{Kind: Refused, Err: err})
			return slot{}, err
		}
		// Not recorded: the slot lies beyond the budget, or the store
		// refused for its own reason and says when to ask again.
		if err := r.sleep(max(res.RetryAfter, time.Millisecond), closed); err != nil {
			return slot{}, err
		}
	}
}

// admit waits until the request's slot comes, booking it first unless
// booked holds it. A request whose wait ends early (its context, or the
// body's reader gave up) does not give its slot back: the slot goes
// unused, which slows the lane by one send and never lets it exceed its
// limit.
func (r *run) admit(lanes []core.Lane, closed <-chan struct{}, booked *slot) error {
	defer r.dequeue()
	for lateRetries := 0; ; lateRetries++ {
		s := booked
		booked = nil
		if s == nil {
			b, err := r.book(lanes, closed)
			if err != nil {
				return err
			}
			s = &b
		}
		if d := s.due.Sub(r.t.clock.Now()); d > 0 {
			if err := r.wait(d, closed); err != nil {
				return err
			}
		}
		// A request released more than r.t.late after its slot (the
		// store's answer or the timer reached a stalled process: 10 000
		// goroutines starting at once) would reach Telegram in the next
		// window's company: it takes a new slot instead, leaving this
		// one unused. The store answered about half a round trip after
		// the call.
		// Only the store's slots: a fallback or policy decision came
		// after the store's timeout, and is timed from then. Only on
		// the real clock: a test's clock, and its store's, jump.
		late := s.rtt - r.t.halfRTT() + time.Since(s.replied) - s.res.RetryAfter
		if _, real := r.t.clock.(realClock); real && s.res.Source == core.SourceStore && late > r.t.late &&
			lateRetries < maxLateRetries {
			r.event(Event{Kind: Late, Wait: late})
			continue
		}
		if s.res.RetryAfter > 0 {
			r.event(Event{Kind: Waited, Wait: s.res.RetryAfter})
		}
		return nil
	}
}

// bookEarly, in the request's turn (once the requests before it have
// booked), books a request whose lanes p already gives if its instance's
// sends queue (its latest slot lies sendLead or more ahead), and waits
// until sendLead before the slot, without a connection; it returns nil
// when the request is to book at its body's end instead.
func (r *run) bookEarly(p params) (*slot, error) {
	if err := r.turn(nil); err != nil {
		return nil, err
	}
	if r.t.ahead() < sendLead {
		return nil, nil
	}
	b, err := r.book(r.lanes(p), nil)
	if err != nil {
		return nil, err
	}
	if d := b.due.Sub(r.t.clock.Now()) - sendLead; d > 0 {
		if err := r.wait(d, nil); err != nil {
			return nil, err
		}
	}
	return &b, nil
}

// sendLead is how long before its slot a request whose lanes are known
// before its body is written (a form or JSON body) is handed to the
// transport when its instance's sends queue: time to make a connection,
// so that the last byte leaves at the slot. Until then it waits without a
// connection, however far ahead its slot lies. When they do not queue
// (the instance's latest slot lies less than sendLead ahead), a request
// books at its body's end, after its connection is made: an idle bot's
// reply would otherwise be booked before a cold dial and leave late.
const sendLead = time.Second

// noteRTT records d if it is the shortest Reserve round trip yet.
func (t *Throttle) noteRTT(d time.Duration) {
	for {
		old := t.rtt.Load()
		if old != 0 && old <= int64(d) {
			return
		}
		if t.rtt.CompareAndSwap(old, max(int64(d), 1)) {
			return
		}
	}
}

// noteTail records due if it is the latest slot this instance was given.
func (t *Throttle) noteTail(due time.Time) {
	for {
		old := t.tail.Load()
		if old >= due.UnixNano() || t.tail.CompareAndSwap(old, due.UnixNano()) {
			return
		}
	}
}

// ahead is how far ahead of now the latest slot this instance was given
// lies (negative when it has passed).
func (t *Throttle) ahead() time.Duration {
	return time.Duration(t.tail.Load() - t.clock.Now().UnixNano())
}

// halfRTT is half the shortest Reserve round trip seen: how long after a
// call the store is taken to have computed its answer.
func (t *Throttle) halfRTT() time.Duration { return time.Duration(t.rtt.Load() / 2) }

// queue puts the request in the instance's line (see queue).
func (r *run) queue() {
	var mark func()
	if r.t.queueing != nil {
		mark = func() { r.t.queueing(r.ctx) }
	}
	r.place.Store(r.t.line.enter(mark))
}

// turn waits until the request may ask the store (see queue), so that an
// instance's requests ask in the order they asked, or until its budget
// ends (ErrWaitTooLong): the line moves at the store's pace, one round
// trip per request, which a slow or failing store makes long. The budget
// is timed in real time, like the line.
func (r *run) turn(closed <-chan struct{}) error {
	p := r.place.Load()
	if p == nil {
		return nil
	}
	select {
	case <-p.allowed:
		return nil
	default:
	}
	now := r.t.clock.Now()
	budget := r.deadline.Sub(now)
	if dl, ok := r.ctx.Deadline(); ok {
		budget = min(budget, dl.Sub(now))
	}
	tm := time.NewTimer(max(budget, 0))
	defer tm.Stop()
	select {
	case <-p.allowed:
	case <-tm.C:
		err := fmt.Errorf("outbound: %s to chat %q: %w: the requests this instance received before it were still asking the store when its maximum wait of %v ran out",
			r.method, r.chat, ErrWaitTooLong, r.t.maxWait)
		r.event(Event{Kind: Refused, Err: err})
		return err
	case <-r.ctx.Done():
		r.event(Event{Kind: Refused, Err: r.ctx.Err()})
		return r.ctx.Err()
	case <-closed:
		return errGateClosed
	}
	return nil
}

// dequeue gives back the request's place in the line, once: when its
// wait for its slot ends, or when it ends without one.
func (r *run) dequeue() {
	if p := r.place.Swap(nil); p != nil {
		r.t.line.leave(p)
	}
}

// reserve asks the store for a slot on every lane and tells the observer.
func (t *Throttle) reserve(ctx context.Context, lanes []core.Lane, within time.Duration) (core.Result, error) {
	if t.observer == nil {
		return t.store.Reserve(ctx, lanes, 1, 0, within)
	}
	start := time.Now()
	res, err := t.store.Reserve(ctx, lanes, 1, 0, within)
	if err == nil {
		t.observer.Decision(core.DecisionEvent{Prefix: t.prefix, Rule: observerRule, Allowed: res.Allowed, Source: res.Source,
			Latency: time.Since(start)})
	}
	return res, err
}

// fits reports, as an error wrapping ErrWaitTooLong, whether waiting d
// would end past the maximum wait or the context's deadline.
func (r *run) fits(d time.Duration) error {
	end := r.t.clock.Now().Add(d)
	if end.After(r.deadline) {
		return fmt.Errorf("outbound: %s to chat %q: %w: needs %v, beyond the maximum wait of %v",
			r.method, r.chat, ErrWaitTooLong, d.Round(time.Millisecond), r.t.maxWait)
	}
	if dl, ok := r.ctx.Deadline(); ok && end.After(dl) {
		return fmt.Errorf("outbound: %s to chat %q: %w: needs %v, beyond the request's deadline",
			r.method, r.chat, ErrWaitTooLong, d.Round(time.Millisecond))
	}
	return nil
}

// sleep waits d if it fits the budget, or returns why not.
func (r *run) sleep(d time.Duration, closed <-chan struct{}) error {
	if err := r.fits(d); err != nil {
		r.event(Event{Kind: Refused, Wait: d, Err: err})
		return err
	}
	return r.wait(d, closed)
}

// wait waits d on the throttle's clock, unless the context ends or the
// gate closes first.
func (r *run) wait(d time.Duration, closed <-chan struct{}) error {
	c, stop := r.t.clock.After(d)
	defer stop()
	select {
	case <-c:
		return nil
	case <-r.ctx.Done():
		r.event(Event{Kind: Refused, Err: r.ctx.Err()})
		return r.ctx.Err()
	case <-closed:
		return errGateClosed
	}
}

// pause blocks the lane a 429 applies to for d, in the store: the chat's
// lane, or the global (or paid) lane for a request that names no chat.
// The caller keeps d within (0, core.MaxBlock], as Store.Block requires.
func (r *run) pause(lanes []core.Lane, d time.Duration) {
	ln := lanes[len(lanes)-1]
	if len(lanes) == 1 { // no chat: a short pause for every chat (see chatlessPause)
		d = min(d, chatlessPause)
	}
	// Record the pause even if the caller gives up now: other requests
	// and instances need it. A Resilient store bounds the call by its
	// timeout.
	if err := r.t.store.Block(context.WithoutCancel(r.ctx), ln.Key, ln.Limit, d); err != nil {
		r.t.logger.LogAttrs(r.ctx, slog.LevelWarn, "floodgate: could not share a 429 pause through the store; other instances keep sending",
			slog.String("lane", laneName(ln.Key)), slog.Duration("pause", d), slog.String("error", redactErr(err).Error()))
	}
	r.event(Event{Kind: Paused, Lane: laneName(ln.Key), Wait: d})
}

func (r *run) event(e Event) {
	if r.t.events == nil {
		return
	}
	e.Method, e.Chat = r.method, r.chat
	r.t.events(e)
}

// laneName is the part of a lane key after ":out:".
func laneName(key string) string {
	for i := len(key) - 5; i >= 0; i-- {
		if key[i:i+5] == ":out:" {
			return key[i+5:]
		}
	}
	return key
}

// notSent reports whether err proves the request never left: the
// connection could not be made (dial or name resolution failed).
func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// tokenRE matches the token part of Bot API URLs.
var tokenRE = regexp.MustCompile(`/bot[0-9]+:[^/\s"]*`)

// redact replaces the bot token in every Bot API URL path within s
// ("/bot123:AAE.../sendMessage") with "/bot<redacted>", for logs.
func redact(s string) string { return tokenRE.ReplaceAllString(s, "/bot<redacted>") }

// redactErr returns err with its text redacted (see redact); errors.Is
// still sees through it.
func redactErr(err error) error {
	if err == nil {
		return nil
	}
	s := err.Error()
	if r := redact(s); r != s {
		return &redacted{msg: r, err: err}
	}
	return err
}

type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }
