package gotgbotlimit_test

import (
	"context"
	"testing"

	"github.com/PaulSonOfLars/gotgbot/v2"
	"github.com/PaulSonOfLars/gotgbot/v2/ext"
	"github.com/floodgate-go/floodgate/adapters/gotgbotlimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/adaptertest"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/telegramtest"
)

// BenchmarkOverhead measures what the processor adds to one update above
// the store: a Guard over a store that admits everything at once, a typical
// group message, the pass path. "gotgbot" is the dispatcher's own
// processing of the update to one handler; "processor" the same with the
// guard in front, so the difference is the adapter's cost;
// "UpdateOf+Check" is the conversion and the decision alone.
func BenchmarkOverhead(b *testing.B) {
	u := adaptertest.Decode[gotgbot.Update](b, telegramtest.Message(123456789, -1001234567890, "supergroup", "hello there"))
	g := newGuard(b, testutil.AllowStore{}, core.PerSecond(1))
	bot := newBot(b, "http://127.0.0.1:9") // never called on the pass path
	noop := funcHandler(func(*gotgbot.Bot, *ext.Context) error { return nil })
	plain := ext.NewDispatcher(nil)
	plain.AddHandler(noop)
	guarded := ext.NewDispatcher(&ext.DispatcherOpts{Processor: gotgbotlimit.Processor(g, nil)})
	guarded.AddHandler(noop)
	for name, d := range map[string]*ext.Dispatcher{"gotgbot": plain, "processor": guarded} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := d.ProcessUpdate(bot, u, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("UpdateOf+Check", func(b *testing.B) {
		b.ReportAllocs()
		ctx := context.Background()
		for b.Loop() {
			if !g.Check(ctx, gotgbotlimit.UpdateOf(u)).Pass {
				b.Fatal("denied")
			}
		}
	})
}
