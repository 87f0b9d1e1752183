package guard_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
)

// keyStore is a store that records the key of every Take.
type keyStore struct {
	core.Store
	mu   sync.Mutex
	keys []string
}

func (s *keyStore) Take(ctx context.Context, key string, l core.Limit, n int) (core.Result, error) {
	s.mu.Lock()
	s.keys = append(s.keys, key)
	s.mu.Unlock()
	return s.Store.Take(ctx, key, l, n)
}

func (s *keyStore) taken() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.keys)
	s.keys = s.keys[:0]
	return out
}

func callback(user, chat int64, data string) guard.Update {
	return guard.Update{Kind: guard.KindCallbackQuery, UserID: user, ChatID: chat, ChatType: "private", Payload: data}
}

func mustLimit(t testing.TB, s string) core.Limit {
	t.Helper()
	l, err := core.ParseLimit(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Each kind with a limit of its own counts under its own rule, in its own
// key; the others share the Guard's limit; commands fall back to the
// message budget.
func TestKindLimitsKeys(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	st := &keyStore{Store: newMemory(t, clock)}
	g := testutil.NewGuard(t, st, core.PerMinute(1), nil, nil, guard.WithNotice(0, nil),
		guard.WithKindLimits(guard.KindLimits{Message: core.PerMinute(3), Callback: mustLimit(t, "20/10s"), Inline: core.PerMinute(2)}))
	for _, tc := range []struct {
		u    guard.Update
		want string
	}{
		{msg(42, 42, "hi"), "floodgate:{u:42}:message"},
		{msg(42, 42, "/start"), "floodgate:{u:42}:message"}, // no Command limit: a command is a message
		{callback(42, 42, "page:2"), "floodgate:{u:42}:callback"},
		{guard.Update{Kind: guard.KindInlineQuery, UserID: 42}, "floodgate:{u:42}:inline"},
		{guard.Update{Kind: guard.KindEditedMessage, UserID: 42, ChatID: 42}, "floodgate:{u:42}:message"},
		{guard.Update{Kind: guard.KindChannelPost, ChatID: -100, SenderChatID: -100}, "floodgate:{s:-100}:msg"},
		{guard.Update{Kind: guard.KindChosenInlineResult, UserID: 42}, "floodgate:{u:42}:msg"},
	} {
		g.Check(t.Context(), tc.u)
		if got := st.taken(); !slices.Equal(got, []string{tc.want}) {
			t.Errorf("%v %q: keys %q, want %q", tc.u.Kind, tc.u.Command, got, tc.want)
		}
	}
}

// Paging through a list with buttons spends the callback budget only:
// 20 presses in 5 s all pass under 20/10s, while 10 messages in the same
// 5 s are cut to the message budget (5/10s: a burst of 5, then one every
// 2 s), and the shared 1/m is left for the other kinds.
func TestKindLimitsBudgets(t *testing.T) {
	t.Parallel()
	g, clock := newGuard(t, core.PerMinute(1), guard.WithNotice(0, nil),
		guard.WithKindLimits(guard.KindLimits{Message: mustLimit(t, "5/10s"), Callback: mustLimit(t, "20/10s")}))
	passed := map[string]int{}
	// Every 160 ms: two presses, then a message; 30 updates in 4.8 s.
	for i := range 30 {
		u := callback(42, 42, "page")
		if i%3 == 2 {
			u = msg(42, 42, "text")
		}
		if g.Check(t.Context(), u).Pass {
			passed[u.Kind.String()]++
		}
		clock.Advance(160 * time.Millisecond)
	}
	// Messages at 0.32 s + k·0.48 s: 0.32 … 2.24 s are the burst of 5,
	// 2.72 s has refilled one more, 3.20 … 4.16 s are denied, and 4.64 s
	// passes again: 7 in all.
	if want := map[string]int{"callback_query": 20, "message": 7}; !maps.Equal(passed, want) {
		t.Errorf("passed per kind %v, want %v", passed, want)
	}
	// The shared budget is untouched.
	check(t, g, guard.Update{Kind: guard.KindInlineQuery, UserID: 42}, true, guard.ReasonAllowed, "inline on the shared budget")
	check(t, g, guard.Update{Kind: guard.KindInlineQuery, UserID: 42}, false, guard.ReasonLimited, "inline over the shared 1/m")
	t.Logf("in 5 s: %d of 20 callback queries passed (callback 20/10s), %d of 10 messages (message 5/10s)",
		passed["callback_query"], passed["message"])
}

// A Command limit separates commands from messages; WithCommandLimit still
// applies on top of it.
func TestKindLimitsCommands(t *testing.T) {
	t.Parallel()
	g, _ := newGuard(t, core.PerMinute(1), guard.WithNotice(0, nil),
		guard.WithKindLimits(guard.KindLimits{Message: core.PerMinute(5), Command: core.PerMinute(2)}),
		guard.WithCommandLimit("/report", core.PerMinute(1)))
	check(t, g, msg(7, 7, "/report spam"), true, guard.ReasonAllowed, "first /report")
	v := check(t, g, msg(7, 7, "/report again"), false, guard.ReasonLimited, "second /report: over its own 1/m")
	if v.Result.Limit != core.PerMinute(1) {
		t.Errorf("second /report denied by %v, want /report's 1/m", v.Result.Limit)
	}
	v = check(t, g, msg(7, 7, "/help"), false, guard.ReasonLimited, "third command: over the command budget of 2")
	if v.Result.Limit != core.PerMinute(2) {
		t.Errorf("/help denied by %v, want the command budget 2/m", v.Result.Limit)
	}
	for i := range 5 {
		check(t, g, msg(7, 7, "hello"), true, guard.ReasonAllowed, "messages have their own 5/m: "+string(rune('1'+i)))
	}
	check(t, g, msg(7, 7, "hello"), false, guard.ReasonLimited, "sixth message")
}

// A penalty blocks the sender on every budget: flooding text also stops
// their buttons. Reset lifts every budget.
func TestKindLimitsPenaltyAndReset(t *testing.T) {
	t.Parallel()
	pen := guard.Penalty{Strikes: 1, Window: time.Minute, Blocks: []time.Duration{time.Hour}}
	g, _ := newGuard(t, core.PerMinute(1), guard.WithNotice(0, nil), guard.WithPenalty(pen),
		guard.WithKindLimits(guard.KindLimits{Message: core.PerMinute(1), Callback: core.PerMinute(20)}))
	check(t, g, msg(9, 9, "a"), true, guard.ReasonAllowed, "first message")
	check(t, g, msg(9, 9, "b"), false, guard.ReasonLimited, "strike 1")
	v := check(t, g, msg(9, 9, "c"), false, guard.ReasonPenalty, "strike 2: an offense")
	if v.Result.RetryAfter < 59*time.Minute {
		t.Fatalf("penalty of %v, want an hour", v.Result.RetryAfter)
	}
	check(t, g, callback(9, 9, "page"), false, guard.ReasonPenalty, "a button press while blocked")
	check(t, g, guard.Update{Kind: guard.KindPollAnswer, UserID: 9}, false, guard.ReasonPenalty, "the shared budget while blocked")
	if err := g.Reset(t.Context(), core.User(9)); err != nil {
		t.Fatal(err)
	}
	check(t, g, callback(9, 9, "page"), true, guard.ReasonAllowed, "a button press after Reset")
	check(t, g, msg(9, 9, "d"), true, guard.ReasonAllowed, "a message after Reset")
}

func TestKindLimitsRejected(t *testing.T) {
	t.Parallel()
	lim, err := core.New(testutil.AllowStore{}, core.PerSecond(1))
	if err != nil {
		t.Fatal(err)
	}
	_, err = guard.New(lim, guard.WithKindLimits(guard.KindLimits{Callback: core.Limit{Rate: 1, Period: time.Second}}))
	if !errors.Is(err, core.ErrInvalidLimit) || !strings.Contains(err.Error(), "callback limit") {
		t.Errorf("burst 0: %v, want an error naming the callback limit", err)
	}
}

// A later WithKindLimits replaces the fields it sets and keeps the others.
func TestKindLimitsMerge(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	st := &keyStore{Store: newMemory(t, clock)}
	g := testutil.NewGuard(t, st, core.PerMinute(1), nil, nil, guard.WithNotice(0, nil),
		guard.WithKindLimits(guard.KindLimits{Message: core.PerMinute(1), Callback: core.PerMinute(1)}),
		guard.WithKindLimits(guard.KindLimits{Callback: core.PerMinute(3)}))
	for i := range 3 {
		check(t, g, callback(5, 5, "x"), true, guard.ReasonAllowed, "press "+string(rune('1'+i))+" under the later 3/m")
	}
	check(t, g, callback(5, 5, "x"), false, guard.ReasonLimited, "fourth press")
	st.taken()
	check(t, g, msg(5, 5, "m"), true, guard.ReasonAllowed, "message")
	if got := st.taken(); !slices.Equal(got, []string{"floodgate:{u:5}:message"}) {
		t.Errorf("message keys %q: the earlier Message limit was lost", got)
	}
}
