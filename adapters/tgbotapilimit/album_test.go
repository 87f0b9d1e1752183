package tgbotapilimit_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/adapters/tgbotapilimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// TestAlbumsCommandsLanguages runs real tgbotapi updates through Check: a
// 5-photo album under 1/s passes whole with no notice where 5 separate
// photos are throttled; the notice speaks the sender's language; and a
// command for another bot does not spend this bot's command budget.
func TestAlbumsCommandsLanguages(t *testing.T) {
	api := testutil.StartBotAPI(t)
	bot := newBot(t, context.Background(), api) // getMe: @floodgate_test_bot
	st := memorystore.New(memorystore.WithClock(testutil.NewClock().Now))
	t.Cleanup(func() { _ = st.Close() })
	g := newGuard(t, st, core.PerSecond(1), nil)
	commands := newGuard(t, st, core.PerMinute(100), nil, guard.WithCommandLimit("/report", core.Every(time.Hour)))
	passed := func(g *guard.Guard, raws ...map[string]any) int {
		n := 0
		for _, raw := range raws {
			b, _ := json.Marshal(raw)
			var u tgbotapi.Update
			if err := json.Unmarshal(b, &u); err != nil {
				t.Fatal(err)
			}
			if tgbotapilimit.Check(context.Background(), bot, g, u) {
				n++
			}
		}
		return n
	}
	album := passed(g, testutil.Photo(1, "13750462389425829"), testutil.Photo(1, "13750462389425829"), testutil.Photo(1, "13750462389425829"),
		testutil.Photo(1, "13750462389425829"), testutil.Photo(1, "13750462389425829"))
	separate := passed(g, testutil.Photo(2, ""), testutil.Photo(2, ""), testutil.Photo(2, ""), testutil.Photo(2, ""), testutil.Photo(2, ""))
	t.Logf("5-photo album under 1/s: %d of 5 passed; 5 separate photos: %d of 5 passed", album, separate)
	if album != 5 || separate != 1 {
		t.Errorf("album: %d of 5 passed, want 5; separate photos: %d of 5, want 1", album, separate)
	}
	ru := testutil.Message(3, 3, "private", "привет")
	ru["message"].(map[string]any)["from"].(map[string]any)["language_code"] = "ru"
	passed(g, ru, ru)
	group := func(text string) map[string]any { return testutil.Message(4, -100, "supergroup", text) }
	if n := passed(commands, group("/report@OtherBot"), group("/report@OtherBot")); n != 2 {
		t.Errorf("/report@OtherBot: %d of 2 passed, want both (not this bot's command)", n)
	}
	if n := passed(commands, group("/report@floodgate_test_bot"), group("/Report@Floodgate_Test_Bot")); n != 1 {
		t.Errorf("/report@floodgate_test_bot twice: %d passed, want 1 (the command's limit)", n)
	}
	settle(t, g)
	settle(t, commands)
	notices := map[string]string{}
	for _, c := range api.CallsTo("sendMessage") {
		notices[c.Params["chat_id"]] = c.Params["text"]
	}
	t.Logf("notices by chat: %q", notices)
	// None for the album (chat 1); the second /report@floodgate_test_bot
	// gets one in its group.
	if len(notices) != 3 || !strings.HasPrefix(notices["2"], "Too many requests") ||
		!strings.HasPrefix(notices["3"], "Слишком много запросов") || !strings.HasSuffix(notices["-100"], "in 3600s.") {
		t.Errorf("notices by chat %q, want English to chats 2 and -100, Russian to chat 3", notices)
	}
}
