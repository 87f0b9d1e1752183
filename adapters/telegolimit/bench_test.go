package telegolimit_test

import (
	"context"
	"testing"

	"github.com/floodgate-go/floodgate/adapters/telegolimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/mymmrac/telego"
	th "github.com/mymmrac/telego/telegohandler"
)

// BenchmarkOverhead measures what the middleware adds to one update above
// the store: a Guard over a store that admits everything at once, a typical
// group message, the pass path. "telego" is telegohandler's own routing of
// the update to one handler (HandlerGroup.HandleUpdate, which builds the
// handler context as BotHandler does); "middleware" is the same with the
// guard in front, so the difference is the adapter's cost; "UpdateOf+Check"
// is the conversion and the decision alone.
func BenchmarkOverhead(b *testing.B) {
	u := decode(b, testutil.Message(123456789, -1001234567890, "supergroup", "hello there"))
	g := newGuard(b, testutil.AllowStore{}, core.PerSecond(1))
	bot := newBot(b, "http://127.0.0.1:9") // never called on the pass path
	ctx := context.Background()
	noop := func(*th.Context, telego.Update) error { return nil }

	plain := &th.HandlerGroup{}
	plain.Handle(noop)
	guarded := &th.HandlerGroup{}
	guarded.Use(telegolimit.Middleware(g))
	guarded.Handle(noop)

	b.Run("telego", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := plain.HandleUpdate(ctx, bot, u); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("middleware", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := guarded.HandleUpdate(ctx, bot, u); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("UpdateOf+Check", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !g.Check(ctx, telegolimit.UpdateOf(u)).Pass {
				b.Fatal("denied")
			}
		}
	})
}
