package telegramtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// GroupAnonymousBotID is the user id Telegram puts in "from" of messages
// that a group's anonymous administrator sends (user @GroupAnonymousBot).
// The real author is the group itself, in "sender_chat".
const GroupAnonymousBotID int64 = 1087968824

// Default identity of the fake bot, as getMe reports it; see WithBotUser.
const (
	DefaultBotID        int64 = 7000000001
	DefaultBotFirstName       = "Floodgate Test Bot"
	DefaultBotUsername        = "floodgate_test_bot"
)

// maxParamBytes bounds one request body (or one multipart part) read by the
// fake server.
const maxParamBytes = 8 << 20

// Call is one request the fake Bot API server received, recorded when it
// arrived (a long poll is recorded when it starts, not when it returns).
type Call struct {
	// Token is the bot token from the URL path (/bot<token>/<method>).
	Token string
	// Method is the method name exactly as requested ("sendMessage",
	// "sendmessage", ...). Methods are case-insensitive, as in Telegram.
	Method string
	// Params holds every parameter from the query string and the body (the
	// body wins on a clash), all values as strings: numbers and booleans as
	// their JSON text ("123", "true"), JSON strings unquoted, JSON objects
	// and arrays as their compact JSON text. A JSON null counts as absent
	// (a simplification: the real server keeps the text "null", which it
	// mostly treats as absent too). Repeated form keys keep the first value.
	Params map[string]string
	// Files maps each multipart file part's field name to its file name.
	// It is nil when the request uploaded no file.
	Files map[string]string
	// ContentType is the media type of the body ("application/json",
	// "application/x-www-form-urlencoded", "multipart/form-data"), or ""
	// when the request had no Content-Type.
	ContentType string
	// HTTPMethod is the HTTP verb used (GET, POST).
	HTTPMethod string
	// RateLimited is true when the server answered this call with a 429,
	// injected by FailNext or (see Flooded) by the flood limits.
	RateLimited bool
	// Flooded is true when the 429 came from the flood limits of
	// WithFloodLimits: the bot sent faster than Telegram allows.
	Flooded bool
	// FloodLane is the flood limit a Flooded call hit: "global", "paid"
	// or "chat:<chat_id>" (the first full one).
	FloodLane string
	// Failed is the HTTP status of an error injected by FailNext or
	// FailNextError (429 included), or 0.
	Failed int
	// Time is when the call arrived.
	Time time.Time
}

// Delivery is one attempt to deliver an update to a webhook.
type Delivery struct {
	// UpdateID is the update_id of the delivered update.
	UpdateID int64
	// URL is the webhook the update was posted to.
	URL string
	// Attempt counts from 1 for each update.
	Attempt int
	// Status is the HTTP status the webhook answered, 0 when the request
	// failed before a response (Err says why).
	Status int
	// Err is the transport error, or "" when a response arrived.
	Err string
	// Time is when the attempt finished.
	Time time.Time
}

// OK reports whether the attempt succeeded (a 2xx answer).
func (d Delivery) OK() bool { return d.Err == "" && d.Status >= 200 && d.Status < 300 }

// Option configures a Server at construction.
type Option func(*Server)

// WithBotUser sets the bot identity getMe reports and sent messages carry
// in "from" (defaults: DefaultBotID, DefaultBotFirstName,
// DefaultBotUsername). The id does not have to match the token.
func WithBotUser(id int64, firstName, username string) Option {
	return func(a *Server) { a.me = botUser{id: id, firstName: firstName, username: username} }
}

// WithWebhookConcurrency sets how many webhook deliveries may be in flight
// at once (default 8). 1 delivers strictly one update after another, in
// push order; values below 1 mean 1.
func WithWebhookConcurrency(n int) Option {
	return func(a *Server) { a.hookConc = max(n, 1) }
}

// WithWebhookRetry sets how many times one update is posted to its webhook
// before the server gives up on it (default 3 attempts), and the pause
// before the second attempt, doubled for each further one (default 20 ms).
// attempts below 1 mean 1; a negative backoff means 0.
func WithWebhookRetry(attempts int, backoff time.Duration) Option {
	return func(a *Server) {
		a.hookAttempts = max(attempts, 1)
		a.hookBackoff = max(backoff, 0)
	}
}

// Server is a local fake of the Telegram Bot API server, for tests and for
// token-free demos. It serves /bot<token>/<method> for any token over
// GET (query) and POST with form, JSON or multipart bodies, answers the
// methods a bot and floodgate's adapters need (getMe, getUpdates,
// sendMessage, editMessageText, answerCallbackQuery, answerInlineQuery,
// the webhook methods, setMyCommands, and a few canned ones), records every
// call, and lets a test inject updates and 429 errors.
//
// Updates pushed with Push wait in a queue, as on Telegram, until a
// getUpdates call confirms them with a higher offset, or, after
// DeliverToWebhooks, until they are posted to a webhook. Like Telegram,
// the server honours allowed_updates (from getUpdates or setWebhook): by
// default chat_member, message_reaction and message_reaction_count updates
// are not delivered but dropped, until the bot asks for them.
//
// Unknown methods answer 404 "Not Found: method not found"; SetResult adds
// canned answers. All methods are safe for concurrent use.
type Server struct {
	srv    *httptest.Server
	client *http.Client // webhook deliveries
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // dispatcher and deliveries
	once   sync.Once      // Close

	me           botUser
	hookConc     int
	hookAttempts int
	hookBackoff  time.Duration

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every state change
	closed   bool
	calls    []Call
	queue    []queuedUpdate
	nextUpd  int64
	nextMsg  int64
	allowed  map[string]bool // nil: Telegram's default set
	failures map[string]injectedFailure
	results  map[string]json.RawMessage
	chats    map[int64]string // chat id → type, learnt from pushed updates
	flood    *floodState      // nil: no flood limits (WithFloodLimits)

	hookOn       bool     // DeliverToWebhooks was called
	dispatching  bool     // the dispatch goroutine was started
	hookURLs     []string // empty: follow setWebhook's url
	hookSetURL   string   // url given to setWebhook
	hookSetSec   string   // secret_token given to setWebhook
	hookTestSec  string   // secret given to SetWebhookSecret
	hookNext     int      // round-robin position
	hookInFlight int
	hookFailed   []int64
	deliveries   []Delivery
}

type botUser struct {
	id                  int64
	firstName, username string
}

type queuedUpdate struct {
	id   int64
	kind string
	raw  json.RawMessage
}

type injectedFailure struct {
	n, code, retryAfter int
	desc                string
}

// apiError is a Telegram error answer: the HTTP status is its code.
type apiError struct {
	code       int
	desc       string
	retryAfter int
}

func apiBadRequest(desc string) *apiError { return &apiError{code: 400, desc: "Bad Request: " + desc} }

// defaultExcludedKinds are the update kinds Telegram leaves out unless a bot
// lists them in allowed_updates.
var defaultExcludedKinds = []string{"chat_member", "message_reaction", "message_reaction_count"}

// NewServer starts a fake Bot API server on a free 127.0.0.1 port, as
// httptest.NewServer does. The caller must Close it. It is the constructor
// for code outside tests (a demo); tests use Start, which closes the server
// for them.
func NewServer(opts ...Option) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("telegramtest: fake Bot API: listen: %w", err)
	}
	a := &Server{
		me:           botUser{id: DefaultBotID, firstName: DefaultBotFirstName, username: DefaultBotUsername},
		hookConc:     8,
		hookAttempts: 3,
		hookBackoff:  20 * time.Millisecond,
		changed:      make(chan struct{}),
		nextUpd:      1,
		nextMsg:      100000,
		failures:     map[string]injectedFailure{},
		results:      map[string]json.RawMessage{},
		chats:        map[int64]string{},
		client:       &http.Client{Transport: &http.Transport{}, Timeout: 30 * time.Second},
	}
	for _, m := range []string{"sendChatAction", "deleteMessage", "deleteMyCommands"} {
		a.results[strings.ToLower(m)] = json.RawMessage("true")
	}
	for _, o := range opts {
		o(a)
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: a}}
	a.srv.Start()
	return a, nil
}

// Start starts a fake Bot API server for the test and closes it with
// t.Cleanup. It fails the test when no port can be opened.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	a, err := NewServer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

// URL returns the server's base URL, http://127.0.0.1:PORT, with no
// trailing slash: telebot's Settings.URL and telego's WithAPIServer take it
// as is; tgbotapi takes URL()+"/bot%s/%s" as its endpoint.
func (a *Server) URL() string { return a.srv.URL }

// Close stops the server. Pending long polls return an empty result at
// once, webhook delivery stops (updates not yet delivered are abandoned),
// and Close returns only when every goroutine the server started has
// ended. Closing twice is harmless.
func (a *Server) Close() {
	a.once.Do(func() {
		a.mu.Lock()
		a.closed = true
		a.notifyLocked()
		a.mu.Unlock()
		a.cancel()
		a.srv.Close() // waits for the handlers, released above
		a.wg.Wait()
		a.client.CloseIdleConnections()
	})
}

// notifyLocked wakes everyone waiting for a state change. a.mu must be held.
func (a *Server) notifyLocked() {
	close(a.changed)
	a.changed = make(chan struct{})
}

// waitLocked releases a.mu until the next state change or until ctx ends,
// and reacquires it. It reports false when ctx ended.
func (a *Server) waitLocked(ctx context.Context) bool {
	ch := a.changed
	a.mu.Unlock()
	defer a.mu.Lock()
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		return false
	}
}

// ---- injection ----

// Push queues an update for the bot and returns its update_id. update is a
// map[string]any (the builders below make them), a json.RawMessage, []byte
// or string of JSON, or any value that marshals to a JSON object (a
// framework's Update type works too). A missing or zero update_id is
// assigned automatically, one more than the highest seen so far; an
// explicit one is kept and moves the counter past it. Pushing wakes a
// pending long poll at once. Push panics when update is not a JSON object,
// which is a bug in the test.
func (a *Server) Push(update any) int64 {
	var raw []byte
	switch u := update.(type) {
	case json.RawMessage:
		raw = u
	case []byte:
		raw = u
	case string:
		raw = []byte(u)
	default:
		var err error
		if raw, err = json.Marshal(update); err != nil {
			panic(fmt.Sprintf("telegramtest: Push: marshal update: %v", err))
		}
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		panic(fmt.Sprintf("telegramtest: Push: update is not a JSON object: %.200s", raw))
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	var id int64
	if v, ok := obj["update_id"]; ok && json.Unmarshal(v, &id) == nil && id > 0 {
		a.nextUpd = max(a.nextUpd, id+1)
	} else {
		id = a.nextUpd
		a.nextUpd++
		obj["update_id"] = json.RawMessage(strconv.FormatInt(id, 10))
	}
	kind := ""
	for k, v := range obj {
		if k != "update_id" {
			kind = k
			a.rememberChatsLocked(v)
		}
	}
	raw, _ = json.Marshal(obj) // cannot fail: every value is valid JSON
	a.queue = append(a.queue, queuedUpdate{id: id, kind: kind, raw: raw})
	a.notifyLocked()
	return id
}

// rememberChatsLocked learns the type of the chats an update mentions, so
// that sendMessage to them answers with the right chat type.
func (a *Server) rememberChatsLocked(v json.RawMessage) {
	type chat struct {
		ID   int64  `json:"id"`
		Type string `json:"type"`
	}
	var body struct {
		Chat    *chat `json:"chat"`
		Message *struct {
			Chat *chat `json:"chat"`
		} `json:"message"`
	}
	if json.Unmarshal(v, &body) != nil {
		return
	}
	for _, c := range []*chat{body.Chat, func() *chat {
		if body.Message != nil {
			return body.Message.Chat
		}
		return nil
	}()} {
		if c != nil && c.ID != 0 && c.Type != "" {
			a.chats[c.ID] = c.Type
		}
	}
}

// PendingUpdates returns how many pushed updates are not yet confirmed by
// getUpdates nor handed to a webhook.
func (a *Server) PendingUpdates() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.queue)
}

// FailNext makes the next n calls to method (case-insensitive) answer
// HTTP 429 with {"ok":false,"error_code":429,"description":"Too Many
// Requests: retry after X","parameters":{"retry_after":X}}, X being
// retryAfter. It replaces failures still pending for method; n ≤ 0 clears
// them. The failed calls are recorded with RateLimited set and have no
// other effect (a failed getUpdates confirms nothing).
func (a *Server) FailNext(method string, n, retryAfter int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if n <= 0 {
		delete(a.failures, strings.ToLower(method))
		return
	}
	a.failures[strings.ToLower(method)] = injectedFailure{n: n, code: http.StatusTooManyRequests,
		retryAfter: retryAfter, desc: fmt.Sprintf("Too Many Requests: retry after %d", retryAfter)}
}

// FailNextError makes the next n calls to method (case-insensitive) answer
// HTTP status code with {"ok":false,"error_code":code,"description":desc},
// e.g. 400 "Bad Request: chat not found" or 502 "Bad Gateway". It shares
// FailNext's queue (the later call replaces pending failures for method);
// a code of 429 behaves as FailNext with a retry_after of 1. The calls are
// recorded with Failed set and have no other effect.
func (a *Server) FailNextError(method string, n, code int, desc string) {
	if code == http.StatusTooManyRequests {
		a.FailNext(method, n, 1)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if n <= 0 {
		delete(a.failures, strings.ToLower(method))
		return
	}
	a.failures[strings.ToLower(method)] = injectedFailure{n: n, code: code, desc: desc}
}

// SetResult makes method (case-insensitive) answer {"ok":true,"result":
// result}, whatever its parameters, replacing the built-in behaviour if the
// method has one. By default sendChatAction, deleteMessage and
// deleteMyCommands answer true. SetResult panics when result does not
// marshal to JSON.
func (a *Server) SetResult(method string, result any) {
	raw, err := json.Marshal(result)
	if err != nil {
		panic(fmt.Sprintf("telegramtest: SetResult(%q): %v", method, err))
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.results[strings.ToLower(method)] = raw
}

// ---- recording ----

// Calls returns every recorded call, oldest first.
func (a *Server) Calls() []Call {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.calls)
}

// CallsTo returns the recorded calls to method (case-insensitive), oldest
// first.
func (a *Server) CallsTo(method string) []Call {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.callsToLocked(method)
}

func (a *Server) callsToLocked(method string) []Call {
	var out []Call
	for _, c := range a.calls {
		if strings.EqualFold(c.Method, method) {
			out = append(out, c)
		}
	}
	return out
}

// WaitCalls blocks until at least n calls to method (case-insensitive) were
// recorded, then returns them all. It wakes on each new call (no polling).
// When ctx ends first, or the server is closed, it returns the calls seen so
// far with an error.
func (a *Server) WaitCalls(ctx context.Context, method string, n int) ([]Call, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for {
		got := a.callsToLocked(method)
		switch {
		case len(got) >= n:
			return got, nil
		case a.closed:
			return got, fmt.Errorf("telegramtest: waiting for %d %s calls, got %d: server closed", n, method, len(got))
		case !a.waitLocked(ctx):
			return got, fmt.Errorf("telegramtest: waiting for %d %s calls, got %d: %w", n, method, len(got), ctx.Err())
		}
	}
}

// Reset forgets the recorded calls, webhook deliveries and delivery
// failures. Queued updates, FailNext and the other settings stay.
func (a *Server) Reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls, a.deliveries, a.hookFailed = nil, nil, nil
}

// ---- webhook delivery ----

// DeliverToWebhooks switches the server from getUpdates to webhook
// delivery: from now on getUpdates answers 409 Conflict, as Telegram does
// while a webhook is set, and every queuedUpdate and future update is POSTed as
// JSON to urls, round-robin in push order (update i goes to urls[i mod
// len(urls)]). With no urls, updates go to the URL the bot set with
// setWebhook, and wait while none is set. Calling it again replaces the
// URLs.
//
// Deliveries are concurrent: up to WithWebhookConcurrency (default 8)
// updates are in flight at once, so a webhook may see them out of order
// (set the concurrency to 1 for strict order). A delivery that fails (a
// transport error or a non-2xx answer) is retried to the same URL, up to
// WithWebhookRetry attempts, then abandoned; see WaitDelivered and
// Deliveries. Requests carry X-Telegram-Bot-Api-Secret-Token when a secret
// was set, with setWebhook's secret_token or SetWebhookSecret.
func (a *Server) DeliverToWebhooks(urls ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.hookOn = true
	a.hookURLs = slices.Clone(urls)
	a.notifyLocked()
	if !a.closed && !a.dispatching { // under a.mu: Close cannot be in wg.Wait yet
		a.dispatching = true
		a.wg.Add(1)
		go a.dispatch()
	}
}

// SetWebhookSecret sets the secret sent in X-Telegram-Bot-Api-Secret-Token
// with each delivery, as if given to setWebhook. A secret_token the bot
// passes to setWebhook takes precedence; "" removes the test's secret.
func (a *Server) SetWebhookSecret(secret string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.hookTestSec = secret
}

// WaitDelivered blocks until every pushed update has been handed to a
// webhook and each delivery has finished (succeeded or been abandoned). It
// returns an error when ctx ends first, when the server is closed, when
// DeliverToWebhooks was never called, or when some update could not be
// delivered since the last Reset.
func (a *Server) WaitDelivered(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for {
		switch {
		case !a.hookOn:
			return errors.New("telegramtest: WaitDelivered: webhook delivery is off; call DeliverToWebhooks first")
		case len(a.queue) == 0 && a.hookInFlight == 0:
			if len(a.hookFailed) > 0 {
				return fmt.Errorf("telegramtest: %d update(s) could not be delivered: update_id %v", len(a.hookFailed), a.hookFailed)
			}
			return nil
		case a.closed:
			return fmt.Errorf("telegramtest: WaitDelivered: server closed with %d update(s) undelivered", len(a.queue)+a.hookInFlight)
		case !a.waitLocked(ctx):
			return fmt.Errorf("telegramtest: WaitDelivered: %d update(s) undelivered: %w", len(a.queue)+a.hookInFlight, ctx.Err())
		}
	}
}

// Deliveries returns every webhook delivery attempt, in the order they
// finished.
func (a *Server) Deliveries() []Delivery {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.deliveries)
}

// dispatch hands queuedUpdate updates to delivery goroutines, at most hookConc at
// a time, until Close.
func (a *Server) dispatch() {
	defer a.wg.Done()
	sem := make(chan struct{}, a.hookConc)
	for {
		select {
		case sem <- struct{}{}:
		case <-a.ctx.Done():
			return
		}
		a.mu.Lock()
		for !a.closed && (len(a.queue) == 0 || a.hookTargetLocked() == "") {
			a.waitLocked(a.ctx)
		}
		if a.closed {
			a.mu.Unlock()
			return
		}
		u := a.queue[0]
		a.queue = a.queue[1:]
		if !a.allowedLocked(u.kind) {
			a.notifyLocked()
			a.mu.Unlock()
			<-sem
			continue
		}
		target := a.hookTargetLocked()
		a.hookNext++
		secret := a.hookSetSec
		if secret == "" {
			secret = a.hookTestSec
		}
		a.hookInFlight++
		a.mu.Unlock()

		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			defer func() { <-sem }()
			a.deliver(u, target, secret)
		}()
	}
}

// hookTargetLocked returns the URL the next update goes to, "" if none.
func (a *Server) hookTargetLocked() string {
	if len(a.hookURLs) == 0 {
		return a.hookSetURL
	}
	return a.hookURLs[a.hookNext%len(a.hookURLs)]
}

// deliver posts one update to target, retrying, and records each attempt.
func (a *Server) deliver(u queuedUpdate, target, secret string) {
	ok := false
	backoff := a.hookBackoff
	for attempt := 1; attempt <= a.hookAttempts && !ok; attempt++ {
		if attempt > 1 {
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-a.ctx.Done():
				t.Stop()
			}
			backoff *= 2
		}
		if a.ctx.Err() != nil {
			break
		}
		status, err := a.post(target, secret, u.raw)
		d := Delivery{UpdateID: u.id, URL: target, Attempt: attempt, Status: status, Time: time.Now()}
		if err != nil {
			d.Err = err.Error()
		}
		ok = d.OK()
		a.mu.Lock()
		a.deliveries = append(a.deliveries, d)
		a.mu.Unlock()
	}
	a.mu.Lock()
	a.hookInFlight--
	if !ok {
		a.hookFailed = append(a.hookFailed, u.id)
	}
	a.notifyLocked()
	a.mu.Unlock()
}

// post sends one webhook request and returns the HTTP status.
func (a *Server) post(target, secret string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(a.ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxParamBytes))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// allowedLocked reports whether an update kind passes allowed_updates.
func (a *Server) allowedLocked(kind string) bool {
	if a.allowed == nil {
		return !slices.Contains(defaultExcludedKinds, kind)
	}
	return a.allowed[kind]
}

// setAllowedLocked applies an allowed_updates parameter: absent or null
// keeps the previous setting, [] restores Telegram's default.
func (a *Server) setAllowedLocked(p map[string]string) *apiError {
	v, ok := p["allowed_updates"]
	if !ok || v == "" || v == "null" {
		return nil
	}
	var kinds []string
	if err := json.Unmarshal([]byte(v), &kinds); err != nil {
		return apiBadRequest("can't parse allowed updates")
	}
	if len(kinds) == 0 {
		a.allowed = nil
		return nil
	}
	a.allowed = map[string]bool{}
	for _, k := range kinds {
		a.allowed[k] = true
	}
	return nil
}

// ---- HTTP ----

// ServeHTTP answers one Bot API request (paths /bot<token>/<method>; any
// other path answers 404). It is exported so that a Server made by
// NewServer or Start can also be mounted in another server; a zero Server
// is not usable.
func (a *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token, method, ok := splitBotPath(r.URL.Path)
	if !ok {
		writeAnswer(w, nil, &apiError{code: 404, desc: "Not Found"})
		return
	}
	params, files, ctype, err := readParams(r)
	if err != nil {
		writeAnswer(w, nil, apiBadRequest(err.Error()))
		return
	}
	lower := strings.ToLower(method)

	a.mu.Lock()
	call := Call{Token: token, Method: method, Params: params, Files: files, ContentType: ctype,
		HTTPMethod: r.Method, Time: time.Now()}
	var fail *apiError
	if f, ok := a.failures[lower]; ok {
		if f.n--; f.n > 0 {
			a.failures[lower] = f
		} else {
			delete(a.failures, lower)
		}
		call.Failed, call.RateLimited = f.code, f.code == http.StatusTooManyRequests
		fail = &apiError{code: f.code, desc: f.desc, retryAfter: f.retryAfter}
	} else if a.flood != nil {
		if wait, lane, limited := a.flood.admit(token, lower, params, call.Time); limited {
			call.RateLimited, call.Flooded, call.FloodLane = true, true, lane
			secs := int((wait + time.Second - 1) / time.Second) // whole seconds, rounded up, as Telegram
			fail = &apiError{code: 429, desc: fmt.Sprintf("Too Many Requests: retry after %d", secs), retryAfter: secs}
		}
	}
	a.calls = append(a.calls, call)
	a.notifyLocked()
	canned, isCanned := a.results[lower]
	a.mu.Unlock()

	if fail != nil {
		writeAnswer(w, nil, fail)
		return
	}
	if isCanned {
		writeAnswer(w, canned, nil)
		return
	}
	var res any
	var aerr *apiError
	switch lower {
	case "getme":
		res = a.meJSON()
	case "getupdates":
		res, aerr = a.getUpdates(r.Context(), params)
	case "sendmessage":
		res, aerr = a.sendMessage(params)
	case "editmessagetext", "editmessagereplymarkup":
		res, aerr = a.editMessage(lower, params)
	case "answercallbackquery":
		res, aerr = true, requireParams(params, "callback_query_id")
	case "answerinlinequery":
		res, aerr = a.answerInlineQuery(params)
	case "setwebhook":
		res, aerr = a.setWebhook(params)
	case "deletewebhook":
		res, aerr = a.deleteWebhook(params)
	case "getwebhookinfo":
		res = a.webhookInfo()
	case "setmycommands":
		res, aerr = true, requireParams(params, "commands")
	default:
		aerr = &apiError{code: 404, desc: "Not Found: method not found"}
	}
	writeAnswer(w, res, aerr)
}

// splitBotPath splits /bot<token>/<method>.
func splitBotPath(p string) (token, method string, ok bool) {
	rest, ok := strings.CutPrefix(p, "/bot")
	if !ok {
		return "", "", false
	}
	token, method, ok = strings.Cut(rest, "/")
	if !ok || token == "" || method == "" || strings.Contains(method, "/") {
		return "", "", false
	}
	return token, method, true
}

// writeAnswer writes Telegram's envelope: {"ok":true,"result":...} or
// {"ok":false,"error_code":...,"description":...} with that HTTP status.
func writeAnswer(w http.ResponseWriter, result any, e *apiError) {
	w.Header().Set("Content-Type", "application/json")
	if e == nil {
		_ = json.NewEncoder(w).Encode(struct {
			OK     bool `json:"ok"`
			Result any  `json:"result"`
		}{true, result})
		return
	}
	type params struct {
		RetryAfter int `json:"retry_after"`
	}
	body := struct {
		OK          bool    `json:"ok"`
		ErrorCode   int     `json:"error_code"`
		Description string  `json:"description"`
		Parameters  *params `json:"parameters,omitempty"`
	}{false, e.code, e.desc, nil}
	if e.code == http.StatusTooManyRequests {
		body.Parameters = &params{RetryAfter: e.retryAfter}
	}
	w.WriteHeader(e.code)
	_ = json.NewEncoder(w).Encode(body)
}

// readParams collects the query string and the body's parameters as
// strings; see Call.Params.
func readParams(r *http.Request) (params, files map[string]string, mediaType string, err error) {
	params = map[string]string{}
	for k, v := range r.URL.Query() {
		params[k] = v[0]
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return params, nil, "", nil
	}
	mediaType, mp, err := mime.ParseMediaType(ct)
	if err != nil {
		return nil, nil, "", fmt.Errorf("bad Content-Type %q", ct)
	}
	body := io.LimitReader(r.Body, maxParamBytes)
	switch mediaType {
	case "application/x-www-form-urlencoded":
		b, err := io.ReadAll(body)
		if err != nil {
			return nil, nil, "", err
		}
		vals, err := url.ParseQuery(string(b))
		if err != nil {
			return nil, nil, "", fmt.Errorf("can't parse form: %v", err)
		}
		for k, v := range vals {
			params[k] = v[0]
		}
	case "application/json":
		b, err := io.ReadAll(body)
		if err != nil {
			return nil, nil, "", err
		}
		b = bytes.TrimSpace(b)
		if len(b) == 0 || string(b) == "null" { // telebot sends null for no parameters
			break
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(b, &obj); err != nil {
			return nil, nil, "", errors.New("can't parse JSON object")
		}
		for k, v := range obj {
			if s, ok := jsonParam(v); ok {
				params[k] = s
			}
		}
	case "multipart/form-data":
		mr := multipart.NewReader(body, mp["boundary"])
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) { // the end, or an empty body (go-telegram/bot's getMe): no parameters
				break
			}
			if err != nil {
				return nil, nil, "", fmt.Errorf("can't parse multipart: %v", err)
			}
			if name := part.FormName(); part.FileName() != "" {
				if files == nil {
					files = map[string]string{}
				}
				files[name] = part.FileName()
				_, err = io.Copy(io.Discard, part)
			} else {
				var b []byte
				b, err = io.ReadAll(part)
				params[name] = string(b)
			}
			if err != nil {
				return nil, nil, "", fmt.Errorf("can't read multipart: %v", err)
			}
		}
	}
	return params, files, mediaType, nil
}

// jsonParam turns one JSON value into its parameter string; false for null.
func jsonParam(v json.RawMessage) (string, bool) {
	v = bytes.TrimSpace(v)
	switch {
	case len(v) == 0 || string(v) == "null":
		return "", false
	case v[0] == '"':
		var s string
		_ = json.Unmarshal(v, &s) // valid: it came out of a parsed object
		return s, true
	case v[0] == '{' || v[0] == '[':
		var b bytes.Buffer
		_ = json.Compact(&b, v)
		return b.String(), true
	default: // number, true, false: their literal text
		return string(v), true
	}
}

// require answers 400 when a parameter is missing.
func requireParams(p map[string]string, names ...string) *apiError {
	for _, n := range names {
		if p[n] == "" {
			return apiBadRequest(n + " is empty")
		}
	}
	return nil
}

// ---- methods ----

func (a *Server) meJSON() map[string]any {
	return map[string]any{
		"id": a.me.id, "is_bot": true, "first_name": a.me.firstName, "username": a.me.username,
		"can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": true,
	}
}

// getUpdates confirms updates below offset, then returns up to limit
// queuedUpdate updates, waiting up to timeout seconds for the first one.
func (a *Server) getUpdates(ctx context.Context, p map[string]string) (any, *apiError) {
	offset, _ := strconv.ParseInt(p["offset"], 10, 64)
	limit, _ := strconv.Atoi(p["limit"])
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	timeout, _ := strconv.Atoi(p["timeout"])
	timeout = min(max(timeout, 0), 3600) // bounded, so the Duration cannot overflow
	waitCtx, cancel := context.WithTimeout(ctx, time.Duration(timeout)*time.Second)
	defer cancel()

	a.mu.Lock()
	defer a.mu.Unlock()
	if a.hookOn {
		return nil, &apiError{code: 409, desc: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"}
	}
	if e := a.setAllowedLocked(p); e != nil {
		return nil, e
	}
	switch {
	case offset < 0: // keep the last -offset updates, forget the rest
		if n := int(-offset); n < len(a.queue) {
			a.queue = a.queue[len(a.queue)-n:]
		}
	case offset > 0:
		i := 0
		for i < len(a.queue) && a.queue[i].id < offset {
			i++
		}
		a.queue = a.queue[i:]
	}
	out := make([]json.RawMessage, 0)
	for {
		kept := a.queue[:0:0]
		for _, u := range a.queue {
			if !a.allowedLocked(u.kind) {
				continue // Telegram drops updates the bot did not ask for
			}
			kept = append(kept, u)
			if len(out) < limit {
				out = append(out, u.raw)
			}
		}
		a.queue = kept
		if len(out) > 0 || a.closed || timeout <= 0 || !a.waitLocked(waitCtx) {
			return out, nil
		}
	}
}

// chatLocked describes a chat by id: its type is the one seen in pushed
// updates, else guessed from the id (see chatTypeOf).
func (a *Server) chatLocked(id int64) map[string]any {
	typ, ok := a.chats[id]
	if !ok {
		typ = chatTypeOf(id)
	}
	c := map[string]any{"id": id, "type": typ}
	if typ == "private" {
		c["first_name"] = "User" + strconv.FormatInt(id, 10)
	} else {
		c["title"] = "Chat " + strconv.FormatInt(id, 10)
	}
	return c
}

// chatTypeOf guesses a chat type from its id: positive ids are users
// (private), ids at or below -1000000000000 (the -100… form) supergroups,
// other negative ids basic groups.
func chatTypeOf(id int64) string {
	switch {
	case id > 0:
		return "private"
	case id <= -1000000000000:
		return "supergroup"
	default:
		return "group"
	}
}

// sendMessage returns the message as sent: a new message_id, the chat, the
// text, the date and the bot as sender. An inline keyboard in reply_markup
// is echoed back, as Telegram does.
func (a *Server) sendMessage(p map[string]string) (any, *apiError) {
	if p["chat_id"] == "" {
		return nil, apiBadRequest("chat_id is empty")
	}
	if p["text"] == "" {
		return nil, apiBadRequest("message text is empty")
	}
	chatID, err := strconv.ParseInt(p["chat_id"], 10, 64)
	if err != nil {
		return nil, apiBadRequest("chat not found")
	}
	a.mu.Lock()
	a.nextMsg++
	msg := map[string]any{"message_id": a.nextMsg, "from": a.meJSON(), "chat": a.chatLocked(chatID),
		"date": time.Now().Unix(), "text": p["text"]}
	a.mu.Unlock()
	if kb := inlineKeyboard(p["reply_markup"]); kb != nil {
		msg["reply_markup"] = kb
	}
	return msg, nil
}

// editMessage answers editMessageText and editMessageReplyMarkup: true for
// an inline message, else the edited message.
func (a *Server) editMessage(method string, p map[string]string) (any, *apiError) {
	if method == "editmessagetext" && p["text"] == "" {
		return nil, apiBadRequest("message text is empty")
	}
	if p["inline_message_id"] != "" {
		return true, nil
	}
	if e := requireParams(p, "chat_id", "message_id"); e != nil {
		return nil, e
	}
	chatID, err1 := strconv.ParseInt(p["chat_id"], 10, 64)
	msgID, err2 := strconv.ParseInt(p["message_id"], 10, 64)
	if err1 != nil || err2 != nil {
		return nil, apiBadRequest("message to edit not found")
	}
	now := time.Now().Unix()
	a.mu.Lock()
	msg := map[string]any{"message_id": msgID, "from": a.meJSON(), "chat": a.chatLocked(chatID),
		"date": now, "edit_date": now}
	a.mu.Unlock()
	if t := p["text"]; t != "" {
		msg["text"] = t
	}
	if kb := inlineKeyboard(p["reply_markup"]); kb != nil {
		msg["reply_markup"] = kb
	}
	return msg, nil
}

// inlineKeyboard returns reply_markup when it is an inline keyboard.
func inlineKeyboard(s string) json.RawMessage {
	var m struct {
		Keyboard json.RawMessage `json:"inline_keyboard"`
	}
	if s == "" || json.Unmarshal([]byte(s), &m) != nil || m.Keyboard == nil {
		return nil
	}
	return json.RawMessage(s)
}

func (a *Server) answerInlineQuery(p map[string]string) (any, *apiError) {
	if e := requireParams(p, "inline_query_id"); e != nil {
		return nil, e
	}
	// As the real server: missing, empty or null results mean "no results".
	if r := p["results"]; r != "" && r != "null" {
		var v any
		if err := json.Unmarshal([]byte(r), &v); err != nil {
			return nil, apiBadRequest("can't parse JSON encoded inline query results: " + err.Error())
		}
		if _, ok := v.([]any); !ok {
			return nil, apiBadRequest("expected an Array of inline query results")
		}
	}
	return true, nil
}

// setWebhook records url and secret_token (delivered to only after
// DeliverToWebhooks with no URLs) and allowed_updates.
func (a *Server) setWebhook(p map[string]string) (any, *apiError) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if e := a.setAllowedLocked(p); e != nil {
		return nil, e
	}
	if p["drop_pending_updates"] == "true" {
		a.queue = nil
	}
	a.hookSetURL, a.hookSetSec = p["url"], p["secret_token"]
	a.notifyLocked()
	return true, nil
}

// deleteWebhook forgets setWebhook's url and secret (not the test's
// DeliverToWebhooks choice) and may drop pending updates.
func (a *Server) deleteWebhook(p map[string]string) (any, *apiError) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if p["drop_pending_updates"] == "true" {
		a.queue = nil
	}
	a.hookSetURL, a.hookSetSec = "", ""
	a.notifyLocked()
	return true, nil
}

func (a *Server) webhookInfo() any {
	a.mu.Lock()
	defer a.mu.Unlock()
	info := map[string]any{"url": a.hookSetURL, "has_custom_certificate": false,
		"pending_update_count": len(a.queue)}
	if a.hookSetURL != "" {
		info["max_connections"] = 40
	}
	return info
}
