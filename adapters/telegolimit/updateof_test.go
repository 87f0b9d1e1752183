package telegolimit_test

import (
	"encoding/json"
	"testing"

	"github.com/floodgate-go/floodgate/adapters/telegolimit"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/mymmrac/telego"
)

// decode turns a builder's update (or JSON text) into telego's Update, as
// telego decodes getUpdates results and webhook bodies.
func decode(t testing.TB, update any) telego.Update {
	t.Helper()
	raw, ok := update.(string)
	if !ok {
		b, err := json.Marshal(update)
		if err != nil {
			t.Fatal(err)
		}
		raw = string(b)
	}
	var u telego.Update
	if err := json.Unmarshal([]byte(raw), &u); err != nil {
		t.Fatalf("unmarshal %s: %v", raw, err)
	}
	return u
}

func TestUpdateOf(t *testing.T) {
	t.Parallel()
	const user, group = int64(42), int64(-1001234567890)
	for _, tc := range []struct {
		name   string
		update any
		want   guard.Update
	}{
		{"private message", testutil.Message(user, user, "", "hello"),
			guard.Update{Kind: guard.KindMessage, UserID: user, ChatID: user, ChatType: "private", LanguageCode: "en"}},
		{"command in a group", testutil.Message(user, group, "", "/Report@floodgate_test_bot now"),
			guard.Update{Kind: guard.KindMessage, UserID: user, ChatID: group, ChatType: "supergroup", Command: "/report", LanguageCode: "en"}},
		{"anonymous admin", testutil.AnonymousAdminMessage(group, "hi"),
			guard.Update{Kind: guard.KindMessage, UserID: testutil.GroupAnonymousBotID, ChatID: group,
				ChatType: "supergroup", SenderChatID: group}},
		{"channel post", testutil.ChannelPost(group, "news"),
			guard.Update{Kind: guard.KindChannelPost, ChatID: group, ChatType: "channel", SenderChatID: group}},
		{"message without from", testutil.MessageWithoutFrom(-5, "x"),
			guard.Update{Kind: guard.KindMessage, ChatID: -5, ChatType: "group"}},
		{"callback", testutil.CallbackQuery(user, group, "ping"),
			guard.Update{Kind: guard.KindCallbackQuery, UserID: user, ChatID: group, ChatType: "supergroup", LanguageCode: "en"}},
		{"callback on an inline message",
			`{"update_id":1,"callback_query":{"id":"7","from":{"id":42,"is_bot":false,"first_name":"A"},"inline_message_id":"AAA","chat_instance":"1","data":"x"}}`,
			guard.Update{Kind: guard.KindCallbackQuery, UserID: user}},
		{"callback on an inaccessible message",
			`{"update_id":1,"callback_query":{"id":"7","from":{"id":42,"is_bot":false,"first_name":"A"},"message":{"chat":{"id":-5,"type":"group"},"message_id":3,"date":0},"chat_instance":"1"}}`,
			guard.Update{Kind: guard.KindCallbackQuery, UserID: user, ChatID: -5, ChatType: "group"}},
		{"callback with a null message",
			`{"update_id":1,"callback_query":{"id":"7","from":{"id":42},"message":null,"chat_instance":"1"}}`,
			guard.Update{Kind: guard.KindCallbackQuery, UserID: user}},
		{"inline query", testutil.InlineQuery(user, "q"), guard.Update{Kind: guard.KindInlineQuery, UserID: user, LanguageCode: "en"}},
		{"edited message",
			`{"update_id":1,"edited_message":{"message_id":1,"date":1,"edit_date":2,"chat":{"id":42,"type":"private"},"from":{"id":42},"text":"/start"}}`,
			guard.Update{Kind: guard.KindEditedMessage, UserID: user, ChatID: user, ChatType: "private", Command: "/start"}},
		{"business message",
			`{"update_id":1,"business_message":{"message_id":1,"date":1,"business_connection_id":"bc","chat":{"id":42,"type":"private"},"from":{"id":42},"text":"hi"}}`,
			guard.Update{Kind: guard.KindBusinessMessage, UserID: user, ChatID: user, ChatType: "private"}},
		{"poll", `{"update_id":1,"poll":{"id":"p","question":"?","options":[],"total_voter_count":0}}`,
			guard.Update{Kind: guard.KindPoll}},
		{"poll answer", `{"update_id":1,"poll_answer":{"poll_id":"p","user":{"id":42},"option_ids":[0]}}`,
			guard.Update{Kind: guard.KindPollAnswer, UserID: user}},
		{"anonymous poll answer", `{"update_id":1,"poll_answer":{"poll_id":"p","voter_chat":{"id":-5,"type":"group"},"option_ids":[0]}}`,
			guard.Update{Kind: guard.KindPollAnswer, SenderChatID: -5}},
		{"chat member",
			`{"update_id":1,"chat_member":{"chat":{"id":-5,"type":"group"},"from":{"id":42},"date":1,"old_chat_member":{"status":"left","user":{"id":9}},"new_chat_member":{"status":"member","user":{"id":9}}}}`,
			guard.Update{Kind: guard.KindChatMember, UserID: user, ChatID: -5, ChatType: "group"}},
		{"join request", `{"update_id":1,"chat_join_request":{"chat":{"id":-5,"type":"group"},"from":{"id":42},"user_chat_id":42,"date":1}}`,
			guard.Update{Kind: guard.KindChatJoinRequest, UserID: user, ChatID: -5, ChatType: "group"}},
		{"reaction", `{"update_id":1,"message_reaction":{"chat":{"id":-5,"type":"group"},"message_id":1,"user":{"id":42},"date":1,"old_reaction":[],"new_reaction":[]}}`,
			guard.Update{Kind: guard.KindMessageReaction, UserID: user, ChatID: -5, ChatType: "group"}},
		{"pre-checkout", `{"update_id":1,"pre_checkout_query":{"id":"q","from":{"id":42},"currency":"XTR","total_amount":1,"invoice_payload":"p"}}`,
			guard.Update{Kind: guard.KindPreCheckoutQuery, UserID: user}},
		{"paid media purchase (no core kind, no key)", `{"update_id":1,"purchased_paid_media":{"from":{"id":42},"paid_media_payload":"p"}}`,
			guard.Update{Kind: guard.KindOther}},
		{"unknown kind", testutil.UnknownUpdate("future_kind"), guard.Update{Kind: guard.KindOther}},
		{"empty", `{}`, guard.Update{Kind: guard.KindOther}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := telegolimit.UpdateOf(decode(t, tc.update))
			got.Payload = "" // payload_test.go checks it
			if got != tc.want {
				t.Errorf("UpdateOf = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestUpdateOfTypedNil: a callback's Message interface holding a nil
// pointer (which telego's decoder can produce, and code can build) is
// treated as absent.
func TestUpdateOfTypedNil(t *testing.T) {
	t.Parallel()
	for _, m := range []telego.MaybeInaccessibleMessage{(*telego.Message)(nil), (*telego.InaccessibleMessage)(nil)} {
		u := telego.Update{CallbackQuery: &telego.CallbackQuery{ID: "1", From: telego.User{ID: 42}, Message: m}}
		if got, want := telegolimit.UpdateOf(u), (guard.Update{Kind: guard.KindCallbackQuery, UserID: 42}); got != want {
			t.Errorf("UpdateOf(%T nil) = %+v, want %+v", m, got, want)
		}
	}
}
