package gotelegramlimit_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/adapters/gotelegramlimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/adaptertest"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// TestAlbumsCommandsLanguages runs real go-telegram/bot updates through
// the middleware: the items of a 5-photo album under 1/s all reach the
// handler, with no notice, where 5 separate photos are throttled; the
// notice speaks the sender's language; /report@OtherBot does not spend
// this bot's /report budget, /report@floodgate_test_bot does, and the
// bot's username is asked with getMe once.
func TestAlbumsCommandsLanguages(t *testing.T) {
	t.Parallel()
	api := testutil.StartBotAPI(t)
	st := memorystore.New(memorystore.WithClock(testutil.NewClock().Now))
	t.Cleanup(func() { _ = st.Close() })
	g := newGuard(t, st, core.PerSecond(1))
	commands := newGuard(t, st, core.PerMinute(100), guard.WithCommandLimit("/report", core.Every(time.Hour)))
	var passed adaptertest.Counter
	// Handlers run in the caller's goroutine, so each update is decided
	// before the next is processed. The bot skips getMe at start: the
	// middleware asks it when a command names a bot.
	newGuarded := func(g *guard.Guard) *bot.Bot {
		return newBot(t, api.URL(), bot.WithNotAsyncHandlers(), bot.WithMiddlewares(gotelegramlimit.Middleware(g)),
			bot.WithDefaultHandler(func(_ context.Context, _ *bot.Bot, u *models.Update) {
				passed.Add("message:" + strconv.FormatInt(u.Message.From.ID, 10))
			}))
	}
	messages, reports := newGuarded(g), newGuarded(commands)
	handle := func(b *bot.Bot, raws ...map[string]any) {
		for _, raw := range raws {
			b.ProcessUpdate(context.Background(), adaptertest.Decode[models.Update](t, raw))
		}
	}
	ru := testutil.Message(3, 3, "private", "привет")
	ru["message"].(map[string]any)["from"].(map[string]any)["language_code"] = "ru"
	for range 5 {
		handle(messages, testutil.Photo(1, "13750462389425829"), testutil.Photo(2, ""))
	}
	handle(messages, ru, ru)
	handle(reports, testutil.Message(4, -100, "supergroup", "/report@OtherBot"), testutil.Message(4, -100, "supergroup", "/report@OtherBot"),
		testutil.Message(5, -100, "supergroup", "/report@floodgate_test_bot"), testutil.Message(5, -100, "supergroup", "/report"))
	settle(t, g)
	settle(t, commands)
	if got, want := passed.Snapshot(), map[string]int{"message:1": 5, "message:2": 1, "message:3": 1, "message:4": 2,
		"message:5": 1}; !adaptertest.EqualCounts(got, want) {
		t.Errorf("passed per sender %v, want %v", got, want)
	}
	notices := map[string]string{}
	for _, c := range api.CallsTo("sendMessage") {
		notices[c.Params["chat_id"]] = c.Params["text"]
	}
	t.Logf("notices by chat: %q", notices)
	if len(notices) != 3 || !strings.HasPrefix(notices["2"], "Too many requests") ||
		!strings.HasPrefix(notices["3"], "Слишком много запросов") || !strings.HasSuffix(notices["-100"], "in 3600s.") {
		t.Errorf("notices by chat %q, want English to chats 2 and -100, Russian to chat 3, none for the album", notices)
	}
	if n := len(api.CallsTo("getMe")); n != 1 {
		t.Errorf("getMe called %d times, want once (the username is remembered)", n)
	}
}
