package gotelegramlimit_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/floodgate-go/floodgate/adapters/gotelegramlimit"
	"github.com/floodgate-go/floodgate/internal/adaptertest"
	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// FuzzUpdateOf feeds arbitrary JSON, decoded into models.Update, through
// UpdateOf and through the middleware with a bot on the fake Bot API
// server (see adaptertest.FuzzSetup for the seeds and the limit). Nothing may
// panic.
func FuzzUpdateOf(f *testing.F) {
	api, g, ran := adaptertest.FuzzSetup(f)
	b := newBot(f, api.URL())
	h := gotelegramlimit.Middleware(g)(func(context.Context, *bot.Bot, *models.Update) {})
	f.Fuzz(func(t *testing.T, data []byte) {
		var u models.Update
		if json.Unmarshal(data, &u) != nil {
			return
		}
		if cu := gotelegramlimit.UpdateOf(&u); cu.Kind.String() == "" {
			t.Errorf("UpdateOf(%s) has an unnamed kind: %+v", data, cu)
		}
		h(context.Background(), b, &u)
		ran()
	})
}
