package adaptertest

import (
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
	"github.com/floodgate-go/floodgate/telegramtest"
)

// The adapters' shared end-to-end scenario (RunEndToEnd): its ids, the
// texts its handlers send and the notice they are told apart from.
const (
	E2ESpammer       int64 = 101
	E2ENormalA       int64 = 201
	E2ENormalB       int64 = 202
	E2EClicker       int64 = 301
	E2EInliner       int64 = 401
	E2EAnonGroup     int64 = -1001234567890
	E2EChannel       int64 = -1009876543210
	E2ENoFromChat    int64 = -555
	E2ENoticePrefix        = "Too many requests"
	E2EEchoPrefix          = "echo: "
	E2ECallbackReply       = "ok"
)

// Counter counts labelled events, safe for concurrent use.
type Counter struct {
	mu sync.Mutex
	m  map[string]int
}

// Add counts one event under label.
func (c *Counter) Add(label string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[label]++
}

// Snapshot returns a copy of the counts.
func (c *Counter) Snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.m))
	for k, v := range c.m {
		out[k] = v
	}
	return out
}

// E2ELabel is the label RunEndToEnd's handlers count a passed update
// under: "kind:who", who being the user id, "s"+the sender chat, or
// "c"+the chat when the update has no sender.
func E2ELabel(cu guard.Update) string {
	who := strconv.FormatInt(cu.UserID, 10)
	if cu.SenderChatID != 0 {
		who = "s" + strconv.FormatInt(cu.SenderChatID, 10)
	} else if cu.UserID == 0 {
		who = "c" + strconv.FormatInt(cu.ChatID, 10)
	}
	return cu.Kind.String() + ":" + who
}

// E2EBot is a bot under RunEndToEnd, on the real framework: it reads the
// fake server (long polling or webhook), puts the adapter in front of
// handlers that count each passed update in Passed under E2ELabel and
// answer as a bot would: a message is echoed with E2EEchoPrefix + its text
// (sendMessage to its chat), a callback query answered E2ECallbackReply,
// an inline query answered with one result; other kinds are only counted.
type E2EBot struct {
	// Passed counts what reached the handlers.
	Passed *Counter
	// Wait blocks until n more updates went through the whole chain
	// (adapter, its Bot API calls, the handlers).
	Wait func(t testing.TB, n int)
}

// RunEndToEnd is the end-to-end scenario of every adapter: 52 updates of
// every shape (a spammer, normal users, a clicker, an inline user, an
// anonymous admin, a channel, a message without sender, an unknown kind)
// through a Guard at 3 per minute on a memory store, then the exact
// counts: what passed, echoes, notices, callback and inline answers. start
// starts the bot on api with g in front of the handlers. It returns the
// number of updates pushed.
func RunEndToEnd(t *testing.T, api *telegramtest.Server, start func(g *guard.Guard) E2EBot) int {
	t.Helper()
	st := memorystore.New(memorystore.WithClock(testutil.NewClock().Now))
	t.Cleanup(func() { _ = st.Close() })
	g := testutil.NewGuard(t, st, core.PerMinute(3), slog.New(slog.DiscardHandler), nil)
	bot := start(g)

	n := 0
	push := func(times int, update func(i int) map[string]any) {
		for i := 0; i < times; i++ {
			api.Push(update(i))
			n++
		}
	}
	push(20, func(i int) map[string]any {
		return telegramtest.Message(E2ESpammer, E2ESpammer, "", "spam "+strconv.Itoa(i))
	})
	push(2, func(int) map[string]any { return telegramtest.Message(E2ENormalA, E2ENormalA, "", "hello") })
	push(2, func(int) map[string]any { return telegramtest.Message(E2ENormalB, E2ENormalB, "", "/start") })
	push(10, func(int) map[string]any { return telegramtest.CallbackQuery(E2EClicker, E2EClicker, "ping") })
	push(6, func(i int) map[string]any { return telegramtest.InlineQuery(E2EInliner, "q"+strconv.Itoa(i)) })
	push(5, func(int) map[string]any { return telegramtest.AnonymousAdminMessage(E2EAnonGroup, "from the admins") })
	push(5, func(int) map[string]any { return telegramtest.ChannelPost(E2EChannel, "news") })
	push(1, func(int) map[string]any { return telegramtest.MessageWithoutFrom(E2ENoFromChat, "who am I") })
	push(1, func(int) map[string]any { return telegramtest.UnknownUpdate("future_kind") })
	bot.Wait(t, n)
	testutil.Settle(t, g) // Respond answers and notifies beside the update path

	wantPassed := map[string]int{
		"message:101": 3, "message:201": 2, "message:202": 2, // spammer 3 of 20; normal users all
		"callback_query:301": 3, "inline_query:401": 3, // 3 of 10, 3 of 6
		"message:s-1001234567890":      3, // anonymous admins: keyed by the group, 3 of 5
		"channel_post:s-1009876543210": 3, // the channel, 3 of 5
		"message:c-555":                1, // no sender: unkeyed, passes (default)
		"other:c0":                     1, // unknown kind: unkeyed, passes
	}
	if got := bot.Passed.Snapshot(); !EqualCounts(got, wantPassed) {
		t.Errorf("passed to handlers = %v, want %v", got, wantPassed)
	}

	// sendMessage: one echo per passed message, one notice per throttled
	// key that has a chat to tell (spammer, anonymous group), none into the
	// channel.
	echoes, notices := map[string]int{}, map[string]int{}
	for _, c := range api.CallsTo("sendMessage") {
		switch text := c.Params["text"]; {
		case strings.HasPrefix(text, E2EEchoPrefix):
			echoes[c.Params["chat_id"]]++
		case strings.HasPrefix(text, E2ENoticePrefix):
			notices[c.Params["chat_id"]]++
		default:
			t.Errorf("unexpected sendMessage %q", text)
		}
	}
	if want := map[string]int{"101": 3, "201": 2, "202": 2, "-1001234567890": 3, "-555": 1}; !EqualCounts(echoes, want) {
		t.Errorf("echoes per chat = %v, want %v", echoes, want)
	}
	if want := map[string]int{"101": 1, "-1001234567890": 1}; !EqualCounts(notices, want) {
		t.Errorf("notices per chat = %v, want %v", notices, want)
	}

	// answerCallbackQuery: every callback answered exactly once: 3 by the
	// handler, 7 by the guard (the notice once, then "").
	cb := api.CallsTo("answerCallbackQuery")
	ids, texts := map[string]int{}, map[string]int{}
	for _, c := range cb {
		ids[c.Params["callback_query_id"]]++
		text := c.Params["text"]
		if strings.HasPrefix(text, E2ENoticePrefix) {
			text = "notice"
		}
		texts[text]++
	}
	if len(cb) != 10 || len(ids) != 10 {
		t.Errorf("answerCallbackQuery: %d calls for %d callbacks, want 10 for 10", len(cb), len(ids))
	}
	if want := map[string]int{E2ECallbackReply: 3, "notice": 1, "": 6}; !EqualCounts(texts, want) {
		t.Errorf("callback answers by text = %v, want %v", texts, want)
	}

	// answerInlineQuery: 3 by the handler (one result), 3 by the guard (no
	// results, personal, cached for at most 1 s).
	var handled, empty int
	for _, c := range api.CallsTo("answerInlineQuery") {
		if r := c.Params["results"]; r == "[]" || r == "" {
			empty++
			if c.Params["is_personal"] != "true" || (c.Params["cache_time"] != "1" && c.Params["cache_time"] != "0") {
				t.Errorf("throttled inline query answered with %v, want is_personal true, cache_time 0 or 1", c.Params)
			}
		} else {
			handled++
		}
	}
	if handled != 3 || empty != 3 {
		t.Errorf("answerInlineQuery: %d with results, %d empty, want 3 and 3", handled, empty)
	}
	t.Logf("%d updates; passed %v; echoes %v; notices %v; callback answers %v; inline answers: %d with results, %d empty",
		n, bot.Passed.Snapshot(), echoes, notices, texts, handled, empty)
	return n
}

// EqualCounts reports whether two count maps hold the same counts.
func EqualCounts(got, want map[string]int) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// EveryKindWant is what an adapter's UpdateOf must make of each update of
// telegramtest.EveryKind(userID, chatID), chatID being a supergroup (the
// -100… form) or a basic group: the same for every framework. Kinds guard
// has no name for are KindOther with no ids. The builders' users speak
// English (language_code "en"), which the kinds that carry a sender's
// language (messages, callbacks, inline queries) report.
func EveryKindWant(userID, chatID int64) map[string]guard.Update {
	typ := "group"
	if chatID <= -1000000000000 {
		typ = "supergroup"
	}
	inChat := func(k guard.Kind) guard.Update {
		return guard.Update{Kind: k, UserID: userID, ChatID: chatID, ChatType: typ}
	}
	channel := func(k guard.Kind) guard.Update {
		return guard.Update{Kind: k, ChatID: chatID, ChatType: "channel", SenderChatID: chatID}
	}
	speaking := func(u guard.Update) guard.Update { u.LanguageCode = "en"; return u }
	private := speaking(guard.Update{Kind: guard.KindBusinessMessage, UserID: userID, ChatID: userID, ChatType: "private"})
	other := guard.Update{Kind: guard.KindOther}
	return map[string]guard.Update{
		"message":                   speaking(inChat(guard.KindMessage)),
		"edited_message":            speaking(inChat(guard.KindEditedMessage)),
		"channel_post":              channel(guard.KindChannelPost),
		"edited_channel_post":       channel(guard.KindEditedChannelPost),
		"business_connection":       other,
		"business_message":          private,
		"edited_business_message":   private,
		"deleted_business_messages": other,
		"message_reaction":          inChat(guard.KindMessageReaction),
		"message_reaction_count":    other,
		"inline_query":              {Kind: guard.KindInlineQuery, UserID: userID, LanguageCode: "en"},
		"chosen_inline_result":      {Kind: guard.KindChosenInlineResult, UserID: userID},
		"callback_query":            speaking(inChat(guard.KindCallbackQuery)),
		"shipping_query":            {Kind: guard.KindShippingQuery, UserID: userID},
		"pre_checkout_query":        {Kind: guard.KindPreCheckoutQuery, UserID: userID},
		"purchased_paid_media":      other,
		"poll":                      {Kind: guard.KindPoll},
		"poll_answer":               {Kind: guard.KindPollAnswer, UserID: userID},
		"my_chat_member":            inChat(guard.KindMyChatMember),
		"chat_member":               inChat(guard.KindChatMember),
		"chat_join_request":         inChat(guard.KindChatJoinRequest),
		"chat_boost":                other,
		"removed_chat_boost":        other,
	}
}
