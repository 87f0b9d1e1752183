package tgbotapilimit_test

import (
	"context"
	"testing"

	"github.com/floodgate-go/floodgate/adapters/tgbotapilimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/internal/testutil"
	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// BenchmarkOverhead measures what the adapter adds per update above the
// store: a Guard over a store that admits everything at once, and a typical
// group message. UpdateOf is the conversion alone; Check adds the Guard's
// decision (key building included) on the pass path; Filter adds the
// channel hop of the polling path.
func BenchmarkOverhead(b *testing.B) {
	api := testutil.StartBotAPI(b)
	bot := newBot(b, context.Background(), api)
	g := newGuard(b, testutil.AllowStore{}, core.PerMinute(20), nil)
	u := tgbotapi.Update{UpdateID: 1, Message: &tgbotapi.Message{MessageID: 1,
		From: &tgbotapi.User{ID: 123456789, FirstName: "A"},
		Chat: &tgbotapi.Chat{ID: -1001234567890, Type: "supergroup"}, Text: "hello there"}}
	ctx := context.Background()

	b.Run("UpdateOf", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if tgbotapilimit.UpdateOf(u).UserID == 0 {
				b.Fatal("no user")
			}
		}
	})
	b.Run("Check", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !tgbotapilimit.Check(ctx, bot, g, u) {
				b.Fatal("dropped")
			}
		}
	})
	b.Run("Filter", func(b *testing.B) {
		b.ReportAllocs()
		in := make(chan tgbotapi.Update)
		out := tgbotapilimit.Filter(ctx, bot, g, in)
		for b.Loop() {
			in <- u
			<-out
		}
		close(in)
		for range out {
		}
	})
}
