package outbound

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/floodgate-go/floodgate/core"
)

// Broadcast is one message to many chats, sent by Throttle.Broadcast: the
// newsletter or announcement job. Every instance of the bot may run a
// share of it; the throttle's lanes are shared through the store, so
// together they keep Telegram's limits.
type Broadcast struct {
	// Token is the bot token (required). It is never logged or put in an
	// error.
	Token string
	// Server is the Bot API's root URL (default "https://api.telegram.org").
	Server string
	// Client sends the requests; Broadcast sends them through the throttle
	// (Throttle.Client). Default: an http.Client whose Timeout is the
	// throttle's maximum wait plus a minute.
	Client *http.Client
	// Chats yields the recipients (required), in the same order on every
	// run: a Cursor counts positions in it. For a slice, slices.Values(ids).
	Chats iter.Seq[int64]
	// Message returns the Bot API method and its parameters for one
	// recipient (required), e.g. "sendMessage", {"text": "Hello"}: one
	// message for all, or one built per chat. Broadcast sets chat_id
	// itself. It is called from several goroutines at once.
	Message func(chat int64) (method string, params map[string]any)
	// Resume is the Cursor a stopped run last reported (zero: from the
	// start). Recipients it counts as done are skipped, never sent again;
	// so are those it lists as sending, unless ResendUnconfirmed.
	Resume Cursor
	// ResendUnconfirmed makes a resumed run send again the recipients
	// Resume lists as sending (their message left before a crash; its
	// answer was lost): a crash then loses no message but may deliver one
	// twice. Default false: none twice, a rare one lost (see Cursor).
	ResendUnconfirmed bool
	// Workers is how many sends are in flight at once (default 30). More
	// does not send faster than the lanes allow; it only reserves slots
	// further ahead.
	Workers int
	// Progress, when set, is called when a recipient's message leaves
	// (Outcome Sending: the throttle admitted it and releases its last
	// byte once Progress returns) and once the recipient is done, one call
	// at a time. Persist Progress.Cursor there (a file, a Redis key:
	// json.Marshal it) to resume after a crash without sending anything
	// twice. It runs before each message leaves, so keep it quick: a
	// millisecond per call holds a window of 30 sends 30 ms.
	Progress func(Progress)
}

// Outcome is what became of one recipient.
type Outcome uint8

const (
	// Sent: Telegram accepted the message.
	Sent Outcome = iota + 1
	// Blocked: Telegram answered 403 (the user blocked the bot or was
	// deactivated, the bot was removed from the chat): drop the chat from
	// the list.
	Blocked
	// Migrated: the group became a supergroup; the message was sent again
	// to its new id (Progress.MigratedTo), which the list should keep.
	Migrated
	// Failed: any other answer or error (Progress.Err), e.g. a 400 "chat
	// not found", a 429 whose retry_after exceeds the maximum wait, or
	// ErrWaitTooLong.
	Failed
	// Sending: not an end. The message was admitted and is leaving for
	// Telegram; the recipient's outcome follows when Telegram answers.
	// Progress reports it so that the cursor persisted from then on lists
	// the recipient in Cursor.Sending.
	Sending
)

// String returns "sent", "blocked", "migrated", "failed" or "sending".
func (o Outcome) String() string {
	switch o {
	case Sent:
		return "sent"
	case Blocked:
		return "blocked"
	case Migrated:
		return "migrated"
	case Failed:
		return "failed"
	case Sending:
		return "sending"
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// Cursor is how far a broadcast got: every position before Next is done
// (sent, or given up as blocked or failed), and so is every position in
// Done. Sends finish out of order, so Done holds the few finished ahead of
// Next. Sending holds the positions whose message had left (the throttle
// admitted it) but whose answer had not come back. It marshals to JSON as
// {"next":N,"done":[...],"sending":[...]}.
//
// A resumed run sends what is neither done nor sending, and nothing else
// (Broadcast.ResendUnconfirmed sends the sending ones too):
// a recipient in Sending is not sent again (its message left; a crash
// lost only the answer) and is counted as Unconfirmed. So a crash sends
// no message twice. It may lose one: a crash in the microseconds between
// a message's Progress(Sending) returning and its last byte leaving the
// process, or while a message Telegram answered 429 waits for its retry;
// that recipient is Unconfirmed and got nothing.
type Cursor struct {
	Next    int   `json:"next"`
	Done    []int `json:"done,omitempty"`
	Sending []int `json:"sending,omitempty"`
}

// Progress is one recipient done, with the broadcast's state after it.
type Progress struct {
	// Position is the recipient's position in Chats, from 0.
	Position int
	// Chat is the recipient's chat id.
	Chat int64
	// Outcome is what became of it; MigratedTo its new id (Migrated).
	Outcome    Outcome
	MigratedTo int64
	// Err says why it Failed (or, for Blocked, Telegram's description).
	Err error
	// Cursor is where a resumed run would start: persist it.
	Cursor Cursor
	// Summary counts the run so far.
	Summary Summary
}

// Summary counts a broadcast's recipients.
type Summary struct {
	// Sent, Blocked, Migrated and Failed count this run's recipients by
	// Outcome; Skipped those the Resume cursor counted as done;
	// Unconfirmed those it listed as Sending (not sent again; 0 with
	// ResendUnconfirmed).
	Sent, Blocked, Migrated, Failed, Skipped, Unconfirmed int
	// Elapsed is the run's duration.
	Elapsed time.Duration
	// Cursor is where a resumed run would start.
	Cursor Cursor
}

// String returns the counts in one line, e.g. "sent 4990, blocked 7,
// migrated 1, failed 2, skipped 0, unconfirmed 0 in 2m46s".
func (s Summary) String() string {
	return fmt.Sprintf("sent %d, blocked %d, migrated %d, failed %d, skipped %d, unconfirmed %d in %v",
		s.Sent, s.Blocked, s.Migrated, s.Failed, s.Skipped, s.Unconfirmed, s.Elapsed.Round(time.Millisecond))
}

// Broadcast sends b's message to every chat in b.Chats through the
// throttle, b.Workers at a time, and returns the Summary when every
// recipient is done or ctx ends. When ctx ends it sends nothing new, and
// waits for the sends in flight (at most Workers, each within the maximum
// wait) to be answered, so that its cursor is exact. It follows migrate_to_chat_id once, counts
// 403 answers as Blocked, and reports each message leaving and each
// recipient done to b.Progress (see Cursor for what a resumed run sends). A
// failed recipient never stops the broadcast; the error is ctx's when it
// ended first (the Summary's Cursor then says where to resume), or one
// wrapping core.ErrInvalidOption for a Broadcast missing Token, Chats or
// Message, or with a negative Workers or a Resume cursor that cannot be.
//
// To split one broadcast across instances, give each a share of the list
// (and a Cursor of its own); the shared lanes pace them together.
func (t *Throttle) Broadcast(ctx context.Context, b Broadcast) (Summary, error) {
	start := t.clock.Now()
	if err := b.check(); err != nil {
		return Summary{Cursor: b.Resume}, err
	}
	if b.Server == "" {
		b.Server = "https://api.telegram.org"
	}
	if b.Workers == 0 {
		b.Workers = 30
	}
	hc := b.Client
	if hc == nil {
		hc = &http.Client{Timeout: t.maxWait + time.Minute}
	}
	hc = t.Client(hc)
	base := strings.TrimSuffix(b.Server, "/") + "/bot" + b.Token + "/"

	type job struct {
		pos  int
		chat int64
	}
	jobs, results := make(chan job), make(chan Progress)
	st := &broadcastState{progress: b.Progress, start: start, now: t.clock.Now,
		done: map[int]bool{}, sending: map[int]bool{}}
	skip := map[int]bool{} // the producer's, read-only
	for _, p := range b.Resume.Done {
		st.done[p], skip[p] = true, true
	}
	if !b.ResendUnconfirmed {
		for _, p := range b.Resume.Sending {
			st.done[p], skip[p] = true, true
		}
		st.sum.Unconfirmed = len(b.Resume.Sending)
	}
	// The skipped count is only known for positions below Resume.Next and
	// in Resume.Done and Resume.Sending.
	st.sum.Skipped = b.Resume.Next + len(b.Resume.Done)
	st.cur = Cursor{Next: b.Resume.Next}
	st.advance()
	go func() {
		defer close(jobs)
		pos := 0
		for chat := range b.Chats {
			p := pos
			pos++
			if p < b.Resume.Next || skip[p] {
				continue
			}
			select {
			case jobs <- job{p, chat}:
			case <-ctx.Done():
				return
			}
		}
	}()
	// A send already handed to a worker finishes even when ctx ends, so
	// that its answer is known and the cursor exact; ctx only stops new
	// sends. Each send is still bounded by the maximum wait and hc's
	// Timeout.
	sendCtx := context.WithoutCancel(ctx)
	var wg sync.WaitGroup
	for range b.Workers {
		wg.Go(func() {
			for j := range jobs {
				pr := Progress{Position: j.pos, Chat: j.chat}
				leaving := context.WithValue(sendCtx, admittedKey{}, func() { st.leaving(j.pos, j.chat) })
				pr.Outcome, pr.MigratedTo, pr.Err = t.deliver(leaving, hc, base, b.Message, j.chat)
				results <- pr
			}
		})
	}
	go func() {
		wg.Wait()
		close(results)
	}()
	for r := range results {
		st.finished(r)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.sum.Elapsed, st.sum.Cursor = t.clock.Now().Sub(start), st.cursor()
	return st.sum, ctx.Err()
}

// broadcastState is a Broadcast's count and cursor, updated when a
// message leaves (on the transport's goroutine) and when a recipient is
// done (on Broadcast's).
type broadcastState struct {
	progress func(Progress)
	start    time.Time
	now      func() time.Time

	mu      sync.Mutex // held across progress: one call at a time
	sum     Summary
	cur     Cursor       // Next only; cursor() fills in the rest
	done    map[int]bool // done at or after cur.Next
	sending map[int]bool // left, not answered
}

// leaving records that pos's message is about to leave and reports it
// before it does, so that the cursor persisted says so.
func (s *broadcastState) leaving(pos int, chat int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sending[pos] { // a retry after a 429, or the migrated group's second send
		return
	}
	s.sending[pos] = true
	s.report(Progress{Position: pos, Chat: chat, Outcome: Sending})
}

// finished records that r's recipient is done and reports it.
func (s *broadcastState) finished(r Progress) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.Outcome {
	case Sent:
		s.sum.Sent++
	case Blocked:
		s.sum.Blocked++
	case Migrated:
		s.sum.Migrated++
	default:
		s.sum.Failed++
	}
	delete(s.sending, r.Position)
	s.done[r.Position] = true
	s.advance()
	s.report(r)
}

// advance moves the cursor over the positions done. Under mu.
func (s *broadcastState) advance() {
	for s.done[s.cur.Next] {
		delete(s.done, s.cur.Next)
		s.cur.Next++
	}
}

// cursor returns the cursor now. Under mu.
func (s *broadcastState) cursor() Cursor {
	return Cursor{Next: s.cur.Next, Done: slices.Sorted(maps.Keys(s.done)), Sending: slices.Sorted(maps.Keys(s.sending))}
}

// report calls progress with the cursor and the summary now. Under mu.
func (s *broadcastState) report(p Progress) {
	if s.progress == nil {
		return
	}
	p.Cursor = s.cursor()
	s.sum.Elapsed, s.sum.Cursor = s.now().Sub(s.start), p.Cursor
	p.Summary = s.sum
	s.progress(p)
}

func (b *Broadcast) check() error {
	switch {
	case b.Token == "":
		return fmt.Errorf("outbound: %w: Broadcast.Token is empty", core.ErrInvalidOption)
	case b.Chats == nil:
		return fmt.Errorf("outbound: %w: Broadcast.Chats is nil", core.ErrInvalidOption)
	case b.Message == nil:
		return fmt.Errorf("outbound: %w: Broadcast.Message is nil", core.ErrInvalidOption)
	case b.Workers < 0:
		return fmt.Errorf("outbound: %w: Broadcast.Workers must not be negative, got %d", core.ErrInvalidOption, b.Workers)
	case b.Resume.Next < 0 || slices.ContainsFunc(slices.Concat(b.Resume.Done, b.Resume.Sending), func(p int) bool { return p < b.Resume.Next }):
		return fmt.Errorf("outbound: %w: Broadcast.Resume %+v: positions must be ≥ 0, and Done and Sending after Next",
			core.ErrInvalidOption, b.Resume)
	}
	return nil
}

// apiReply is the part of a Bot API answer Broadcast reads.
type apiReply struct {
	OK          bool   `json:"ok"`
	ErrorCode   int    `json:"error_code"`
	Description string `json:"description"`
	Parameters  struct {
		MigrateTo int64 `json:"migrate_to_chat_id"`
	} `json:"parameters"`
}

// deliver sends the message for chat, and once more to the chat's new id
// when Telegram answers that the group migrated.
func (t *Throttle) deliver(ctx context.Context, hc *http.Client, base string,
	message func(int64) (string, map[string]any), chat int64) (Outcome, int64, error) {
	method, params := message(chat)
	reply, err := post(ctx, hc, base+method, params, chat)
	if err == nil && reply.Parameters.MigrateTo != 0 {
		to := reply.Parameters.MigrateTo
		reply, err = post(ctx, hc, base+method, params, to)
		if err == nil && reply.OK {
			return Migrated, to, nil
		}
		if err == nil {
			err = replyErr(reply)
		}
		return Failed, to, err
	}
	switch {
	case err != nil:
		return Failed, 0, err
	case reply.OK:
		return Sent, 0, nil
	case reply.ErrorCode == http.StatusForbidden:
		return Blocked, 0, replyErr(reply)
	}
	return Failed, 0, replyErr(reply)
}

func replyErr(r apiReply) error {
	return fmt.Errorf("outbound: Telegram answered %d: %s", r.ErrorCode, r.Description)
}

// post sends params with chat_id as JSON and reads Telegram's answer.
func post(ctx context.Context, hc *http.Client, url string, params map[string]any, chat int64) (apiReply, error) {
	body := make(map[string]any, len(params)+1)
	maps.Copy(body, params)
	body["chat_id"] = chat
	b, err := json.Marshal(body)
	if err != nil {
		return apiReply{}, fmt.Errorf("outbound: broadcast message: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return apiReply{}, fmt.Errorf("outbound: %w", redactErr(err))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return apiReply{}, redactErr(err)
	}
	defer resp.Body.Close()
	var r apiReply
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(raw, &r)
	}
	if err != nil {
		return apiReply{}, fmt.Errorf("outbound: reading Telegram's answer (HTTP %d): %w", resp.StatusCode, err)
	}
	return r, nil
}
