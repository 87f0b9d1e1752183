package guard_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
)

func TestKeys(t *testing.T) {
	t.Parallel()
	const group = -100500
	anon := guard.Update{Kind: guard.KindMessage, UserID: 1087968824, ChatID: group, ChatType: "supergroup", SenderChatID: group}
	channel := guard.Update{Kind: guard.KindChannelPost, ChatID: -100777, ChatType: "channel", SenderChatID: -100777}
	inline := guard.Update{Kind: guard.KindInlineQuery, UserID: 7}
	poll := guard.Update{Kind: guard.KindPoll}
	for _, tc := range []struct {
		name string
		key  guard.KeyFunc
		u    guard.Update
		want string // scope, "" for no key
	}{
		{"user", guard.ByUser, msg(42, 42, "hi"), "u:42"},
		{"anonymous admin keyed by the group, not the shared bot account", guard.ByUser, anon, "s:-100500"},
		{"channel post keyed by the channel", guard.ByUser, channel, "s:-100777"},
		{"inline query has a user", guard.ByUser, inline, "u:7"},
		{"poll has no user", guard.ByUser, poll, ""},
		{"chat", guard.ByChat, msg(42, -100, "hi"), "c:-100"},
		{"chat: inline query has none", guard.ByChat, inline, ""},
		{"user in chat", guard.ByUserInChat, msg(42, -100, "hi"), "uc:42:-100"},
		{"user in chat without chat falls back to user", guard.ByUserInChat, inline, "u:7"},
		{"user in chat for an anonymous admin", guard.ByUserInChat, anon, "s:-100500"},
		{"user in chat: poll has neither", guard.ByUserInChat, poll, ""},
		{"global", guard.ByGlobal, poll, "g"},
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

// The key function decides whose budget an update spends: under ByChat,
// two users in one group share it.
func TestWithKey(t *testing.T) {
	t.Parallel()
	g, _ := newGuard(t, core.PerMinute(2), guard.WithKey(guard.ByChat))
	check(t, g, msg(1, -100, "a"), true, guard.ReasonAllowed, "user 1 in the group")
	check(t, g, msg(2, -100, "b"), true, guard.ReasonAllowed, "user 2 in the group")
	check(t, g, msg(3, -100, "c"), false, guard.ReasonLimited, "user 3: the group's budget is spent")
	check(t, g, msg(3, 3, "c"), true, guard.ReasonAllowed, "user 3 in private: another chat")
}

func TestLimitsAndNotifiesOnce(t *testing.T) {
	t.Parallel()
	g, clock := newGuard(t, core.PerMinute(2), guard.WithNotice(time.Minute, nil))
	ctx := t.Context()
	var passed, notices int
	for range 10 {
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
		if !v.Pass && (v.Reason != guard.ReasonLimited || v.Result.Allowed || v.Result.RetryAfter <= 0) {
			t.Errorf("denied with %+v", v)
		}
	}
	if passed != 2 || notices != 1 {
		t.Fatalf("passed %d, notices %d; want 2 and 1", passed, notices)
	}
	clock.Advance(30 * time.Second) // one more message is allowed; the notice cooldown still runs
	check(t, g, msg(1, 1, "x"), true, guard.ReasonAllowed, "after one interval")
	if v := check(t, g, msg(1, 1, "x"), false, guard.ReasonLimited, "inside the cooldown"); v.Notice != "" {
		t.Fatalf("second notice inside the cooldown: %+v", v)
	}
	clock.Advance(time.Minute)
	g.Check(ctx, msg(1, 1, "x"))
	g.Check(ctx, msg(1, 1, "x"))
	if v := check(t, g, msg(1, 1, "x"), false, guard.ReasonLimited, "after the cooldown"); v.Notice == "" {
		t.Fatalf("no notice after the cooldown: %+v", v)
	}
}

// The cooldown is shared by every Guard on the store: one notice per key,
// however many instances deny it.
func TestNoticeOncePerCooldownAcrossInstances(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	st := newMemory(t, clock)
	a := testutil.NewGuard(t, st, core.Every(time.Hour), nil, nil)
	b := testutil.NewGuard(t, st, core.Every(time.Hour), nil, nil)
	check(t, a, msg(1, 1, "x"), true, guard.ReasonAllowed, "first message")
	notices := 0
	for i := range 10 {
		g := a
		if i%2 == 1 {
			g = b
		}
		if v := g.Check(t.Context(), msg(1, 1, "x")); v.Notice != "" {
			notices++
		}
	}
	if notices != 1 {
		t.Fatalf("%d notices from two instances within one cooldown, want 1", notices)
	}
}

func TestNoticeText(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0: "in 1s.", time.Millisecond: "in 1s.", time.Second: "in 1s.", 1500 * time.Millisecond: "in 2s.", time.Hour: "in 3600s.",
	} {
		if got := guard.DefaultNoticeText(msg(1, 1, "x"), d); !strings.HasSuffix(got, want) || !strings.HasPrefix(got, "Too many requests.") {
			t.Errorf("DefaultNoticeText(%v) = %q, want it to end %q", d, got, want)
		}
	}
	g, _ := newGuard(t, core.Every(time.Hour), guard.WithNotice(time.Minute, func(_ guard.Update, d time.Duration) string {
		return "wait " + d.String()
	}))
	g.Check(t.Context(), msg(1, 1, "x"))
	if v := g.Check(t.Context(), msg(1, 1, "x")); v.Notice != "wait 1h0m0s" {
		t.Fatalf("notice %q, want the WithNotice text", v.Notice)
	}
	off, _ := newGuard(t, core.Every(time.Hour), guard.WithNotice(0, nil))
	off.Check(t.Context(), msg(1, 1, "x"))
	if v := off.Check(t.Context(), msg(1, 1, "x")); v.Pass || v.Notice != "" {
		t.Fatalf("cooldown 0: %+v, want dropped without a notice", v)
	}
}

func TestNoticeGoesWhereItCan(t *testing.T) {
	t.Parallel()
	g, _ := newGuard(t, core.Every(time.Hour), guard.WithCallbackText(text("slow")))
	ctx := t.Context()
	cb := guard.Update{Kind: guard.KindCallbackQuery, UserID: 5, ChatID: 5}
	g.Check(ctx, cb)
	v := g.Check(ctx, cb)
	if v.Pass || v.Notice != "" || !strings.HasPrefix(v.CallbackText, "Too many requests") {
		t.Fatalf("first throttled callback: %+v (want the notice as the callback answer)", v)
	}
	if v := g.Check(ctx, cb); v.CallbackText != "slow" {
		t.Fatalf("later throttled callback answered %q, want the WithCallbackText text", v.CallbackText)
	}
	ch := guard.Update{Kind: guard.KindChannelPost, ChatID: -9, SenderChatID: -9}
	g.Check(ctx, ch)
	if v := g.Check(ctx, ch); v.Pass || v.Notice != "" {
		t.Fatalf("channel post: %+v (no notice into a channel)", v)
	}
	in := guard.Update{Kind: guard.KindInlineQuery, UserID: 6}
	g.Check(ctx, in)
	if v := g.Check(ctx, in); v.Pass || v.Notice != "" {
		t.Fatalf("inline query: %+v (no chat to notify)", v)
	}
	edited := guard.Update{Kind: guard.KindEditedMessage, UserID: 8, ChatID: 8}
	g.Check(ctx, edited)
	if v := g.Check(ctx, edited); v.Pass || v.Notice == "" {
		t.Fatalf("edited message: %+v (want a notice in its chat)", v)
	}
}

func TestBypassAndUnkeyed(t *testing.T) {
	t.Parallel()
	g, _ := newGuard(t, core.Every(time.Hour), guard.WithBypass(99), guard.WithBypass(-100123),
		guard.WithBypassFunc(func(u guard.Update) bool { return u.ChatID == -555 }))
	for range 5 {
		for _, u := range []guard.Update{msg(99, 99, "admin"), {Kind: guard.KindMessage, ChatID: -100123, SenderChatID: -100123},
			msg(1, -555, "support")} {
			if v := check(t, g, u, true, guard.ReasonBypass, "bypassed"); v.Result != (core.Result{}) {
				t.Fatalf("bypassed update %+v has a Result: %+v", u, v)
			}
		}
	}
	check(t, g, msg(1, 1, "x"), true, guard.ReasonAllowed, "user 1 elsewhere: their budget was not spent by the bypass")
	check(t, g, guard.Update{Kind: guard.KindPoll}, true, guard.ReasonUnkeyed, "unkeyed update by default")
	check(t, g, guard.Update{Kind: guard.KindPoll}, true, guard.ReasonUnkeyed, "unkeyed updates are never counted")

	drop, _ := newGuard(t, core.Every(time.Hour), guard.WithUnkeyed(guard.Drop), guard.WithCallbackText(text("later")))
	check(t, drop, guard.Update{}, false, guard.ReasonUnkeyed, "unkeyed with Drop")
	// A callback on an inline message has no chat: unkeyed under ByChat, and
	// its answer still carries the callback text.
	byChat, _ := newGuard(t, core.Every(time.Hour), guard.WithKey(guard.ByChat), guard.WithUnkeyed(guard.Drop),
		guard.WithCallbackText(text("later")))
	if v := check(t, byChat, guard.Update{Kind: guard.KindCallbackQuery, UserID: 5}, false, guard.ReasonUnkeyed,
		"chatless callback under ByChat"); v.CallbackText != "later" {
		t.Fatalf("dropped unkeyed callback: CallbackText %q, want the WithCallbackText text", v.CallbackText)
	}
}

func TestCommandLimit(t *testing.T) {
	t.Parallel()
	g, _ := newGuard(t, core.PerMinute(100), guard.WithCommandLimit("/Report", core.Every(time.Hour)))
	check(t, g, msg(1, 1, "/report@MyBot spam"), true, guard.ReasonAllowed, "first /report")
	if v := check(t, g, msg(1, 1, "/REPORT again"), false, guard.ReasonLimited, "second /report"); v.Result.Limit != core.Every(time.Hour) {
		t.Fatalf("second /report: %+v, want denied by the command's limit", v)
	}
	check(t, g, msg(1, 1, "hello"), true, guard.ReasonAllowed, "plain message after /report: the general limit only")
	check(t, g, msg(1, 1, "/start"), true, guard.ReasonAllowed, "another command")
	check(t, g, msg(2, 2, "/report"), true, guard.ReasonAllowed, "another user's /report")

	// The general limit applies to commands too, and is checked first: a
	// command it denies does not spend the command's budget.
	tight, _ := newGuard(t, core.Every(time.Hour), guard.WithCommandLimit("/report", core.PerMinute(5)))
	check(t, tight, msg(1, 1, "hi"), true, guard.ReasonAllowed, "the one message of the hour")
	if v := check(t, tight, msg(1, 1, "/report"), false, guard.ReasonLimited, "/report over the general limit"); v.Result.Limit != core.Every(time.Hour) {
		t.Fatalf("/report over the general limit: %+v, want the general limit's denial", v)
	}
}

// An error the limiter returns (the caller's ctx ended) follows
// WithErrorAction; a store's outage never reaches the Guard as an error,
// because core.Resilient decides it by its policy.
func TestStoreErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		policy core.FailurePolicy
		pass   []bool
		source core.Source
	}{
		{core.FailOpen, []bool{true, true}, core.SourcePolicy},
		{core.FailClosed, []bool{false, false}, core.SourcePolicy},
		{core.FailLocal, []bool{true, false}, core.SourceFallback},
	} {
		clock := testutil.NewClock()
		st := resilient(t, testutil.FailingStore{}, clock, core.Resilience{Policy: tc.policy})
		g := testutil.NewGuard(t, st, core.PerMinute(1), nil, nil)
		for i, want := range tc.pass {
			v := g.Check(t.Context(), msg(1, 1, "x"))
			if v.Pass != want || v.Err != nil || v.Result.Source != tc.source {
				t.Errorf("%v update %d: %+v, want pass=%v decided by %v", tc.policy, i, v, want, tc.source)
			}
			if !v.Pass && v.Reason != guard.ReasonLimited {
				t.Errorf("%v update %d: reason %v, want limited", tc.policy, i, v.Reason)
			}
		}
	}
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	for _, tc := range []struct {
		action guard.Action
		pass   bool
	}{{guard.Pass, true}, {guard.Drop, false}} {
		g, _ := newGuard(t, core.PerSecond(1), guard.WithErrorAction(tc.action), guard.WithCallbackText(text("later")))
		v := g.Check(canceled, msg(1, 1, "x"))
		if v.Pass != tc.pass || v.Reason != guard.ReasonError || !errors.Is(v.Err, context.Canceled) || v.Notice != "" {
			t.Errorf("action %v: %+v", tc.action, v)
		}
		cb := g.Check(canceled, guard.Update{Kind: guard.KindCallbackQuery, UserID: 1})
		if want := map[bool]string{true: "", false: "later"}[tc.pass]; cb.CallbackText != want {
			t.Errorf("action %v: callback text %q, want %q", tc.action, cb.CallbackText, want)
		}
	}
}

// A store that never fails, at its key cap, denies a new key instead: the
// Guard drops it as limited, with no error and no penalty.
func TestFullMemoryStore(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	st := newMemory(t, clock, memorystore.WithMaxKeys(1))
	pen := guard.Penalty{Strikes: 1, Window: time.Minute, Blocks: []time.Duration{time.Hour}}
	g := testutil.NewGuard(t, st, core.PerMinute(1), nil, nil, guard.WithPenalty(pen), guard.WithNotice(0, nil))
	check(t, g, msg(1, 1, "x"), true, guard.ReasonAllowed, "the one key the store holds")
	for i := range 5 {
		v := check(t, g, msg(2, 2, "x"), false, guard.ReasonLimited, "a new user with the store full")
		if v.Err != nil || v.Result.RetryAfter > time.Minute {
			t.Fatalf("update %d of a new user with the store full: %+v; want a plain denial", i, v)
		}
	}
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	lim, err := core.New(testutil.AllowStore{}, core.PerSecond(1))
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		lim  *core.Limiter
		opts []guard.Option
		is   error
	}{
		"nil limiter":      {nil, nil, core.ErrInvalidOption},
		"nil option":       {lim, []guard.Option{nil}, core.ErrInvalidOption},
		"nil key func":     {lim, []guard.Option{guard.WithKey(nil)}, core.ErrInvalidOption},
		"command no slash": {lim, []guard.Option{guard.WithCommandLimit("report", core.PerMinute(1))}, core.ErrInvalidOption},
		"command spaces":   {lim, []guard.Option{guard.WithCommandLimit("/a b", core.PerMinute(1))}, core.ErrInvalidOption},
		"command chars":    {lim, []guard.Option{guard.WithCommandLimit("/a*b", core.PerMinute(1))}, core.ErrInvalidOption},
		"command too long": {lim, []guard.Option{guard.WithCommandLimit("/"+strings.Repeat("a", 33), core.PerMinute(1))}, core.ErrInvalidOption},
		"command limit":    {lim, []guard.Option{guard.WithCommandLimit("/report", core.Limit{})}, core.ErrInvalidLimit},
		"cooldown < 1ms":   {lim, []guard.Option{guard.WithNotice(time.Microsecond, nil)}, core.ErrInvalidLimit},
	} {
		if g, err := guard.New(tc.lim, tc.opts...); !errors.Is(err, tc.is) || g != nil {
			t.Errorf("%s: %v, %v; want no Guard and an error wrapping %v", name, g, err, tc.is)
		}
	}
	if _, err := guard.New(lim, guard.WithCommandLimit("/"+strings.Repeat("a", 32), core.PerMinute(1))); err != nil {
		t.Errorf("a 32-character command: %v", err)
	}
}

func TestCommandOf(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]string{
		"/start": "/start", "/Start@MyBot x": "/start", "/report now": "/report", "/a\nb": "/a", "/a\tb": "/a",
		"": "", "/": "", "hello /start": "", "/@bot": "", " /start": "", "/ x": "",
	} {
		if got := guard.CommandOf(text); got != want {
			t.Errorf("CommandOf(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestStrings(t *testing.T) {
	t.Parallel()
	if guard.KindCallbackQuery.String() != "callback_query" || guard.KindOther.String() != "other" || guard.Kind(200).String() != "other" {
		t.Error("Kind.String")
	}
	var names []string
	for r := guard.ReasonAllowed; r <= guard.ReasonDebounced+1; r++ {
		names = append(names, r.String())
	}
	if want := []string{"allowed", "limited", "bypass", "unkeyed", "error", "penalty", "debounced", "unknown"}; !slices.Equal(names, want) {
		t.Errorf("Reason names %q, want %q", names, want)
	}
}

func TestPaymentsAlwaysPass(t *testing.T) {
	t.Parallel()
	g, _ := newGuard(t, core.Every(time.Hour))
	check(t, g, msg(1, 1, "hi"), true, guard.ReasonAllowed, "the user's one message") // the budget is spent
	for _, k := range []guard.Kind{guard.KindPreCheckoutQuery, guard.KindShippingQuery} {
		for range 3 {
			check(t, g, guard.Update{Kind: k, UserID: 1}, true, guard.ReasonBypass, k.String())
		}
	}
	check(t, g, msg(1, 1, "hi"), false, guard.ReasonLimited, "a message after the payment")
}

// Respond makes the calls each kind of dropped update calls for, in order,
// and reports each: to the observer always, to the log (token cut out)
// when it failed.
func TestRespond(t *testing.T) {
	t.Parallel()
	const token = "123456:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	var logs strings.Builder
	obs := &actions{}
	g, _ := newGuard(t, core.Every(time.Hour), guard.WithObserver(obs),
		guard.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))), guard.WithCallbackText(text("later")))
	ctx := t.Context()
	respond := func(u guard.Update, err error) []string {
		t.Helper()
		r := &responder{err: err}
		g.Respond(ctx, u, g.Check(ctx, u), r, token)
		if err := g.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		return r.calls
	}
	notice := "Too many requests. Please try again in 3600s."
	cb := guard.Update{Kind: guard.KindCallbackQuery, UserID: 1, ChatID: 1}
	inline := guard.Update{Kind: guard.KindInlineQuery, UserID: 2}
	m := msg(3, 3, "x")
	ch := guard.Update{Kind: guard.KindChannelPost, ChatID: -9, SenderChatID: -9}
	for _, tc := range []struct {
		name string
		u    guard.Update
		want []string
	}{
		{"callback within the limit", cb, nil},
		{"throttled callback, notice due", cb, []string{"answerCallbackQuery " + notice}},
		{"throttled callback", cb, []string{"answerCallbackQuery later"}},
		{"inline query within the limit", inline, nil},
		{"throttled inline query", inline, []string{"answerInlineQuery"}},
		{"message within the limit", m, nil},
		{"throttled message, notice due", m, []string{"sendMessage 3 " + notice}},
		{"throttled message", m, nil},
		{"channel post", ch, nil},
		{"throttled channel post", ch, nil},
	} {
		if got := respond(tc.u, nil); !slices.Equal(got, tc.want) {
			t.Errorf("%s: calls %q, want %q", tc.name, got, tc.want)
		}
	}
	obs.mu.Lock()
	if len(obs.events) != 4 {
		t.Errorf("observer heard %+v, want the 4 calls", obs.events)
	}
	obs.mu.Unlock()
	if logs.Len() != 0 {
		t.Errorf("successful calls were logged:\n%s", logs.String())
	}

	failure := errors.New(`Post "https://api.telegram.org/bot` + token + `/answerCallbackQuery": dial tcp: i/o timeout`)
	respond(cb, failure)
	out := logs.String()
	if strings.Contains(out, token) || !strings.Contains(out, "botxxxxx/answerCallbackQuery") ||
		!strings.Contains(out, "action=answerCallbackQuery") || !strings.Contains(out, "kind=callback_query") ||
		!strings.Contains(out, "level=WARN") {
		t.Fatalf("log %q: want the action and kind at warn level, and the token replaced", out)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if last := obs.events[len(obs.events)-1]; last.Action != "answerCallbackQuery" || last.Kind != guard.KindCallbackQuery ||
		!errors.Is(last.Err, failure) {
		t.Errorf("observer heard %+v for the failed call", last)
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ s, secret, want string }{
		{"a/botTOKEN/b TOKEN", "TOKEN", "a/botxxxxx/b xxxxx"},
		{"nothing here", "TOKEN", "nothing here"},
		{"empty secret", "", "empty secret"},
	} {
		if got := guard.Redact(tc.s, tc.secret); got != tc.want {
			t.Errorf("Redact(%q, %q) = %q, want %q", tc.s, tc.secret, got, tc.want)
		}
	}
}

func TestLimiter(t *testing.T) {
	t.Parallel()
	lim, err := core.New(testutil.AllowStore{}, core.PerSecond(3))
	if err != nil {
		t.Fatal(err)
	}
	g, err := guard.New(lim, guard.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if g.Limiter() != lim {
		t.Fatal("Limiter() is not the limiter given to New")
	}
}

// A command addressed to another bot is not this bot's command; with the
// bot's username unknown, any "@botname" is accepted.
func TestCommandTo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ text, bot, want string }{
		{"/report", "MyBot", "/report"},
		{"/Report@mybot now", "MyBot", "/report"},
		{"/report@MyBot", "@mybot", "/report"},
		{"/report@OtherBot", "MyBot", ""},
		{"/report@OtherBot now", "MyBot", ""},
		{"/report@MyBotX", "MyBot", ""},
		{"/report@OtherBot", "", "/report"},
		{"hello", "MyBot", ""},
	} {
		if got := guard.CommandTo(tc.text, tc.bot); got != tc.want {
			t.Errorf("CommandTo(%q, %q) = %q, want %q", tc.text, tc.bot, got, tc.want)
		}
	}
	g, _ := newGuard(t, core.PerMinute(100), guard.WithCommandLimit("/report", core.Every(time.Hour)))
	other := msg(1, -5, "")
	other.Command = guard.CommandTo("/report@OtherBot", "MyBot")
	for range 3 {
		check(t, g, other, true, guard.ReasonAllowed, "/report@OtherBot: the general limit only")
	}
	mine := msg(1, -5, "")
	mine.Command = guard.CommandTo("/report@MyBot", "MyBot")
	check(t, g, mine, true, guard.ReasonAllowed, "first /report@MyBot")
	check(t, g, mine, false, guard.ReasonLimited, "second /report@MyBot: the command's limit")
}

// The notice and callback texts are built from the update: the default
// answers in the sender's language, English or Russian.
func TestLocalizedTexts(t *testing.T) {
	t.Parallel()
	for lang, want := range map[string]string{
		"": "Too many requests. Please try again in 3s.", "en": "Too many requests. Please try again in 3s.",
		"de": "Too many requests. Please try again in 3s.", "ru": "Слишком много запросов. Попробуйте снова через 3 с.",
		"RU-ru": "Слишком много запросов. Попробуйте снова через 3 с.", "rue": "Too many requests. Please try again in 3s.",
	} {
		if got := guard.DefaultNoticeText(guard.Update{LanguageCode: lang}, 2500*time.Millisecond); got != want {
			t.Errorf("language %q: %q, want %q", lang, got, want)
		}
	}
	var seen []guard.Update
	g, _ := newGuard(t, core.Every(time.Hour), guard.WithCallbackText(func(u guard.Update, d time.Duration) string {
		seen = append(seen, u)
		return guard.Language(u) + " " + d.String()
	}))
	ru := msg(1, 1, "x")
	ru.LanguageCode = "ru"
	g.Check(t.Context(), ru)
	if v := g.Check(t.Context(), ru); !strings.HasPrefix(v.Notice, "Слишком") {
		t.Fatalf("notice %q, want it in Russian", v.Notice)
	}
	cb := guard.Update{Kind: guard.KindCallbackQuery, UserID: 2, ChatID: -5, ChatType: "group", LanguageCode: "pt-BR"}
	g.Check(t.Context(), cb)
	g.Check(t.Context(), cb) // the notice
	if v := g.Check(t.Context(), cb); v.CallbackText != "pt 1h0m0s" || len(seen) != 1 || seen[0] != cb {
		t.Fatalf("callback text %q from %+v, want WithCallbackText's, built from the update", v.CallbackText, seen)
	}
}
