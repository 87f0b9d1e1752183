package gotgbotlimit_test

import (
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/PaulSonOfLars/gotgbot/v2"
	"github.com/PaulSonOfLars/gotgbot/v2/ext"
	"github.com/floodgate-go/floodgate/adapters/gotgbotlimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/store/memorystore"
	"github.com/floodgate-go/floodgate/telegramtest"
)

// FuzzUpdateOf feeds arbitrary JSON, decoded into gotgbot.Update, through
// UpdateOf and through the processor in front of a dispatcher's handlers,
// with a bot on the fake Bot API server and a tight limit, so both the pass
// path and the action path (answers, notices) run. Nothing may panic, and
// the processor must never return an error of its own. The seeds are one
// update of every kind (telegramtest.EveryKind) and odd shapes
// (testdata/fuzz).
//
// The processor gets a bare ext.Context, not one from
// Dispatcher.ProcessUpdate: gotgbot's ext.NewContext itself panics, before
// the dispatcher's recover, on some shapes Telegram never sends (a
// chat_boost without its source: testdata/fuzz/.../chat-boost-without-source).
func FuzzUpdateOf(f *testing.F) {
	for _, u := range telegramtest.EveryKind(42, -1001234567890) {
		b, err := json.Marshal(u)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	api := telegramtest.Start(f)
	b := newBot(f, api.URL())
	st := memorystore.New()
	f.Cleanup(func() { _ = st.Close() })
	g := newGuard(f, st, core.Every(time.Hour), guard.WithNotice(time.Millisecond, nil))
	proc := gotgbotlimit.Processor(g, nil)
	d := ext.NewDispatcher(nil)
	d.AddHandler(funcHandler(func(*gotgbot.Bot, *ext.Context) error { return nil }))
	var runs atomic.Int64

	f.Fuzz(func(t *testing.T, data []byte) {
		var u gotgbot.Update
		if json.Unmarshal(data, &u) != nil {
			return
		}
		cu := gotgbotlimit.UpdateOf(&u)
		if cu.Kind.String() == "" {
			t.Errorf("UpdateOf(%s) has an unnamed kind: %+v", data, cu)
		}
		if err := proc.ProcessUpdate(d, b, &ext.Context{Update: &u}); err != nil {
			t.Errorf("ProcessUpdate(%s) = %v, want nil", data, err)
		}
		if runs.Add(1)%1000 == 0 {
			api.Reset() // keep the fake server's call log small
		}
	})
}
