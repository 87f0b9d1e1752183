package gotgbotlimit_test

import (
	"encoding/json"
	"testing"

	"github.com/PaulSonOfLars/gotgbot/v2"
	"github.com/PaulSonOfLars/gotgbot/v2/ext"
	"github.com/floodgate-go/floodgate/adapters/gotgbotlimit"
	"github.com/floodgate-go/floodgate/internal/adaptertest"
)

// FuzzUpdateOf feeds arbitrary JSON, decoded into gotgbot.Update, through
// UpdateOf and through the processor in front of a dispatcher's handlers,
// with a bot on the fake Bot API server (see adaptertest.FuzzSetup for the
// seeds and the limit). Nothing may panic, and the processor must never
// return an error of its own.
//
// The processor gets a bare ext.Context, not one from
// Dispatcher.ProcessUpdate: gotgbot's ext.NewContext itself panics, before
// the dispatcher's recover, on some shapes Telegram never sends (a
// chat_boost without its source: testdata/fuzz/.../chat-boost-without-source).
func FuzzUpdateOf(f *testing.F) {
	api, g, ran := adaptertest.FuzzSetup(f)
	b := newBot(f, api.URL())
	proc := gotgbotlimit.Processor(g, nil)
	d := ext.NewDispatcher(nil)
	d.AddHandler(funcHandler(func(*gotgbot.Bot, *ext.Context) error { return nil }))
	f.Fuzz(func(t *testing.T, data []byte) {
		var u gotgbot.Update
		if json.Unmarshal(data, &u) != nil {
			return
		}
		if cu := gotgbotlimit.UpdateOf(&u); cu.Kind.String() == "" {
			t.Errorf("UpdateOf(%s) has an unnamed kind: %+v", data, cu)
		}
		if err := proc.ProcessUpdate(d, b, &ext.Context{Update: &u}); err != nil {
			t.Errorf("ProcessUpdate(%s) = %v, want nil", data, err)
		}
		ran()
	})
}
