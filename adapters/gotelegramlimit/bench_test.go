package gotelegramlimit_test

import (
	"context"
	"testing"

	"github.com/floodgate-go/floodgate/adapters/gotelegramlimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/adaptertest"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/telegramtest"
	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// BenchmarkOverhead measures what the middleware adds to one update above
// the store: a Guard over a store that admits everything at once, a typical
// group message, the pass path. "middleware" is the wrapped handler,
// "UpdateOf+Check" the conversion and the decision alone.
func BenchmarkOverhead(b *testing.B) {
	u := adaptertest.Decode[models.Update](b, telegramtest.Message(123456789, -1001234567890, "supergroup", "hello there"))
	g := newGuard(b, testutil.AllowStore{}, core.PerSecond(1))
	tb := newBot(b, "http://127.0.0.1:9") // never called on the pass path
	ctx := context.Background()
	h := gotelegramlimit.Middleware(g)(func(context.Context, *bot.Bot, *models.Update) {})
	b.Run("middleware", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h(ctx, tb, u)
		}
	})
	b.Run("UpdateOf+Check", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !g.Check(ctx, gotelegramlimit.UpdateOf(u)).Pass {
				b.Fatal("denied")
			}
		}
	})
}
