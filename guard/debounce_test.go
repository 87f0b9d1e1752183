package guard_test

import (
	"errors"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
)

// textMsg is a message from user in chat whose Payload is its text.
func textMsg(user, chat int64, s string) guard.Update {
	u := msg(user, chat, s)
	u.Payload = s
	return u
}

// A double tap reaches the handler once; the duplicate is answered with no
// text. A different payload, another chat or another sender is no
// duplicate; the window runs from the first tap, and the same tap after it
// passes again.
func TestDebounceCallback(t *testing.T) {
	t.Parallel()
	g, clock := newGuard(t, core.PerMinute(100), guard.WithDebounce(2*time.Second), guard.WithCallbackText(text("slow down")))
	check(t, g, callback(1, 1, "buy:42"), true, guard.ReasonAllowed, "first tap")
	clock.Advance(100 * time.Millisecond)
	v := check(t, g, callback(1, 1, "buy:42"), false, guard.ReasonDebounced, "second tap 100 ms later")
	if v.CallbackText != "" || v.Notice != "" {
		t.Errorf("debounced tap: callback text %q, notice %q; want neither", v.CallbackText, v.Notice)
	}
	if v.Result.RetryAfter != 1900*time.Millisecond {
		t.Errorf("debounced tap: RetryAfter %v, want the 1.9 s left of the window", v.Result.RetryAfter)
	}
	var r responder
	g.Respond(t.Context(), callback(1, 1, "buy:42"), v, &r, "")
	if err := g.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(r.calls) != 1 || r.calls[0] != "answerCallbackQuery " {
		t.Errorf("Respond on a debounced tap made %q, want one answer with no text", r.calls)
	}
	check(t, g, callback(1, 1, "buy:43"), true, guard.ReasonAllowed, "another button")
	check(t, g, callback(1, -100, "buy:42"), true, guard.ReasonAllowed, "the same data in another chat")
	check(t, g, callback(2, 1, "buy:42"), true, guard.ReasonAllowed, "another sender")
	clock.Advance(time.Second)
	check(t, g, callback(1, 1, "buy:42"), false, guard.ReasonDebounced, "1.1 s after the first: a duplicate does not extend the window")
	clock.Advance(900 * time.Millisecond)
	check(t, g, callback(1, 1, "buy:42"), true, guard.ReasonAllowed, "2 s after the first")
}

// Any repeat within the window is a duplicate, not only of the last
// update: A, B, A drops the second A (see WithDebounce).
func TestDebounceAnyRepeatInWindow(t *testing.T) {
	t.Parallel()
	g, _ := newGuard(t, core.PerMinute(100), guard.WithDebounce(time.Second))
	check(t, g, callback(1, 1, "page:2"), true, guard.ReasonAllowed, "A")
	check(t, g, callback(1, 1, "page:1"), true, guard.ReasonAllowed, "B")
	check(t, g, callback(1, 1, "page:2"), false, guard.ReasonDebounced, "A again")
}

// Which messages are compared, and which never are.
func TestDebounceMessages(t *testing.T) {
	t.Parallel()
	g, _ := newGuard(t, core.PerMinute(100), guard.WithDebounce(2*time.Second))
	check(t, g, textMsg(1, 1, "hello"), true, guard.ReasonAllowed, "message")
	v := check(t, g, textMsg(1, 1, "hello"), false, guard.ReasonDebounced, "the same message resent")
	if v.Notice != "" {
		t.Errorf("debounced message carries notice %q", v.Notice)
	}
	check(t, g, textMsg(1, 1, "/start"), true, guard.ReasonAllowed, "command")
	check(t, g, textMsg(1, 1, "/start"), false, guard.ReasonDebounced, "the same command resent")
	biz := guard.Update{Kind: guard.KindBusinessMessage, UserID: 3, ChatID: 3, Payload: "hi"}
	check(t, g, biz, true, guard.ReasonAllowed, "business message")
	check(t, g, biz, false, guard.ReasonDebounced, "business message resent")
	for name, u := range map[string]guard.Update{
		"empty payload (a photo, a sticker, an album item)": msg(1, 1, ""),
		"edited message":            {Kind: guard.KindEditedMessage, UserID: 1, ChatID: 1, Payload: "hello"},
		"album item with a payload": {Kind: guard.KindMessage, UserID: 1, ChatID: 1, Payload: "holiday", MediaGroupID: "135"},
		"inline query":              {Kind: guard.KindInlineQuery, UserID: 1, Payload: "hello"},
		"channel post":              {Kind: guard.KindChannelPost, ChatID: -100, SenderChatID: -100},
		"no sender":                 {Kind: guard.KindMessage, ChatID: -100, Payload: "hello"},
	} {
		for i := range 2 {
			if v := g.Check(t.Context(), u); !v.Pass {
				t.Errorf("%s, update %d: %+v, want it passed", name, i, v)
			}
		}
	}
	// An anonymous admin is told apart by the group it posts as.
	anon := guard.Update{Kind: guard.KindMessage, UserID: 1087968824, ChatID: -5, SenderChatID: -5, Payload: "news"}
	check(t, g, anon, true, guard.ReasonAllowed, "anonymous admin")
	check(t, g, anon, false, guard.ReasonDebounced, "anonymous admin resends")
	other := anon
	other.ChatID, other.SenderChatID = -6, -6
	check(t, g, other, true, guard.ReasonAllowed, "another group's anonymous admin")
}

func TestMessagePayload(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ text, caption, album, want string }{
		{"hi", "", "", "hi"},
		{"", "a cat", "", "a cat"},
		{"", "a cat", "13579", ""},
		{"", "", "", ""},
	} {
		if got := guard.MessagePayload(tc.text, tc.caption, tc.album); got != tc.want {
			t.Errorf("MessagePayload(%q, %q, %q) = %q, want %q", tc.text, tc.caption, tc.album, got, tc.want)
		}
	}
}

// A duplicate costs no budget and earns no notice and no strike; a copy
// the limit dropped leaves no record, so the user's retry is judged by the
// limit again, not taken for a duplicate.
func TestDebounceBeforeTheLimit(t *testing.T) {
	t.Parallel()
	pen := guard.Penalty{Strikes: 1, Window: time.Minute, Blocks: []time.Duration{time.Hour}}
	g, clock := newGuard(t, core.PerMinute(1), guard.WithDebounce(2*time.Second), guard.WithPenalty(pen))
	check(t, g, textMsg(1, 1, "a"), true, guard.ReasonAllowed, "a")
	for range 5 {
		check(t, g, textMsg(1, 1, "a"), false, guard.ReasonDebounced, "a resent")
	}
	v := check(t, g, textMsg(1, 1, "b"), false, guard.ReasonLimited, "b: the first strike, so the copies earned none")
	if v.Notice == "" {
		t.Errorf("b: no notice; the copies must not have used it up")
	}
	check(t, g, textMsg(1, 1, "b"), false, guard.ReasonPenalty, "b retried: limited (a strike), not a duplicate")
	if err := g.Reset(t.Context(), core.User(1)); err != nil {
		t.Fatal(err)
	}
	clock.Advance(100 * time.Millisecond)
	check(t, g, textMsg(1, 1, "b"), true, guard.ReasonAllowed, "b after Reset")
}

// Two taps racing on several Guards over one store: exactly one passes.
func TestDebounceRace(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	st := newMemory(t, clock)
	var guards []*guard.Guard
	for range 3 {
		guards = append(guards, testutil.NewGuard(t, st, core.PerMinute(100), nil, nil, guard.WithDebounce(time.Second)))
	}
	var passed, debounced atomic.Int64
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			switch v := guards[i%3].Check(t.Context(), callback(1, 1, "tap")); {
			case v.Pass:
				passed.Add(1)
			case v.Reason == guard.ReasonDebounced:
				debounced.Add(1)
			}
		})
	}
	wg.Wait()
	if passed.Load() != 1 || debounced.Load() != 63 {
		t.Errorf("64 racing taps: %d passed, %d debounced; want 1 and 63", passed.Load(), debounced.Load())
	}
}

// The record's key holds the sender and a hash, never the text, under a
// fixed rule name per kind.
func TestDebounceKey(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	st := &keyStore{Store: newMemory(t, clock)}
	g := testutil.NewGuard(t, st, core.PerMinute(5), nil, nil, guard.WithDebounce(time.Second))
	g.Check(t.Context(), callback(42, 42, "secret words"))
	g.Check(t.Context(), textMsg(42, 42, "secret words"))
	keys := st.taken()
	re := regexp.MustCompile(`^floodgate:\{uc:42:\d+\}:debounce\.(callback|message)$`)
	if len(keys) != 4 || !re.MatchString(keys[0]) || !re.MatchString(keys[2]) ||
		keys[1] != "floodgate:{u:42}:msg" || keys[3] != "floodgate:{u:42}:msg" {
		t.Fatalf("keys %q, want a debounce record then the limit, twice", keys)
	}
	if keys[0][:len(keys[0])-len("callback")] != keys[2][:len(keys[2])-len("message")] {
		t.Errorf("the same payload in the same chat hashed differently: %q, %q", keys[0], keys[2])
	}
	for _, name := range []string{"debounce.callback", "debounce.message"} {
		if !guard.IsDebounceRule(name) {
			t.Errorf("IsDebounceRule(%q) = false", name)
		}
	}
	for _, name := range []string{"msg", "callback", "cmd.debounce"} {
		if guard.IsDebounceRule(name) {
			t.Errorf("IsDebounceRule(%q) = true", name)
		}
	}
}

// During an outage a duplicate cannot be recognized: the failure policy's
// denials are no duplicates, and the limit's own decision (by the policy)
// follows. FailLocal debounces on the instance.
func TestDebounceStoreErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		policy core.FailurePolicy
		reason []guard.Reason
	}{
		{core.FailOpen, []guard.Reason{guard.ReasonAllowed, guard.ReasonAllowed}},
		{core.FailClosed, []guard.Reason{guard.ReasonLimited, guard.ReasonLimited}},
		{core.FailLocal, []guard.Reason{guard.ReasonAllowed, guard.ReasonDebounced}},
	} {
		clock := testutil.NewClock()
		st := resilient(t, testutil.FailingStore{}, clock, core.Resilience{Policy: tc.policy})
		g := testutil.NewGuard(t, st, core.PerMinute(5), nil, nil, guard.WithDebounce(time.Second))
		for i, want := range tc.reason {
			if v := g.Check(t.Context(), callback(1, 1, "tap")); v.Reason != want {
				t.Errorf("%v tap %d: %+v, want %v", tc.policy, i, v, want)
			}
		}
	}
	// No failure policy: the limit's error follows WithErrorAction.
	g := testutil.NewGuard(t, testutil.FailingStore{}, core.PerMinute(5), nil, nil, guard.WithDebounce(time.Second))
	for i := range 2 {
		if v := g.Check(t.Context(), callback(1, 1, "tap")); !v.Pass || v.Reason != guard.ReasonError {
			t.Errorf("failing store, tap %d: %+v, want passed with ReasonError", i, v)
		}
	}
}

// A full memory store refuses a new record with a denial that looks like
// a duplicate in the same microsecond; it must not drop every new message.
func TestDebounceFullStore(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	st := newMemory(t, clock, memorystore.WithMaxKeys(2))
	g := testutil.NewGuard(t, st, core.PerMinute(5), nil, nil, guard.WithDebounce(time.Second), guard.WithNotice(0, nil))
	check(t, g, textMsg(1, 1, "a"), true, guard.ReasonAllowed, "a: a record and the limit's key fill the store")
	check(t, g, textMsg(1, 1, "a"), false, guard.ReasonDebounced, "a again, the same instant: a duplicate")
	check(t, g, textMsg(1, 1, "b"), true, guard.ReasonAllowed, "b: no room for its record, yet no duplicate")
}

// A shadowed limiter lets duplicates through, as it lets everything.
func TestDebounceShadow(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	g := testutil.NewGuard(t, newMemory(t, clock), core.PerMinute(5), nil, []core.Option{core.WithShadow(true)},
		guard.WithDebounce(time.Second))
	check(t, g, callback(1, 1, "tap"), true, guard.ReasonAllowed, "tap")
	check(t, g, callback(1, 1, "tap"), true, guard.ReasonAllowed, "tap again, shadowed")
}

// Bypassed senders and payments are never debounced.
func TestDebounceBypass(t *testing.T) {
	t.Parallel()
	g, _ := newGuard(t, core.PerMinute(5), guard.WithDebounce(time.Second), guard.WithBypass(1))
	for range 2 {
		check(t, g, callback(1, 1, "tap"), true, guard.ReasonBypass, "an admin's tap")
	}
}

func TestDebounceWindowRejected(t *testing.T) {
	t.Parallel()
	lim, err := core.New(testutil.AllowStore{}, core.PerSecond(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []time.Duration{guard.MaxDebounce + time.Millisecond, 1500 * time.Nanosecond} {
		if _, err := guard.New(lim, guard.WithDebounce(w)); !errors.Is(err, core.ErrInvalidOption) && !errors.Is(err, core.ErrInvalidLimit) {
			t.Errorf("window %v: %v, want an error", w, err)
		}
	}
	for _, w := range []time.Duration{0, -time.Second, guard.MaxDebounce, time.Millisecond} {
		if _, err := guard.New(lim, guard.WithDebounce(w)); err != nil {
			t.Errorf("window %v: %v", w, err)
		}
	}
}

// A debounced Check costs one store call; a passing one two.
func TestDebounceStoreCalls(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	st := &flakyStore{Store: newMemory(t, clock)}
	g := testutil.NewGuard(t, st, core.PerMinute(5), nil, nil, guard.WithDebounce(time.Second))
	clock.Advance(time.Millisecond)
	g.Check(t.Context(), callback(1, 1, "tap"))
	if n := st.calls.Swap(0); n != 2 {
		t.Errorf("passing tap: %d store calls, want 2", n)
	}
	clock.Advance(time.Millisecond)
	g.Check(t.Context(), callback(1, 1, "tap"))
	if n := st.calls.Swap(0); n != 1 {
		t.Errorf("debounced tap: %d store calls, want 1", n)
	}
}
