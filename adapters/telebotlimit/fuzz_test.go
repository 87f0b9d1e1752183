package telebotlimit_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/adapters/telebotlimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
	tele "gopkg.in/telebot.v3"
)

// fuzzSeeds are realistic updates and odd shapes, as JSON.
var fuzzSeeds = []string{
	`{"update_id":1,"message":{"message_id":1,"date":1,"chat":{"id":42,"type":"private"},"from":{"id":42,"is_bot":false,"first_name":"A"},"text":"/start@floodgate_test_bot go"}}`,
	`{"update_id":2,"edited_message":{"message_id":1,"date":1,"edit_date":2,"chat":{"id":-100,"type":"group"},"from":{"id":42,"first_name":"A"},"text":"fixed"}}`,
	`{"update_id":3,"callback_query":{"id":"7","from":{"id":42,"first_name":"A"},"message":{"message_id":9,"date":1,"chat":{"id":42,"type":"private"},"text":"Choose:"},"chat_instance":"1","data":"ping"}}`,
	`{"update_id":4,"callback_query":{"id":"8","from":{"id":42,"first_name":"A"},"inline_message_id":"AAA","chat_instance":"1","data":"\fbtn|x"}}`,
	`{"update_id":5,"inline_query":{"id":"9","from":{"id":42,"first_name":"A"},"query":"cats","offset":""}}`,
	`{"update_id":6,"channel_post":{"message_id":1,"date":1,"chat":{"id":-1001,"type":"channel","title":"C"},"sender_chat":{"id":-1001,"type":"channel","title":"C"},"text":"post"}}`,
	`{"update_id":7,"message":{"message_id":2,"date":1,"chat":{"id":-1002,"type":"supergroup"},"from":{"id":1087968824,"is_bot":true,"first_name":"Group"},"sender_chat":{"id":-1002,"type":"supergroup"},"text":"anon"}}`,
	`{"update_id":8,"poll":{"id":"p","question":"?","options":[{"text":"a","voter_count":0}],"total_voter_count":0,"is_closed":false,"is_anonymous":true,"type":"regular"}}`,
	`{"update_id":9,"poll_answer":{"poll_id":"p","voter_chat":{"id":-1002,"type":"supergroup"},"option_ids":[0]}}`,
	`{"update_id":10,"chat_member":{"chat":{"id":-100,"type":"group"},"from":{"id":42},"date":1,"old_chat_member":{"status":"left","user":{"id":43}},"new_chat_member":{"status":"member","user":{"id":43}}}}`,
	`{"update_id":11,"my_chat_member":{"chat":null,"from":null}}`,
	`{"update_id":12,"message_reaction":{"chat":{"id":-100,"type":"group"},"message_id":1,"actor_chat":{"id":-100,"type":"group"}}}`,
	`{"update_id":13,"message":{"message_id":3,"date":1,"chat":null,"from":null,"sender_chat":null,"text":"\u0007bell"}}`,
	`{"update_id":14,"message":{},"callback_query":{},"inline_query":{}}`,
	`{"update_id":15,"future_kind":{"id":1}}`,
	`{"update_id":16,"chat_boost":{"chat":{"id":-100,"type":"group"},"boost":{"source":{"user":null}}}}`,
	`{}`,
	`null`,
}

// FuzzUpdateOf: whatever JSON arrives, UpdateOf and the middleware (with
// its actions against the fake Bot API) never panic.
func FuzzUpdateOf(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	api := testutil.StartBotAPI(f)
	st := memorystore.New()
	f.Cleanup(func() { _ = st.Close() })
	// Burst 1: the second of two identical keyed updates is throttled, so
	// every action path (answers, notice) runs.
	g := newGuard(f, st, core.Every(time.Hour), nil)
	b := newBot(f, api.URL(), nil)
	h := telebotlimit.Middleware(g)(func(tele.Context) error { return nil })

	f.Fuzz(func(t *testing.T, data []byte) {
		var u tele.Update
		if json.Unmarshal(data, &u) != nil {
			return
		}
		cu := telebotlimit.UpdateOf(&u)
		if again := telebotlimit.UpdateOf(&u); again != cu {
			t.Fatalf("UpdateOf is not deterministic: %+v then %+v", cu, again)
		}
		if cu.Kind == guard.KindOther && cu.UserID != 0 {
			t.Fatalf("KindOther with a user: %+v", cu)
		}
		for range 2 {
			if err := h(b.NewContext(u)); err != nil {
				t.Fatalf("middleware returned %v", err)
			}
		}
	})
}
