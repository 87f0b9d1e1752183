package telegolimit_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/adapters/telegolimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
	"github.com/mymmrac/telego"
	th "github.com/mymmrac/telego/telegohandler"
)

// fuzzSeeds are realistic updates, and a few odd shapes, for FuzzUpdateOf.
var fuzzSeeds = []string{
	`{"update_id":1,"message":{"message_id":1,"date":1,"chat":{"id":42,"type":"private"},"from":{"id":42,"is_bot":false,"first_name":"A"},"text":"hello"}}`,
	`{"update_id":2,"message":{"message_id":2,"date":1,"chat":{"id":-1001,"type":"supergroup"},"from":{"id":42},"text":"/report@bot now","entities":[{"type":"bot_command","offset":0,"length":11}]}}`,
	`{"update_id":3,"callback_query":{"id":"9","from":{"id":42},"message":{"message_id":5,"date":1,"chat":{"id":42,"type":"private"},"text":"Choose:"},"chat_instance":"1","data":"ping"}}`,
	`{"update_id":4,"callback_query":{"id":"9","from":{"id":42},"inline_message_id":"AAA","chat_instance":"1","data":"ping"}}`,
	`{"update_id":5,"callback_query":{"id":"9","from":{"id":42},"message":{"message_id":5,"date":0,"chat":{"id":-5,"type":"group"}},"chat_instance":"1"}}`,
	`{"update_id":6,"inline_query":{"id":"7","from":{"id":42},"query":"q","offset":""}}`,
	`{"update_id":7,"channel_post":{"message_id":1,"date":1,"chat":{"id":-1002,"type":"channel","title":"C"},"sender_chat":{"id":-1002,"type":"channel"},"text":"news"}}`,
	`{"update_id":8,"message":{"message_id":1,"date":1,"chat":{"id":-1003,"type":"supergroup"},"from":{"id":1087968824,"is_bot":true},"sender_chat":{"id":-1003,"type":"supergroup"},"text":"anon"}}`,
	`{"update_id":9,"poll":{"id":"p","question":"?","options":[{"text":"a","voter_count":0}],"total_voter_count":0,"is_closed":false,"is_anonymous":true,"type":"regular","allows_multiple_answers":false}}`,
	`{"update_id":10,"poll_answer":{"poll_id":"p","voter_chat":{"id":-5,"type":"group"},"option_ids":[0]}}`,
	`{"update_id":11,"chat_member":{"chat":{"id":-5,"type":"group"},"from":{"id":42},"date":1,"old_chat_member":{"status":"left","user":{"id":9}},"new_chat_member":{"status":"member","user":{"id":9}}}}`,
	`{"update_id":12,"edited_message":{"message_id":1,"date":1,"edit_date":2,"chat":{"id":42,"type":"private"},"from":{"id":42},"text":"edited"}}`,
	`{"update_id":13,"business_message":{"message_id":1,"date":1,"business_connection_id":"bc","chat":{"id":42,"type":"private"},"from":{"id":42},"text":"hi"}}`,
	`{"update_id":14,"message":null,"callback_query":null,"inline_query":{"id":"","from":{}}}`,
	`{"update_id":15,"callback_query":{"id":"1","from":{"id":42},"message":null}}`,
	`{"update_id":16,"message":{"chat":{},"from":null,"sender_chat":null,"text":""}}`,
	`{"update_id":17,"future_kind":{"id":1}}`,
	`{}`,
}

// FuzzUpdateOf feeds arbitrary JSON, decoded into telego.Update, through
// UpdateOf and through the middleware in a handler group, with a bot on the
// fake Bot API server and a tight limit, so both the pass path and the
// action path (answers, notices) run. Nothing may panic, and the
// middleware must never return an error of its own.
func FuzzUpdateOf(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	api := testutil.StartBotAPI(f)
	bot := newBot(f, api.URL())
	st := memorystore.New()
	f.Cleanup(func() { _ = st.Close() })
	g := newGuard(f, st, core.Every(time.Hour), guard.WithNotice(time.Millisecond, nil))
	group := &th.HandlerGroup{}
	group.Use(telegolimit.Middleware(g))
	group.Handle(func(*th.Context, telego.Update) error { return nil })
	var runs atomic.Int64

	f.Fuzz(func(t *testing.T, data []byte) {
		var u telego.Update
		if json.Unmarshal(data, &u) != nil {
			return
		}
		cu := telegolimit.UpdateOf(u)
		if cu.Kind.String() == "" {
			t.Errorf("UpdateOf(%s) has an unnamed kind: %+v", data, cu)
		}
		if err := group.HandleUpdate(context.Background(), bot, u); err != nil {
			t.Errorf("HandleUpdate(%s) = %v, want nil", data, err)
		}
		if runs.Add(1)%1000 == 0 {
			api.Reset() // keep the fake server's call log small
		}
	})
}
