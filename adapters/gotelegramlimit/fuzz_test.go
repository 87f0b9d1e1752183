package gotelegramlimit_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/adapters/gotelegramlimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/store/memorystore"
	"github.com/floodgate-go/floodgate/telegramtest"
	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// FuzzUpdateOf feeds arbitrary JSON, decoded into models.Update, through
// UpdateOf and through the middleware, with a bot on the fake Bot API
// server and a tight limit, so both the pass path and the action path
// (answers, notices) run. Nothing may panic. The seeds are one update of
// every kind (telegramtest.EveryKind) and odd shapes (testdata/fuzz).
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
	h := gotelegramlimit.Middleware(g)(func(context.Context, *bot.Bot, *models.Update) {})
	var runs atomic.Int64

	f.Fuzz(func(t *testing.T, data []byte) {
		var u models.Update
		if json.Unmarshal(data, &u) != nil {
			return
		}
		cu := gotelegramlimit.UpdateOf(&u)
		if cu.Kind.String() == "" {
			t.Errorf("UpdateOf(%s) has an unnamed kind: %+v", data, cu)
		}
		h(context.Background(), b, &u)
		if runs.Add(1)%1000 == 0 {
			api.Reset() // keep the fake server's call log small
		}
	})
}
