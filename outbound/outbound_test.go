package outbound_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/outbound"
	"github.com/floodgate-go/floodgate/store/memorystore"
	"go.uber.org/goleak"
)

// fasthttp (telego's default transport, used by the telego-fasthttp
// tests) starts cleaner goroutines per client, host and dialer that sleep
// and exit on their own some seconds after the last connection: not ours.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/valyala/fasthttp.(*Client).mCleaner"),
		goleak.IgnoreTopFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
		goleak.IgnoreTopFunction("github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*Client).mCleaner"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"))
}

// token is a bot token of the shape every framework accepts.
const token = "7000000001:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// events records a throttle's events.
type events struct {
	mu  sync.Mutex
	all []outbound.Event
	ch  chan outbound.Event
}

func newEvents() *events { return &events{ch: make(chan outbound.Event, 1024)} }

func (e *events) add(ev outbound.Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
	select {
	case e.ch <- ev:
	default:
	}
}

func (e *events) count(k outbound.EventKind) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.all {
		if ev.Kind == k {
			n++
		}
	}
	return n
}

// waitFor returns the next event of kind k, failing the test after 10 s.
func (e *events) waitFor(t testing.TB, k outbound.EventKind) outbound.Event {
	t.Helper()
	tm := time.NewTimer(10 * time.Second)
	defer tm.Stop()
	for {
		select {
		case ev := <-e.ch:
			if ev.Kind == k {
				return ev
			}
		case <-tm.C:
			t.Fatalf("no %v event within 10 s", k)
		}
	}
}

// clocks maps each Throttle newThrottle built to its fake clock.
var clocks sync.Map

// clockOf returns the fake clock of a Throttle newThrottle built.
func clockOf(th *outbound.Throttle) *outbound.FakeClock {
	c, _ := clocks.Load(th)
	return c.(*outbound.FakeClock)
}

// newThrottle builds a Throttle over st (memory on the same clock when
// nil) that logs to log (discarded when nil) and reports to ev (when not
// nil). Its waits run on a fake clock that jumps to the end of each wait
// at once (clockOf): a test must let one request wait at a time.
func newThrottle(t testing.TB, st core.Store, log io.Writer, ev *events, opts ...outbound.Option) *outbound.Throttle {
	t.Helper()
	clk := outbound.NewFakeClock(time.Now())
	if st == nil {
		m := memorystore.New(memorystore.WithClock(clk.Now))
		t.Cleanup(func() { _ = m.Close() })
		st = m
	}
	if log == nil {
		log = io.Discard
	}
	lg := slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts = append([]outbound.Option{outbound.WithLogger(lg)}, opts...)
	if ev != nil {
		opts = append(opts, outbound.WithEvents(ev.add))
	}
	th, err := outbound.New(st, opts...)
	if err != nil {
		t.Fatal(err)
	}
	outbound.UseClock(th, clk)
	stop := make(chan struct{})
	clk.Auto(stop)
	t.Cleanup(func() { close(stop) })
	clocks.Store(th, clk)
	return th
}

// client returns an http.Client through th with its own transport.
func client(t testing.TB, th *outbound.Throttle) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return th.Client(&http.Client{Transport: tr, Timeout: time.Minute})
}

// send posts a form to method and returns the status, failing on a
// transport error.
func send(t testing.TB, c *http.Client, api *testutil.BotAPI, method string, form url.Values) int {
	t.Helper()
	resp, err := post(c, api, method, form)
	if err != nil {
		t.Fatalf("%s: %v", method, guard.Redact(err.Error(), token))
	}
	return resp
}

func post(c *http.Client, api *testutil.BotAPI, method string, form url.Values) (int, error) {
	resp, err := c.PostForm(api.URL()+"/bot"+token+"/"+method, form)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

func msg(chat string) url.Values { return url.Values{"chat_id": {chat}, "text": {"hi"}} }

// TestPacesEachLane: a private chat's sends are spaced by its lane; other
// chats and unthrottled methods are not held up by it.
func TestPacesEachLane(t *testing.T) {
	t.Parallel()
	api := testutil.StartBotAPI(t)
	th := newThrottle(t, nil, nil, nil, outbound.WithLimits(outbound.Limits{Private: core.Window(1, 300*time.Millisecond)}))
	c := client(t, th)
	clk := clockOf(th)
	start := clk.Now()
	var at []time.Time
	for range 3 {
		if s := send(t, c, api, "sendMessage", msg("1")); s != 200 {
			t.Fatalf("status %d", s)
		}
		at = append(at, clk.Now())
	}
	if el, want := clk.Now().Sub(start), 2*(300*time.Millisecond+outbound.DefaultMargin); el != want {
		t.Fatalf("three sends to one private chat took %v, want %v (the lane's pace and its margin, no more)", el, want)
	}
	for i := 1; i < 3; i++ {
		if gap := at[i].Sub(at[i-1]); gap < 300*time.Millisecond {
			t.Fatalf("sends %d and %d to chat 1 went %v apart", i-1, i, gap)
		}
	}
	start = clk.Now()
	for _, chat := range []string{"2", "3", "-100", "-100"} {
		send(t, c, api, "sendMessage", msg(chat))
	}
	for range 5 {
		send(t, c, api, "getMe", nil)
		send(t, c, api, "sendChatAction", url.Values{"chat_id": {"1"}, "action": {"typing"}})
	}
	if el := clk.Now().Sub(start); el != 0 {
		t.Fatalf("other chats and unthrottled methods waited %v; they must not wait", el)
	}
}

// TestRetries429 checks the whole 429 path on one instance: the request is
// retried after retry_after and delivered once, the chat's lane is paused,
// the log names method and chat but never the token.
func TestRetries429(t *testing.T) {
	t.Parallel()
	api := testutil.StartBotAPI(t)
	var log testutil.SyncBuffer
	ev := newEvents()
	th := newThrottle(t, nil, &log, ev)
	c := client(t, th)
	api.FailNext("sendMessage", 1, 1)
	start := clockOf(th).Now()
	if s := send(t, c, api, "sendMessage", msg("-100777")); s != 200 {
		t.Fatalf("status %d, want 200 after a retry", s)
	}
	if el := clockOf(th).Now().Sub(start); el < time.Second {
		t.Fatalf("retried after %v, before retry_after (1 s)", el)
	}
	calls := api.CallsTo("sendMessage")
	if len(calls) != 2 || !calls[0].RateLimited || calls[1].RateLimited {
		t.Fatalf("calls %+v, want one 429 then one delivery", calls)
	}
	if n := ev.count(outbound.Paused); n != 1 {
		t.Fatalf("%d pauses", n)
	}
	if p := ev.all[0]; p.Kind != outbound.Paused || p.Lane != "chat:-100777" || p.Wait != time.Second {
		t.Fatalf("first event %+v, want a 1 s pause of chat:-100777; all: %+v", p, ev.all)
	}
	out := log.String()
	if !strings.Contains(out, "429") || !strings.Contains(out, "-100777") || strings.Contains(out, token) ||
		strings.Contains(out, "AAAAAAAA") {
		t.Fatalf("log: %s", out)
	}
}

// TestNoRetryExceptFor429: 5xx and 4xx answers are returned as they are,
// after one attempt.
func TestNoRetryExceptFor429(t *testing.T) {
	t.Parallel()
	api := testutil.StartBotAPI(t)
	ev := newEvents()
	c := client(t, newThrottle(t, nil, nil, ev))
	for _, code := range []int{500, 502, 400, 403} {
		api.Reset()
		api.FailNextError("sendMessage", 1, code, "injected")
		if s := send(t, c, api, "sendMessage", msg("5")); s != code {
			t.Fatalf("status %d, want %d", s, code)
		}
		if n := len(api.CallsTo("sendMessage")); n != 1 {
			t.Fatalf("%d: %d calls, want 1 (no retry)", code, n)
		}
	}
	if n := ev.count(outbound.Retried); n != 0 {
		t.Fatalf("%d retries", n)
	}
}

// TestGivesUpPastMaxWait: a retry_after beyond the maximum wait is not
// waited for: the caller gets Telegram's 429 intact, and the pause it
// recorded refuses the next request to that chat at once, unsent.
func TestGivesUpPastMaxWait(t *testing.T) {
	t.Parallel()
	api := testutil.StartBotAPI(t)
	th := newThrottle(t, nil, nil, nil, outbound.WithMaxWait(2*time.Second))
	c := client(t, th)
	api.FailNext("sendMessage", 1, 30)
	resp, err := c.PostForm(api.URL()+"/bot"+token+"/sendMessage", msg("9"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 429 || !strings.Contains(string(body), `"retry_after":30`) {
		t.Fatalf("got %d %s, want Telegram's 429", resp.StatusCode, body)
	}
	start := clockOf(th).Now()
	_, err = post(c, api, "sendMessage", msg("9"))
	if waited := clockOf(th).Now().Sub(start); !errors.Is(err, outbound.ErrWaitTooLong) || waited != 0 {
		t.Fatalf("second send: %v after %v, want ErrWaitTooLong at once", err, waited)
	}
	if n := len(api.CallsTo("sendMessage")); n != 1 {
		t.Fatalf("%d calls reached the server, want 1", n)
	}
	// An unrelated chat is not frozen.
	if s := send(t, c, api, "sendMessage", msg("10")); s != 200 {
		t.Fatalf("other chat: %d", s)
	}
	// A context deadline bounds the wait too.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, api.URL()+"/bot"+token+"/sendMessage",
		strings.NewReader(msg("9").Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, err := c.Do(req); !errors.Is(err, outbound.ErrWaitTooLong) {
		t.Fatalf("with a 1 s deadline: %v", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestRetriesOnlyUnsentErrors: a failed dial is retried (the request never
// left); any other transport error is returned after one attempt.
func TestRetriesOnlyUnsentErrors(t *testing.T) {
	t.Parallel()
	api := testutil.StartBotAPI(t)
	th := newThrottle(t, nil, nil, nil)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	for _, c := range []struct {
		err     error
		attempt int
	}{
		{&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, 2},
		{&net.DNSError{Err: "no such host", Name: "api.telegram.org"}, 2},
		{&net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset")}, 1},
		{io.ErrUnexpectedEOF, 1},
	} {
		var mu sync.Mutex
		attempts := 0
		cl := th.Client(&http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			attempts++
			first := attempts == 1
			mu.Unlock()
			if first {
				if r.Body != nil {
					_ = r.Body.Close()
				}
				return nil, c.err
			}
			return tr.RoundTrip(r)
		})})
		_, err := post(cl, api, "sendMessage", msg("11"))
		if (err == nil) != (c.attempt == 2) || attempts != c.attempt {
			t.Fatalf("%v: %d attempts, err %v", c.err, attempts, err)
		}
	}
}

// TestReadsChatFromEveryBody: the chat lane is found in a query string, a
// JSON body and a multipart upload whose file comes first.
func TestReadsChatFromEveryBody(t *testing.T) {
	t.Parallel()
	api := testutil.StartBotAPI(t)
	api.SetResult("sendDocument", map[string]any{"message_id": 1})
	th := newThrottle(t, nil, nil, nil, outbound.WithLimits(outbound.Limits{Private: core.Window(1, 400*time.Millisecond)}))
	c := client(t, th)
	base := api.URL() + "/bot" + token + "/"
	reqs := map[string]func(chat string) *http.Request{
		"query": func(chat string) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, base+"sendMessage?text=x&chat_id="+chat, nil)
			return r
		},
		"json": func(chat string) *http.Request {
			r, _ := http.NewRequest(http.MethodPost, base+"sendMessage", strings.NewReader(`{"text":"x","chat_id":`+chat+`}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		},
		"multipart": func(chat string) *http.Request {
			pr, pw := io.Pipe()
			mw := multipart.NewWriter(pw)
			go func() {
				fw, _ := mw.CreateFormFile("document", "a.txt")
				_, _ = fw.Write(bytes.Repeat([]byte("x"), 100_000))
				_ = mw.WriteField("chat_id", chat)
				_ = pw.CloseWithError(mw.Close())
			}()
			r, _ := http.NewRequest(http.MethodPost, base+"sendDocument", pr)
			r.Header.Set("Content-Type", mw.FormDataContentType())
			return r
		},
	}
	clk := clockOf(th)
	for name, mk := range reqs {
		start := clk.Now()
		for _, chat := range []string{"21", "21"} {
			resp, err := c.Do(mk(chat))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("%s: status %d", name, resp.StatusCode)
			}
		}
		if el := clk.Now().Sub(start); el < 400*time.Millisecond {
			t.Fatalf("%s: two sends to chat 21 took %v: the chat lane was not applied", name, el)
		}
	}
	docs := api.CallsTo("sendDocument")
	if len(docs) != 2 || docs[0].Params["chat_id"] != "21" || docs[0].Files["document"] != "a.txt" {
		t.Fatalf("uploads as received: %+v", docs)
	}
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	st := memorystore.New()
	t.Cleanup(func() { _ = st.Close() })
	for name, c := range map[string]struct {
		st   core.Store
		opt  outbound.Option
		want error
	}{
		"nil store":    {nil, nil, core.ErrInvalidOption},
		"nil option":   {st, nil, core.ErrInvalidOption},
		"gcra lane":    {st, outbound.WithLimits(outbound.Limits{Global: core.PerSecond(30)}), core.ErrInvalidLimit},
		"invalid lane": {st, outbound.WithLimits(outbound.Limits{Group: core.Window(0, time.Second)}), core.ErrInvalidLimit},
		"max wait":     {st, outbound.WithMaxWait(-1), core.ErrInvalidOption},
		"retries":      {st, outbound.WithRetries(-1), core.ErrInvalidOption},
		"bot id":       {st, outbound.WithBotID(-1), core.ErrInvalidOption},
		"margin":       {st, outbound.WithMargin(-time.Millisecond), core.ErrInvalidOption},
		"margin µs":    {st, outbound.WithMargin(time.Nanosecond), core.ErrInvalidOption},
		"logger":       {st, outbound.WithLogger(nil), core.ErrInvalidOption},
		"empty prefix": {st, outbound.WithPrefix(""), core.ErrInvalidOption},
		"brace prefix": {st, outbound.WithPrefix("a{b}"), core.ErrInvalidOption},
	} {
		var opts []outbound.Option
		if name != "nil store" {
			opts = append(opts, c.opt)
		}
		if _, err := outbound.New(c.st, opts...); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestPrefixAndObserver: WithPrefix starts every lane key, so tenants on
// one store stay apart, and each decision reaches WithObserver's observer
// under that prefix and the rule "outbound".
func TestPrefixAndObserver(t *testing.T) {
	t.Parallel()
	api := testutil.StartBotAPI(t)
	st := memorystore.New()
	t.Cleanup(func() { _ = st.Close() })
	obs := &decisions{}
	c := client(t, newThrottle(t, st, nil, nil, outbound.WithPrefix("tenant1"), outbound.WithObserver(obs)))
	if s := send(t, c, api, "sendMessage", msg("5")); s != http.StatusOK {
		t.Fatalf("status %d", s)
	}
	ctx := context.Background()
	global := core.Window(30, time.Second)
	// Peek tells what one more send would leave: 28 after one, 29 on a
	// lane nobody used.
	for key, want := range map[string]int{
		"tenant1:{bot:7000000001}:out:global":   28,
		"floodgate:{bot:7000000001}:out:global": 29,
	} {
		res, err := st.Peek(ctx, key, global)
		if err != nil || res.Remaining != want {
			t.Errorf("%s: remaining %d (%v), want %d", key, res.Remaining, err, want)
		}
	}
	ds := obs.events()
	if len(ds) != 1 || ds[0] != (core.DecisionEvent{Prefix: "tenant1", Rule: "outbound", Allowed: true, Latency: ds[0].Latency}) {
		t.Fatalf("decisions %+v, want one admission by the store under tenant1/outbound", ds)
	}
}

// blockRecorder is a memory store that records the pauses it is asked
// for and fails the test on one Store.Block does not allow.
type blockRecorder struct {
	*memorystore.Store
	t  testing.TB
	mu sync.Mutex
	ds []time.Duration
}

func (s *blockRecorder) Block(ctx context.Context, key string, l core.Limit, d time.Duration) error {
	if d <= 0 || d > core.MaxBlock {
		s.t.Errorf("Block(%s, %v): d outside (0, core.MaxBlock]", key, d)
	}
	s.mu.Lock()
	s.ds = append(s.ds, d)
	s.mu.Unlock()
	return s.Store.Block(ctx, key, l, d)
}

// TestPauseWithinMaxBlock: whatever retry_after send reports for a 429,
// the lane is paused for a d that Store.Block takes: at least a second,
// at most core.MaxBlock; the Paused event says the same.
func TestPauseWithinMaxBlock(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		retryAfter, want time.Duration
	}{
		{-time.Hour, time.Second},
		{0, time.Second},
		{time.Nanosecond, time.Second},
		{2 * time.Second, 2 * time.Second},
		{core.MaxBlock, core.MaxBlock},
		{core.MaxBlock + time.Nanosecond, core.MaxBlock},
		{math.MaxInt64, core.MaxBlock},
	} {
		mem := memorystore.New()
		t.Cleanup(func() { _ = mem.Close() })
		st := &blockRecorder{Store: mem, t: t}
		ev := newEvents()
		th := newThrottle(t, st, nil, ev, outbound.WithRetries(0))
		call := outbound.Call{URL: "https://api.telegram.org/bot" + token + "/sendMessage",
			ContentType: "application/x-www-form-urlencoded", Body: []byte(msg("7").Encode())}
		err := th.Do(context.Background(), call, func(_ context.Context, body io.Reader) (outbound.Reply, error) {
			if _, err := io.Copy(io.Discard, body); err != nil { // through the gate: the lanes admit it
				return outbound.Reply{}, err
			}
			return outbound.Reply{ErrorCode: http.StatusTooManyRequests, RetryAfter: c.retryAfter}, nil
		})
		if err != nil {
			t.Fatalf("retry_after %v: %v", c.retryAfter, err)
		}
		if len(st.ds) != 1 || st.ds[0] != c.want {
			t.Errorf("retry_after %v: Block got %v, want [%v]", c.retryAfter, st.ds, c.want)
		}
		if n := ev.count(outbound.Paused); n != 1 || ev.all[0].Wait != c.want || ev.all[0].Lane != "chat:7" {
			t.Errorf("retry_after %v: events %+v, want one pause of chat:7 for %v", c.retryAfter, ev.all, c.want)
		}
	}
}

// decided signals each of a throttle's store decisions (one per Reserve).
type decided struct{ n chan struct{} }

func (d decided) Decision(core.DecisionEvent) { d.n <- struct{}{} }
func (d decided) Fault(core.FaultEvent)       {}
func (d decided) Breaker(core.BreakerEvent)   {}

// TestWaitsWithoutConnection: once an instance's sends queue (its latest
// slot lies a second or more ahead), a form or JSON request books its slot
// as it asks and reaches the transport (which makes a connection) only
// shortly before it (sendLead, 1 s), so a goroutine per recipient does not
// hold a connection per recipient open for minutes. At one send per
// second, of four requests the first two reach the transport at once (the
// instance does not queue yet: they book at their body's end), the third
// when the clock reaches 1 s, the fourth at 2 s; each is sent at its slot.
func TestWaitsWithoutConnection(t *testing.T) {
	t.Parallel()
	clk := outbound.NewFakeClock(time.Unix(1_700_000_000, 0))
	st := memorystore.New(memorystore.WithClock(clk.Now))
	t.Cleanup(func() { _ = st.Close() })
	dec := decided{n: make(chan struct{}, 4)}
	th, err := outbound.New(st, outbound.WithLogger(discard()), outbound.WithMargin(0), outbound.WithMaxWait(time.Hour),
		outbound.WithObserver(dec), outbound.WithLimits(outbound.Limits{Global: core.Window(1, time.Second)}))
	if err != nil {
		t.Fatal(err)
	}
	outbound.UseClock(th, clk)
	const n = 4
	entered, sent := make(chan int, n), make(chan int, n)
	errs := make(chan error, n)
	for k := range n {
		go func() {
			errs <- th.Do(context.Background(), outbound.Call{URL: "https://api.telegram.org/bot" + token + "/sendMessage",
				ContentType: "application/x-www-form-urlencoded", Body: []byte("text=hi&chat_id=" + strconv.Itoa(100+k))},
				func(_ context.Context, body io.Reader) (outbound.Reply, error) {
					entered <- k
					if _, err := io.ReadAll(body); err != nil { // released at the slot
						return outbound.Reply{}, err
					}
					sent <- k
					return outbound.Reply{}, nil
				})
		}()
		// One at a time, so that request k has slot k s.
		select {
		case <-dec.n:
		case <-time.After(10 * time.Second):
			t.Fatalf("request %d never asked the store", k)
		}
	}
	expect := func(c chan int, what string, want ...int) {
		t.Helper()
		var got []int // in any order: requests of one instant have none
		for range want {
			select {
			case k := <-c:
				got = append(got, k)
			case <-time.After(10 * time.Second): // generous: only a broken throttle waits this long
				t.Fatalf("%s: %v, want %v", what, got, want)
			}
		}
		if slices.Sort(got); !slices.Equal(got, want) {
			t.Fatalf("%s: %v, want %v", what, got, want)
		}
		select {
		case k := <-c:
			t.Fatalf("%s: request %d too early", what, k)
		case <-time.After(50 * time.Millisecond): // a check for absence, not a wait for a result
		}
	}
	// Timers: request 1 waits at its body's end, 2 and 3 before the transport.
	for deadline := time.Now().Add(10 * time.Second); clk.Timers() < n-1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d timers, want %d", clk.Timers(), n-1)
		}
	}
	expect(entered, "at 0s, reached the transport", 0, 1)
	expect(sent, "at 0s, sent", 0)
	for sec := 1; sec < n; sec++ {
		clk.Advance(time.Second)
		if sec+1 < n {
			expect(entered, fmt.Sprintf("at %ds, reached the transport", sec), sec+1)
		}
		expect(sent, fmt.Sprintf("at %ds, sent", sec), sec)
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestLineAsksInOrder: the requests of one instance ask the store in the
// order they asked the throttle, however the transport orders their
// bodies' ends. Eight multipart requests (which ask at their body's end)
// join the line one after another; their bodies then end in the reverse
// order, 20 ms apart (as when the first
// holders of a burst are the last to get the CPU). With one send per
// second, the k-th request must be the one admitted at second k.
func TestLineAsksInOrder(t *testing.T) {
	t.Parallel()
	const n = 8
	start := time.Unix(1_700_000_000, 0)
	clk := outbound.NewFakeClock(start)
	st := memorystore.New(memorystore.WithClock(clk.Now))
	t.Cleanup(func() { _ = st.Close() })
	dec := decided{n: make(chan struct{}, n)}
	th, err := outbound.New(st, outbound.WithLogger(discard()), outbound.WithMargin(0), outbound.WithMaxWait(time.Hour),
		outbound.WithObserver(dec), outbound.WithLimits(outbound.Limits{Global: core.Window(1, time.Second)}))
	if err != nil {
		t.Fatal(err)
	}
	outbound.SetTurnWait(th, time.Hour) // only order, never the valve, may let a request ask
	outbound.UseClock(th, clk)
	var release, entered [n]chan struct{}
	admitted := make(chan int, n)
	errs := make(chan error, n)
	for k := range n {
		release[k], entered[k] = make(chan struct{}), make(chan struct{})
		go func() {
			// Multipart: its chat is found at the body's end, where it asks.
			body := "--b\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n" + strconv.Itoa(100+k) + "\r\n--b--\r\n"
			errs <- th.Do(context.Background(), outbound.Call{URL: "https://api.telegram.org/bot" + token + "/sendDocument",
				ContentType: "multipart/form-data; boundary=b", Body: []byte(body)},
				func(_ context.Context, body io.Reader) (outbound.Reply, error) {
					close(entered[k]) // Do calls send once the request is in line
					<-release[k]
					if _, err := io.ReadAll(body); err != nil { // the gate admits at the body's end
						return outbound.Reply{}, err
					}
					admitted <- k
					return outbound.Reply{}, nil
				})
		}()
		select {
		case <-entered[k]:
		case <-time.After(10 * time.Second): // generous: only a broken line waits this long
			t.Fatalf("request %d never reached the transport", k)
		}
	}
	for k := n - 1; k >= 0; k-- {
		close(release[k])
		time.Sleep(20 * time.Millisecond) // the adversary's order, not a wait for a result
	}
	for i := range n {
		select {
		case <-dec.n:
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d requests asked the store", i, n)
		}
	}
	// Every slot is given: second k's belongs to the k-th request.
	for sec := range n {
		if sec > 0 {
			clk.Advance(time.Second)
		}
		select {
		case k := <-admitted:
			if k != sec {
				t.Errorf("second %d: request %d admitted, want request %d", sec, k, sec)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("second %d: nobody admitted", sec)
		}
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestLineTurnIsBounded: a request whose body never ends (a stalled dial
// or upload) holds up the request after it in its instance's line for at
// most the turn's bound, not until it ends.
func TestLineTurnIsBounded(t *testing.T) {
	t.Parallel()
	st := memorystore.New()
	t.Cleanup(func() { _ = st.Close() })
	th, err := outbound.New(st, outbound.WithLogger(discard()), outbound.WithMaxWait(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	outbound.SetTurnWait(th, 10*time.Millisecond)
	call := func(chat int) outbound.Call {
		return outbound.Call{URL: "https://api.telegram.org/bot" + token + "/sendMessage",
			ContentType: "application/x-www-form-urlencoded", Body: []byte("text=hi&chat_id=" + strconv.Itoa(chat))}
	}
	ctx, cancel := context.WithCancel(context.Background())
	stalled := make(chan error, 1)
	entered := make(chan struct{})
	go func() {
		stalled <- th.Do(ctx, call(1), func(ctx context.Context, body io.Reader) (outbound.Reply, error) {
			close(entered)
			<-ctx.Done() // never reads its body
			return outbound.Reply{}, ctx.Err()
		})
	}()
	<-entered
	done := make(chan error, 1)
	go func() {
		done <- th.Do(context.Background(), call(2), func(_ context.Context, body io.Reader) (outbound.Reply, error) {
			_, err := io.ReadAll(body)
			return outbound.Reply{}, err
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second): // generous: the bound is 10 ms
		t.Fatal("the request behind a stalled one was never sent")
	}
	cancel()
	if err := <-stalled; !errors.Is(err, context.Canceled) {
		t.Fatalf("stalled request: %v, want context.Canceled", err)
	}
}

// stallingStore answers one Reserve call late, as a process does whose
// goroutine waits behind thousands of others for the CPU after the store
// answered.
type stallingStore struct {
	core.Store
	stall    atomic.Bool // the next Reserve call answers late
	reserves atomic.Int32
}

func (s *stallingStore) Reserve(ctx context.Context, lanes []core.Lane, n int, from, within time.Duration) (core.Result, error) {
	s.reserves.Add(1)
	res, err := s.Store.Reserve(ctx, lanes, n, from, within)
	if s.stall.CompareAndSwap(true, false) {
		select { // the stall these tests are about, not a wait for a result
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done(): // a store's timeout cuts it short, as with Redis
			return core.Result{}, ctx.Err()
		}
	}
	return res, err
}

// TestLateTakesNewSlot: a request whose store answer reached it 200 ms
// late (far past the 25 ms margin) does not go on that slot, which the
// next window's sends would crowd: it asks for a new one, and says so.
func TestLateTakesNewSlot(t *testing.T) {
	t.Parallel()
	mem := memorystore.New()
	t.Cleanup(func() { _ = mem.Close() })
	st := &stallingStore{Store: mem}
	ev := newEvents()
	th, err := outbound.New(st, outbound.WithLogger(discard()), outbound.WithEvents(ev.add))
	if err != nil {
		t.Fatal(err)
	}
	send := func(chat int) error {
		return th.Do(context.Background(), outbound.Call{URL: "https://api.telegram.org/bot" + token + "/sendMessage",
			ContentType: "application/x-www-form-urlencoded", Body: []byte("text=hi&chat_id=" + strconv.Itoa(chat))},
			func(_ context.Context, body io.Reader) (outbound.Reply, error) {
				_, err := io.ReadAll(body)
				return outbound.Reply{}, err
			})
	}
	if err := send(1); err != nil { // a prompt answer: the round trip the throttle expects
		t.Fatal(err)
	}
	before := st.reserves.Load()
	st.stall.Store(true)
	if err := send(2); err != nil {
		t.Fatal(err)
	}
	if n := st.reserves.Load() - before; n < 2 {
		t.Errorf("the late request asked the store %d times, want a new slot after the late one", n)
	}
	var late []outbound.Event
	ev.mu.Lock()
	for _, e := range ev.all {
		if e.Kind == outbound.Late {
			late = append(late, e)
		}
	}
	ev.mu.Unlock()
	if !slices.ContainsFunc(late, func(e outbound.Event) bool { return e.Chat == "2" && e.Wait >= 100*time.Millisecond }) {
		t.Errorf("Late events %+v, want one for chat 2, at least 100 ms late", late)
	}
}

// TestLateRuleSparesTheFallback: a decision the fallback made after the
// store's timeout is not "late" for having waited for that timeout: the
// request does not ask again (during an outage that would triple every
// send's wait).
func TestLateRuleSparesTheFallback(t *testing.T) {
	t.Parallel()
	mem, fb := memorystore.New(), memorystore.New()
	t.Cleanup(func() { _ = mem.Close(); _ = fb.Close() })
	slow := &stallingStore{Store: mem}
	st, err := core.Resilient(slow, core.Resilience{Fallback: fb, Timeout: 50 * time.Millisecond, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	ev := newEvents()
	th, err := outbound.New(st, outbound.WithLogger(discard()), outbound.WithEvents(ev.add))
	if err != nil {
		t.Fatal(err)
	}
	slow.stall.Store(true) // the store answers after the 50 ms timeout
	err = th.Do(context.Background(), outbound.Call{URL: "https://api.telegram.org/bot" + token + "/sendMessage",
		ContentType: "application/x-www-form-urlencoded", Body: []byte("text=hi&chat_id=7")},
		func(_ context.Context, body io.Reader) (outbound.Reply, error) {
			_, err := io.ReadAll(body)
			return outbound.Reply{}, err
		})
	if err != nil {
		t.Fatal(err)
	}
	if n := slow.reserves.Load(); n != 1 || ev.count(outbound.Late) != 0 {
		t.Errorf("%d calls to the store, %d Late events; want 1 and 0", n, ev.count(outbound.Late))
	}
}

// slowStore answers every Reserve 100 ms late: a far or failing store.
type slowStore struct{ core.Store }

func (s slowStore) Reserve(ctx context.Context, lanes []core.Lane, n int, from, within time.Duration) (core.Result, error) {
	time.Sleep(100 * time.Millisecond) // the store's latency, not a wait for a result
	return s.Store.Reserve(ctx, lanes, n, from, within)
}

// TestLineKeepsTheBudget: an instance's line moves one store round trip
// per request, so with a slow store 40 requests would take 4 s to all
// ask; none may spend much more than its maximum wait (300 ms) in the
// throttle: those still in line then fail with ErrWaitTooLong.
func TestLineKeepsTheBudget(t *testing.T) {
	t.Parallel()
	st := memorystore.New()
	t.Cleanup(func() { _ = st.Close() })
	th, err := outbound.New(slowStore{st}, outbound.WithLogger(discard()), outbound.WithMaxWait(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	var worst time.Duration
	refused := 0
	for i := range n {
		wg.Go(func() {
			start := time.Now()
			err := th.Do(context.Background(), outbound.Call{URL: "https://api.telegram.org/bot" + token + "/sendMessage",
				ContentType: "application/x-www-form-urlencoded", Body: []byte("text=hi&chat_id=" + strconv.Itoa(100+i))},
				func(_ context.Context, body io.Reader) (outbound.Reply, error) {
					_, err := io.ReadAll(body)
					return outbound.Reply{}, err
				})
			mu.Lock()
			defer mu.Unlock()
			worst = max(worst, time.Since(start))
			switch {
			case errors.Is(err, outbound.ErrWaitTooLong):
				refused++
			case err != nil:
				t.Errorf("send %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if refused == 0 {
		t.Error("no request was refused: the line should not let 40 slow asks through within 300 ms")
	}
	if worst > 2*time.Second { // generous: the line alone would take 4 s
		t.Errorf("a request spent %v in the throttle with a maximum wait of 300 ms", worst)
	}
}

// TestColdDialKeepsTheLane: an idle instance's request books its slot at
// its body's end, after its connection is made, so a slow dial does not
// make it leave long after its slot, in the company of the next slot's
// send. On a lane of one per 200 ms, a request whose transport takes
// 150 ms and one that asks 20 ms later on a warm connection must reach
// the wire 200 ms apart.
func TestColdDialKeepsTheLane(t *testing.T) {
	t.Parallel()
	st := memorystore.New()
	t.Cleanup(func() { _ = st.Close() })
	th, err := outbound.New(st, outbound.WithLogger(discard()), outbound.WithMaxWait(time.Minute),
		outbound.WithLimits(outbound.Limits{Global: core.Window(1, 200*time.Millisecond)}))
	if err != nil {
		t.Fatal(err)
	}
	send := func(chat string, dial time.Duration, left *time.Time) error {
		return th.Do(context.Background(), outbound.Call{URL: "https://api.telegram.org/bot" + token + "/sendMessage",
			ContentType: "application/x-www-form-urlencoded", Body: []byte("text=hi&chat_id=" + chat)},
			func(_ context.Context, body io.Reader) (outbound.Reply, error) {
				time.Sleep(dial) // the dial: the adversary, not a wait for a result
				_, err := io.ReadAll(body)
				*left = time.Now()
				return outbound.Reply{}, err
			})
	}
	var a, b time.Time
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := send("5", 150*time.Millisecond, &a); err != nil {
			t.Error(err)
		}
	})
	time.Sleep(20 * time.Millisecond) // the second asks later: the adversary's order
	wg.Go(func() {
		if err := send("6", 0, &b); err != nil {
			t.Error(err)
		}
	})
	wg.Wait()
	if d := b.Sub(a).Abs(); d < 200*time.Millisecond {
		t.Errorf("two sends %v apart on a lane of one per 200 ms", d)
	}
}
