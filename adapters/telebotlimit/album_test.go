package telebotlimit_test

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/adapters/telebotlimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
	tele "gopkg.in/telebot.v3"
)

// TestAlbumsCommandsLanguages runs real telebot updates through the
// middleware: the items of a 5-photo album under 1/s all reach the
// handler, with no notice, where 5 separate photos are throttled; the
// notice speaks the sender's language; a command for another bot is not
// this bot's command.
func TestAlbumsCommandsLanguages(t *testing.T) {
	api := testutil.StartBotAPI(t)
	st := memorystore.New(memorystore.WithClock(testutil.NewClock().Now))
	defer st.Close()
	g := newGuard(t, st, core.PerSecond(1), nil)
	commands := newGuard(t, st, core.PerMinute(100), nil, guard.WithCommandLimit("/report", core.Every(time.Hour)))
	b := newBot(t, api.URL(), nil)
	b.Me = &tele.User{Username: testutil.DefaultBotUsername} // as getMe would say (the test bot is Offline)
	rec := newRecorder()
	record := func(c tele.Context) error { rec.record(c); return nil }
	b.Handle(tele.OnPhoto, record, telebotlimit.Middleware(g))
	b.Handle(tele.OnText, record, telebotlimit.Middleware(g))
	b.Handle("/report", record, telebotlimit.Middleware(commands))

	ru := testutil.Message(3, 3, "private", "привет")
	ru["message"].(map[string]any)["from"].(map[string]any)["language_code"] = "ru"
	for range 5 {
		process(t, b, testutil.Photo(1, "13750462389425829"), testutil.Photo(2, ""))
	}
	process(t, b, ru, ru,
		testutil.Message(4, -100, "supergroup", "/report@OtherBot"), testutil.Message(4, -100, "supergroup", "/report@OtherBot"),
		testutil.Message(5, -100, "supergroup", "/report@floodgate_test_bot"), testutil.Message(5, -100, "supergroup", "/report"))
	settle(t, g)
	settle(t, commands)
	// Only the commands that name this bot (or none) count under /report's
	// limit; @OtherBot's are plain messages here, and telebot routes
	// them to no handler.
	if got, want := rec.snapshot(), map[string]int{"u:1": 5, "u:2": 1, "u:3": 1, "u:5": 1}; !maps.Equal(got, want) {
		t.Errorf("handled per user %v, want %v", got, want)
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
}
