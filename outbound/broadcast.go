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
	// start). Recipients it counts as done are skipped, never sent again.
	Resume Cursor
	// Workers is how many sends are in flight at once (default 30). More
	// does not send faster than the lanes allow; it only reserves slots
	// further ahead.
	Workers int
	// Progress, when set, is called once per recipient done, one call at
	// a time, in the order they finish. Persist Progress.Cursor there (a
	// file, a Redis key: json.Marshal it) to resume after a crash.
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
)

// String returns "sent", "blocked", "migrated" or "failed".
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
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// Cursor is how far a broadcast got: every position before Next is done
// (sent, or given up as blocked or failed), and so is every position in
// Done. Sends finish out of order, so Done holds the few finished ahead of
// Next. It marshals to JSON as {"next":N,"done":[...]}.
//
// A recipient is done once Telegram answered it. A send cut short by a
// crash, or by the context ending, is not done: a resumed run sends it,
// so a message whose answer was lost in a crash may arrive twice; one
// that was reported done never does.
type Cursor struct {
	Next int   `json:"next"`
	Done []int `json:"done,omitempty"`
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
	// Outcome; Skipped those the Resume cursor counted as done.
	Sent, Blocked, Migrated, Failed, Skipped int
	// Elapsed is the run's duration.
	Elapsed time.Duration
	// Cursor is where a resumed run would start.
	Cursor Cursor
}

// String returns the counts in one line, e.g. "sent 4990, blocked 7,
// migrated 1, failed 2, skipped 0 in 2m46s".
func (s Summary) String() string {
	return fmt.Sprintf("sent %d, blocked %d, migrated %d, failed %d, skipped %d in %v",
		s.Sent, s.Blocked, s.Migrated, s.Failed, s.Skipped, s.Elapsed.Round(time.Millisecond))
}

// Broadcast sends b's message to every chat in b.Chats through the
// throttle, b.Workers at a time, and returns the Summary when every
// recipient is done or ctx ends. When ctx ends it sends nothing new, and
// waits for the sends in flight (at most Workers, each within the maximum
// wait) to be answered, so that its cursor is exact. It follows migrate_to_chat_id once, counts
// 403 answers as Blocked, and reports each recipient to b.Progress. A
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
	sum := Summary{}
	done, skip := map[int]bool{}, map[int]bool{} // skip: the producer's, read-only
	for _, p := range b.Resume.Done {
		done[p], skip[p] = true, true
	}
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
				pr.Outcome, pr.MigratedTo, pr.Err = t.deliver(sendCtx, hc, base, b.Message, j.chat)
				results <- pr
			}
		})
	}
	go func() {
		wg.Wait()
		close(results)
	}()
	// The skipped count is only known for positions below Resume.Next and
	// in Resume.Done.
	sum.Skipped = b.Resume.Next + len(done)
	cur := Cursor{Next: b.Resume.Next}
	advance := func() {
		for done[cur.Next] {
			delete(done, cur.Next)
			cur.Next++
		}
		cur.Done = slices.Sorted(maps.Keys(done))
	}
	advance()
	for r := range results {
		switch r.Outcome {
		case Sent:
			sum.Sent++
		case Blocked:
			sum.Blocked++
		case Migrated:
			sum.Migrated++
		default:
			sum.Failed++
		}
		done[r.Position] = true
		advance()
		if b.Progress != nil {
			r.Cursor = Cursor{Next: cur.Next, Done: slices.Clone(cur.Done)}
			sum.Elapsed, sum.Cursor = t.clock.Now().Sub(start), r.Cursor
			r.Summary = sum
			b.Progress(r)
		}
	}
	sum.Elapsed, sum.Cursor = t.clock.Now().Sub(start), cur
	return sum, ctx.Err()
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
	case b.Resume.Next < 0 || slices.ContainsFunc(b.Resume.Done, func(p int) bool { return p < b.Resume.Next }):
		return fmt.Errorf("outbound: %w: Broadcast.Resume %+v: positions must be ≥ 0 and Done after Next", core.ErrInvalidOption, b.Resume)
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
