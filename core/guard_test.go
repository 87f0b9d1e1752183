package core_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
)

// newGuard builds a Guard over a fresh memory store on a frozen clock.
func newGuard(t *testing.T, l core.Limit, opts ...core.GuardOption) (*core.Guard, *testutil.Clock) {
	t.Helper()
	clock := testutil.NewClock()
	s := memorystore.New(memorystore.WithClock(clock.Now))
	t.Cleanup(func() { _ = s.Close() })
	lim, err := core.New(s, l)
	if err != nil {
		t.Fatal(err)
	}
	g, err := core.NewGuard(lim, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return g, clock
}

func msg(user, chat int64, text string) core.Update {
	return core.Update{Kind: core.KindMessage, UserID: user, ChatID: chat, ChatType: "private", Command: core.CommandOf(text)}
}

func TestGuardKeys(t *testing.T) {
	t.Parallel()
	const group = -100500
	anon := core.Update{Kind: core.KindMessage, UserID: 1087968824, ChatID: group, ChatType: "supergroup", SenderChatID: group}
	channel := core.Update{Kind: core.KindChannelPost, ChatID: -100777, ChatType: "channel", SenderChatID: -100777}
	inline := core.Update{Kind: core.KindInlineQuery, UserID: 7}
	poll := core.Update{Kind: core.KindPoll}
	for _, tc := range []struct {
		name string
		key  core.KeyFunc
		u    core.Update
		want string // scope, "" for no key
	}{
		{"user", core.ByUser, msg(42, 42, "hi"), "u:42"},
		{"anonymous admin keyed by the group, not the shared bot account", core.ByUser, anon, "s:-100500"},
		{"channel post keyed by the channel", core.ByUser, channel, "s:-100777"},
		{"inline query has a user", core.ByUser, inline, "u:7"},
		{"poll has no user", core.ByUser, poll, ""},
		{"chat", core.ByChat, msg(42, -100, "hi"), "c:-100"},
		{"chat: inline query has none", core.ByChat, inline, ""},
		{"user in chat", core.ByUserInChat, msg(42, -100, "hi"), "uc:42:-100"},
		{"user in chat without chat falls back to user", core.ByUserInChat, inline, "u:7"},
		{"user in chat for an anonymous admin", core.ByUserInChat, anon, "s:-100500"},
		{"global", core.ByGlobal, poll, "g"},
	} {
		s, ok := tc.key(tc.u)
		got := ""
		if ok {
			got = s.String()
		}
		if got != tc.want {
			t.Errorf("%s: scope %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestGuardLimitsAndNotifiesOnce(t *testing.T) {
	t.Parallel()
	g, clock := newGuard(t, core.PerMinute(2), core.WithNotice(time.Minute, nil))
	ctx := context.Background()
	var passed, notices int
	for i := 0; i < 10; i++ {
		v := g.Check(ctx, msg(1, 1, "spam"))
		if v.Pass {
			passed++
		}
		if v.Notice != "" {
			notices++
			if want := "Too many requests. Please try again in 30s."; v.Notice != want {
				t.Errorf("notice %q, want %q", v.Notice, want)
			}
		}
		if !v.Pass && v.Reason != core.ReasonLimited {
			t.Errorf("denied with reason %v", v.Reason)
		}
	}
	if passed != 2 || notices != 1 {
		t.Fatalf("passed %d, notices %d; want 2 and 1", passed, notices)
	}
	clock.Advance(30 * time.Second) // one more message is allowed; the notice cooldown still runs
	if v := g.Check(ctx, msg(1, 1, "x")); !v.Pass {
		t.Fatal("not allowed after the interval")
	}
	if v := g.Check(ctx, msg(1, 1, "x")); v.Pass || v.Notice != "" {
		t.Fatalf("second notice inside the cooldown: %+v", v)
	}
	clock.Advance(time.Minute)
	g.Check(ctx, msg(1, 1, "x"))
	g.Check(ctx, msg(1, 1, "x"))
	if v := g.Check(ctx, msg(1, 1, "x")); v.Pass || v.Notice == "" {
		t.Fatalf("no notice after the cooldown: %+v", v)
	}
}

func TestGuardNoticeGoesWhereItCan(t *testing.T) {
	t.Parallel()
	g, _ := newGuard(t, core.Every(time.Hour), core.WithCallbackText("slow"))
	ctx := context.Background()
	cb := core.Update{Kind: core.KindCallbackQuery, UserID: 5, ChatID: 5}
	g.Check(ctx, cb)
	v := g.Check(ctx, cb)
	if v.Pass || v.Notice != "" || !strings.HasPrefix(v.CallbackText, "Too many requests") {
		t.Fatalf("first throttled callback: %+v (want the notice as the callback answer)", v)
	}
	if v := g.Check(ctx, cb); v.CallbackText != "slow" {
		t.Fatalf("later throttled callback answered %q, want the WithCallbackText text", v.CallbackText)
	}
	ch := core.Update{Kind: core.KindChannelPost, ChatID: -9, SenderChatID: -9}
	g.Check(ctx, ch)
	if v := g.Check(ctx, ch); v.Pass || v.Notice != "" {
		t.Fatalf("channel post: %+v (no notice into a channel)", v)
	}
	in := core.Update{Kind: core.KindInlineQuery, UserID: 6}
	g.Check(ctx, in)
	if v := g.Check(ctx, in); v.Pass || v.Notice != "" {
		t.Fatalf("inline query: %+v (no chat to notify)", v)
	}
}

func TestGuardBypassAndUnkeyed(t *testing.T) {
	t.Parallel()
	g, _ := newGuard(t, core.Every(time.Hour), core.WithBypass(99, -100123),
		core.WithBypassFunc(func(u core.Update) bool { return u.ChatID == -555 }))
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		for _, u := range []core.Update{msg(99, 99, "admin"), {Kind: core.KindMessage, ChatID: -100123, SenderChatID: -100123}, msg(1, -555, "support")} {
			if v := g.Check(ctx, u); !v.Pass || v.Reason != core.ReasonBypass {
				t.Fatalf("bypassed update %+v: %+v", u, v)
			}
		}
	}
	if v := g.Check(ctx, core.Update{Kind: core.KindPoll}); !v.Pass || v.Reason != core.ReasonUnkeyed {
		t.Fatalf("unkeyed update by default: %+v, want passed", v)
	}
	drop, _ := newGuard(t, core.Every(time.Hour), core.WithUnkeyed(core.Drop))
	if v := drop.Check(ctx, core.Update{}); v.Pass || v.Reason != core.ReasonUnkeyed {
		t.Fatalf("unkeyed with Drop: %+v", v)
	}
}

func TestGuardCommandLimit(t *testing.T) {
	t.Parallel()
	g, _ := newGuard(t, core.PerMinute(100), core.WithCommandLimit("/Report", core.Every(time.Hour)))
	ctx := context.Background()
	if v := g.Check(ctx, msg(1, 1, "/report@MyBot spam")); !v.Pass {
		t.Fatalf("first /report: %+v", v)
	}
	if v := g.Check(ctx, msg(1, 1, "/REPORT again")); v.Pass || v.Result.Limit != core.Every(time.Hour) {
		t.Fatalf("second /report: %+v, want denied by the command's limit", v)
	}
	if v := g.Check(ctx, msg(1, 1, "hello")); !v.Pass {
		t.Fatalf("plain message after /report: %+v, want the general limit only", v)
	}
	if v := g.Check(ctx, msg(2, 2, "/report")); !v.Pass {
		t.Fatalf("another user's /report: %+v", v)
	}
}

type failingStore struct{}

var errDown = errors.New("store down")

func (failingStore) Take(context.Context, string, core.Limit, int) (core.Result, error) {
	return core.Result{}, errDown
}
func (failingStore) Peek(context.Context, string, core.Limit) (core.Result, error) {
	return core.Result{}, errDown
}
func (failingStore) Reset(context.Context, string) error { return errDown }

func TestGuardStoreErrors(t *testing.T) {
	t.Parallel()
	// A failing store is the limiter's business: its failure policy decides.
	for _, tc := range []struct {
		policy core.FailurePolicy
		pass   []bool
	}{{core.FailOpen, []bool{true, true}}, {core.FailClosed, []bool{false, false}}, {core.FailLocal, []bool{true, false}}} {
		lim, err := core.New(failingStore{}, core.PerMinute(1), core.WithPolicy(tc.policy), core.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		g, err := core.NewGuard(lim)
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range tc.pass {
			if v := g.Check(context.Background(), msg(1, 1, "x")); v.Pass != want || v.Err != nil {
				t.Errorf("%v update %d: %+v, want pass=%v", tc.policy, i, v, want)
			}
		}
	}
	// An error the limiter does return (the caller's context ended) follows
	// WithErrorAction.
	lim, err := core.New(failingStore{}, core.PerSecond(1))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		action core.Action
		pass   bool
	}{{core.Pass, true}, {core.Drop, false}} {
		g, err := core.NewGuard(lim, core.WithErrorAction(tc.action))
		if err != nil {
			t.Fatal(err)
		}
		v := g.Check(ctx, msg(1, 1, "x"))
		if v.Pass != tc.pass || v.Reason != core.ReasonError || !errors.Is(v.Err, context.Canceled) {
			t.Errorf("action %v: %+v", tc.action, v)
		}
	}
}

func TestNewGuardRejects(t *testing.T) {
	t.Parallel()
	lim, err := core.New(failingStore{}, core.PerSecond(1))
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		lim  *core.Limiter
		opts []core.GuardOption
		is   error
	}{
		"nil limiter":      {nil, nil, core.ErrInvalidOption},
		"nil key func":     {lim, []core.GuardOption{core.WithKey(nil)}, core.ErrInvalidOption},
		"command no slash": {lim, []core.GuardOption{core.WithCommandLimit("report", core.PerMinute(1))}, core.ErrInvalidOption},
		"command spaces":   {lim, []core.GuardOption{core.WithCommandLimit("/a b", core.PerMinute(1))}, core.ErrInvalidOption},
		"command chars":    {lim, []core.GuardOption{core.WithCommandLimit("/a*b", core.PerMinute(1))}, core.ErrInvalidOption},
		"command limit":    {lim, []core.GuardOption{core.WithCommandLimit("/report", core.Limit{})}, core.ErrInvalidLimit},
		"cooldown < 1ms":   {lim, []core.GuardOption{core.WithNotice(time.Microsecond, nil)}, core.ErrInvalidLimit},
	} {
		if _, err := core.NewGuard(tc.lim, tc.opts...); !errors.Is(err, tc.is) {
			t.Errorf("%s: err = %v, want %v", name, err, tc.is)
		}
	}
}

func TestCommandOf(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]string{
		"/start": "/start", "/Start@MyBot x": "/start", "/report now": "/report", "/a\nb": "/a",
		"": "", "/": "", "hello /start": "", "/@bot": "", " /start": "",
	} {
		if got := core.CommandOf(text); got != want {
			t.Errorf("CommandOf(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestKindString(t *testing.T) {
	t.Parallel()
	if core.KindCallbackQuery.String() != "callback_query" || core.Kind(200).String() != "other" {
		t.Fatal("Kind.String")
	}
}

func TestReportActionRedactsToken(t *testing.T) {
	t.Parallel()
	var buf strings.Builder
	const token = "123456:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	lim, err := core.New(memorystore.New(), core.PerSecond(1), core.WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
	if err != nil {
		t.Fatal(err)
	}
	g, err := core.NewGuard(lim)
	if err != nil {
		t.Fatal(err)
	}
	g.ReportAction(context.Background(), "sendMessage", msg(1, 1, "x"), token,
		errors.New(`Post "https://api.telegram.org/bot`+token+`/sendMessage": dial tcp: i/o timeout`))
	out := buf.String()
	if strings.Contains(out, token) || !strings.Contains(out, "botxxxxx/sendMessage") || !strings.Contains(out, "action=sendMessage") {
		t.Fatalf("log line %q: want the action, and the token replaced", out)
	}
	g.ReportAction(context.Background(), "sendMessage", msg(1, 1, "x"), token, nil)
	if buf.String() != out {
		t.Fatal("a nil error was logged")
	}
}

func TestGuardNeverThrottlesPayments(t *testing.T) {
	t.Parallel()
	g, _ := newGuard(t, core.Every(time.Hour))
	ctx := context.Background()
	g.Check(ctx, msg(1, 1, "hi")) // the user's budget is spent
	for _, k := range []core.Kind{core.KindPreCheckoutQuery, core.KindShippingQuery} {
		for i := 0; i < 3; i++ {
			if v := g.Check(ctx, core.Update{Kind: k, UserID: 1}); !v.Pass || v.Reason != core.ReasonBypass {
				t.Fatalf("%v %d: %+v, want passed", k, i, v)
			}
		}
	}
}

func TestPenaltyOptionsRejected(t *testing.T) {
	t.Parallel()
	lim, err := core.New(memorystore.New(), core.PerSecond(1))
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]core.Penalty{
		"no strikes":  {Window: time.Minute, Blocks: []time.Duration{time.Minute}},
		"no window":   {Strikes: 3, Blocks: []time.Duration{time.Minute}},
		"no blocks":   {Strikes: 3, Window: time.Minute},
		"tiny block":  {Strikes: 3, Window: time.Minute, Blocks: []time.Duration{time.Microsecond}},
		"tiny forget": {Strikes: 3, Window: time.Minute, Blocks: []time.Duration{time.Minute}, Forget: time.Microsecond},
	} {
		if _, err := core.NewGuard(lim, core.WithPenalty(p)); !errors.Is(err, core.ErrInvalidOption) {
			t.Errorf("%s: err = %v, want ErrInvalidOption", name, err)
		}
	}
	if _, err := core.NewGuard(lim, core.WithPenalty(core.DefaultPenalty)); err != nil {
		t.Errorf("DefaultPenalty: %v", err)
	}
}

func TestShadowGuardNeverPenalizes(t *testing.T) {
	t.Parallel()
	lim, err := core.New(memorystore.New(), core.PerMinute(1), core.WithShadow(true), core.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	g, err := core.NewGuard(lim, core.WithPenalty(core.Penalty{Strikes: 1, Window: time.Minute, Blocks: []time.Duration{time.Hour}}))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if v := g.Check(context.Background(), msg(1, 1, "x")); !v.Pass {
			t.Fatalf("update %d blocked in shadow mode: %+v", i, v)
		}
	}
}

// Guard.Reset lifts a block and the limits behind it, and the next offense
// starts again from the first block. Another instance that saw the block
// keeps it until it ends, as documented.
func TestGuardReset(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	st := memorystore.New(memorystore.WithClock(clock.Now))
	t.Cleanup(func() { _ = st.Close() })
	pen := core.Penalty{Strikes: 1, Window: time.Minute, Blocks: []time.Duration{time.Minute, 10 * time.Minute}}
	opts := []core.Option{core.WithClock(clock.Now)}
	a := testutil.NewGuard(t, st, core.PerMinute(1), nil, opts, core.WithPenalty(pen), core.WithCommandLimit("/report", core.PerHour(1)))
	b := testutil.NewGuard(t, st, core.PerMinute(1), nil, opts, core.WithPenalty(pen), core.WithCommandLimit("/report", core.PerHour(1)))
	ctx := t.Context()
	offend := func(step string) core.Verdict {
		t.Helper()
		a.Check(ctx, msg(1, 1, "/report")) // allowed, and the one /report of the hour
		a.Check(ctx, msg(1, 1, "x"))       // denied: the tolerated strike
		a.Check(ctx, msg(1, 1, "x"))       // denied: the offense
		v := a.Check(ctx, msg(1, 1, "x"))
		if v.Reason != core.ReasonPenalty {
			t.Fatalf("%s: %+v; want blocked", step, v)
		}
		return v
	}
	if v := offend("first offense"); v.Result.RetryAfter != time.Minute {
		t.Fatalf("first block: %+v", v)
	}
	if v := b.Check(ctx, msg(1, 1, "x")); v.Reason != core.ReasonPenalty {
		t.Fatalf("instance b during the block: %+v", v)
	}

	if err := a.Reset(ctx, core.User(1)); err != nil {
		t.Fatal(err)
	}
	if v := a.Check(ctx, msg(1, 1, "/report")); !v.Pass || v.Reason != core.ReasonAllowed {
		t.Fatalf("after Reset: %+v; want the limit and the command limit lifted", v)
	}
	if v := b.Check(ctx, msg(1, 1, "x")); v.Reason != core.ReasonPenalty {
		t.Fatalf("instance b after a's Reset: %+v; it keeps the block it saw until the block ends", v)
	}
	if err := a.Reset(ctx, core.User(1)); err != nil {
		t.Fatal(err)
	}
	if v := offend("offense after Reset"); v.Result.RetryAfter != time.Minute {
		t.Fatalf("offense after Reset: %+v; want the first block again, not the second", v)
	}

	// A store that fails: every key is still tried, the errors come back.
	failing := testutil.NewGuard(t, testutil.FailingStore{}, core.PerMinute(1), nil, nil, core.WithPenalty(pen))
	if err := failing.Reset(ctx, core.User(1)); !errors.Is(err, testutil.ErrStoreDown) {
		t.Fatalf("Reset over a failing store: %v", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := a.Reset(canceled, core.User(1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Reset with a canceled ctx: %v", err)
	}
}
