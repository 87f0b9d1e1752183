package guard_test

import (
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
)

// FuzzCheck feeds Check partial and odd Updates (any kind, any id zero or
// not, any command text) through a Guard with every option on, and checks
// what a Verdict promises: Check never panics, payments and bypassed ids
// pass uncounted, an unkeyed update is one the key function has no key
// for, a Result comes only from a decision, a notice only for a message in
// a chat, and Respond answers exactly the callback or inline query dropped.
func FuzzCheck(f *testing.F) {
	f.Add(uint8(guard.KindMessage), int64(42), int64(42), int64(0), "private", "/report@bot x", 3, "")
	f.Add(uint8(guard.KindChannelPost), int64(0), int64(-100777), int64(-100777), "channel", "", 2, "")
	f.Add(uint8(guard.KindCallbackQuery), int64(7), int64(0), int64(0), "", "", 4, "")
	f.Add(uint8(guard.KindInlineQuery), int64(7), int64(0), int64(0), "", "", 4, "")
	f.Add(uint8(guard.KindPoll), int64(0), int64(0), int64(0), "", "", 1, "")
	f.Add(uint8(guard.KindPreCheckoutQuery), int64(42), int64(0), int64(0), "", "", 5, "")
	f.Add(uint8(guard.KindMessage), int64(99), int64(-100), int64(0), "supergroup", "/start", 2, "")
	f.Add(uint8(guard.KindMessage), int64(5), int64(-100), int64(0), "supergroup", "", 4, "13750462389425829")
	f.Add(uint8(guard.KindChannelPost), int64(0), int64(-100), int64(-100), "channel", "", 4, "not a number")
	f.Add(uint8(255), int64(-1), int64(1<<62), int64(-1<<62), "\x00", "/\xff", 9, "")
	f.Fuzz(func(t *testing.T, kind uint8, user, chat, senderChat int64, chatType, command string, repeat int, album string) {
		clock := testutil.NewClock()
		g := testutil.NewGuard(t, newMemory(t, clock), core.PerMinute(2), nil, nil,
			guard.WithBypass(99), guard.WithCommandLimit("/report", core.Every(time.Hour)),
			guard.WithPenalty(guard.Penalty{Strikes: 1, Window: time.Minute, Blocks: []time.Duration{time.Hour}}),
			guard.WithCallbackText(text("later")), guard.WithUnkeyed(guard.Drop))
		u := guard.Update{Kind: guard.Kind(kind), UserID: user, ChatID: chat, SenderChatID: senderChat,
			ChatType: chatType, Command: command, MediaGroupID: album}
		_, keyed := guard.ByUser(u)
		var first guard.Verdict
		for i := range 1 + max(repeat, 0)%6 {
			v := g.Check(t.Context(), u)
			if i == 0 {
				first = v
			}
			switch {
			case v.AlbumItem:
				if i == 0 || u.MediaGroupID == "" || v.Pass != first.Pass || v.Notice != "" || v.Result != (core.Result{}) {
					t.Fatalf("update %d of %+v: %+v does not follow the album's first verdict %+v", i, u, v, first)
				}
			case u.Kind == guard.KindPreCheckoutQuery || u.Kind == guard.KindShippingQuery || user == 99 || senderChat == 99:
				if !v.Pass || v.Reason != guard.ReasonBypass {
					t.Fatalf("update %d of %+v: %+v, want bypassed", i, u, v)
				}
			case !keyed:
				if v.Pass || v.Reason != guard.ReasonUnkeyed {
					t.Fatalf("update %d of unkeyed %+v: %+v, want dropped as unkeyed", i, u, v)
				}
			case v.Reason == guard.ReasonAllowed:
				if !v.Pass || !v.Result.Allowed {
					t.Fatalf("update %d of %+v: %+v", i, u, v)
				}
			case v.Reason == guard.ReasonLimited || v.Reason == guard.ReasonPenalty:
				if v.Pass || v.Result.Allowed || v.Result.RetryAfter <= 0 {
					t.Fatalf("update %d of %+v: %+v", i, u, v)
				}
			default:
				t.Fatalf("update %d of %+v: unexpected %+v", i, u, v)
			}
			if v.Err != nil {
				t.Fatalf("update %d of %+v: error %v from a store that never fails", i, u, v.Err)
			}
			if v.Notice != "" && (v.Pass || u.ChatID == 0 || (u.Kind != guard.KindMessage &&
				u.Kind != guard.KindEditedMessage && u.Kind != guard.KindBusinessMessage)) {
				t.Fatalf("update %d of %+v: notice in %+v", i, u, v)
			}
			r := &responder{}
			g.Respond(t.Context(), u, v, r, "")
			if err := g.Wait(t.Context()); err != nil {
				t.Fatal(err)
			}
			answers := 0
			for _, c := range r.calls {
				if strings.HasPrefix(c, "answer") {
					answers++
				}
			}
			wantAnswers := 0
			if !v.Pass && (u.Kind == guard.KindCallbackQuery || u.Kind == guard.KindInlineQuery) {
				wantAnswers = 1
			}
			if answers != wantAnswers || len(r.calls)-answers != min(len(v.Notice), 1) {
				t.Fatalf("update %d of %+v: Respond made %q for %+v", i, u, r.calls, v)
			}
		}
	})
}
