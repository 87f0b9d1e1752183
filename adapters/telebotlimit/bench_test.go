package telebotlimit_test

import (
	"testing"

	"github.com/floodgate-go/floodgate/adapters/telebotlimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	tele "gopkg.in/telebot.v3"
)

// BenchmarkOverhead times what the adapter adds to each update that passes:
// the middleware reading the update from the telebot context, UpdateOf,
// and Guard.Check (key choice, key building), over a store that admits
// everything at once. The store's own cost (memorystore, redisstore) is
// in their benchmarks.
func BenchmarkOverhead(b *testing.B) {
	g := newGuard(b, testutil.AllowStore{}, core.PerSecond(1), nil)
	bot := newBot(b, "http://127.0.0.1:1", nil) // the pass path makes no call
	h := telebotlimit.Middleware(g)(func(tele.Context) error { return nil })
	c := bot.NewContext(decode(b, testutil.Message(123456789, 123456789, "private", "hello there")))
	b.ReportAllocs()
	for b.Loop() {
		if err := h(c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpdateOf times the conversion alone.
func BenchmarkUpdateOf(b *testing.B) {
	u := decode(b, testutil.Message(123456789, -1001234567890, "supergroup", "/report@floodgate_test_bot spam"))
	b.ReportAllocs()
	var cu guard.Update
	for b.Loop() {
		cu = telebotlimit.UpdateOf(&u)
	}
	if cu.Command != "/report" {
		b.Fatalf("UpdateOf = %+v", cu)
	}
}
