package tgbotapilimit_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/adapters/tgbotapilimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// fuzzSeeds are realistic updates and odd shapes: every kind tgbotapi
// knows, callbacks with and without a message, and nulls where Telegram
// never sends them.
var fuzzSeeds = []string{
	`{"update_id":1,"message":{"message_id":1,"from":{"id":7,"is_bot":false,"first_name":"A"},"chat":{"id":7,"type":"private"},"date":1,"text":"/start@bot x","entities":[{"type":"bot_command","offset":0,"length":10}]}}`,
	`{"update_id":2,"edited_message":{"message_id":1,"from":{"id":7},"chat":{"id":-100123,"type":"supergroup"},"date":1,"edit_date":2,"text":"edited"}}`,
	`{"update_id":3,"callback_query":{"id":"11","from":{"id":7},"message":{"message_id":5,"chat":{"id":7,"type":"private"},"date":1,"text":"Choose:"},"chat_instance":"1","data":"ping"}}`,
	`{"update_id":4,"callback_query":{"id":"12","from":{"id":7},"inline_message_id":"AAA","chat_instance":"1","data":"ping"}}`,
	`{"update_id":5,"inline_query":{"id":"13","from":{"id":7},"query":"cats","offset":"","chat_type":"sender"}}`,
	`{"update_id":6,"channel_post":{"message_id":1,"sender_chat":{"id":-1009,"type":"channel"},"chat":{"id":-1009,"type":"channel"},"date":1,"text":"post"}}`,
	`{"update_id":7,"message":{"message_id":1,"from":{"id":1087968824,"is_bot":true},"sender_chat":{"id":-100123,"type":"supergroup"},"chat":{"id":-100123,"type":"supergroup"},"date":1,"text":"anon"}}`,
	`{"update_id":8,"poll":{"id":"p","question":"?","options":[],"total_voter_count":0,"is_closed":true}}`,
	`{"update_id":9,"poll_answer":{"poll_id":"p","user":{"id":7},"option_ids":[0]}}`,
	`{"update_id":10,"chat_member":{"chat":{"id":-100123,"type":"supergroup"},"from":{"id":7},"date":1,"old_chat_member":{"user":{"id":8},"status":"left"},"new_chat_member":{"user":{"id":8},"status":"member"}}}`,
	`{"update_id":11,"my_chat_member":{"chat":{"id":7,"type":"private"},"from":{"id":7},"date":1}}`,
	`{"update_id":12,"chat_join_request":{"chat":{"id":-100123,"type":"supergroup"},"from":{"id":7},"date":1}}`,
	`{"update_id":13,"pre_checkout_query":{"id":"pc","from":{"id":7},"currency":"EUR","total_amount":1,"invoice_payload":"x"}}`,
	`{"update_id":14,"shipping_query":{"id":"sq","from":null}}`,
	`{"update_id":15,"chosen_inline_result":{"result_id":"r","from":{"id":7},"query":"q"}}`,
	`{"update_id":16,"message":{"message_id":1,"chat":{"id":-5,"type":"group"},"date":1,"text":"no from"}}`,
	`{"message":null,"callback_query":{"id":"14","from":null,"message":null}}`,
	`{"callback_query":{"id":"","message":{"chat":null,"from":null}}}`,
	`{"message":{"chat":null,"from":null,"sender_chat":null,"text":"/"}}`,
	`{"inline_query":{"id":"15","from":null}}`,
	`{"update_id":17,"future_kind":{"id":1}}`,
	`{"message":{"text":"/x","entities":[{"type":"bot_command","offset":0,"length":99}]}}`,
	`{}`, `null`, `[]`,
}

// FuzzUpdateOf feeds random JSON through tgbotapi's Update decoding,
// UpdateOf, Check and Filter, against a Guard that admits one update per
// key per hour (so most inputs take the denial path and call the fake Bot
// API). None may panic.
func FuzzUpdateOf(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	api := testutil.StartBotAPI(f)
	bot := newBot(f, context.Background(), api)
	st := memorystore.New()
	f.Cleanup(func() { _ = st.Close() })
	g := newGuard(f, st, core.Every(time.Hour), nil)

	f.Fuzz(func(t *testing.T, data []byte) {
		var u tgbotapi.Update
		if json.Unmarshal(data, &u) != nil {
			return
		}
		api.Reset() // keep the recorded calls from growing without bound
		cu := tgbotapilimit.UpdateOf(u)
		switch {
		case cu.Kind == guard.KindCallbackQuery && u.CallbackQuery == nil,
			cu.Kind == guard.KindInlineQuery && u.InlineQuery == nil,
			cu.Kind == guard.KindOther && cu != (guard.Update{}):
			t.Fatalf("UpdateOf(%s) = %+v: kind does not match the update", data, cu)
		}
		ctx := context.Background()
		tgbotapilimit.Check(ctx, bot, g, u)
		tgbotapilimit.Check(ctx, nil, g, u)

		in := make(chan tgbotapi.Update, 1)
		in <- u
		close(in)
		for range tgbotapilimit.Filter(ctx, bot, g, in) {
		}
	})
}
