package adaptertest

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
	"github.com/floodgate-go/floodgate/telegramtest"
)

// RunAlbumsCommandsLanguages runs issue 13's album, language and command
// scenario through an adapter: the items of a 5-photo album under 1/s all
// reach the handler, with no notice, where 5 separate photos are
// throttled; the notice speaks the sender's language; /report@OtherBot
// does not spend this bot's /report budget, /report@floodgate_test_bot
// does. newProcess builds the adapter's Process for g, once per Guard,
// with a bot on apiURL that does not know its username: the adapter must
// ask getMe for it once, when a command first names a bot.
func RunAlbumsCommandsLanguages(t *testing.T, newProcess func(t *testing.T, g *guard.Guard, apiURL string) Process) {
	api := telegramtest.Start(t)
	st := memorystore.New(memorystore.WithClock(testutil.NewClock().Now))
	t.Cleanup(func() { _ = st.Close() })
	g := testutil.NewGuard(t, st, core.PerSecond(1), nil, nil)
	commands := testutil.NewGuard(t, st, core.PerMinute(100), nil, nil, guard.WithCommandLimit("/report", core.Every(time.Hour)))
	messages, reports := newProcess(t, g, api.URL()), newProcess(t, commands, api.URL())
	passed := map[string]int{}
	handle := func(process Process, from int64, raw map[string]any) {
		if process(raw) {
			passed["message:"+strconv.FormatInt(from, 10)]++
		}
	}
	ru := telegramtest.Message(3, 3, "private", "привет")
	ru["message"].(map[string]any)["from"].(map[string]any)["language_code"] = "ru"
	for range 5 {
		handle(messages, 1, testutil.Photo(1, "13750462389425829"))
		handle(messages, 2, testutil.Photo(2, ""))
	}
	handle(messages, 3, ru)
	handle(messages, 3, ru)
	for _, text := range []string{"/report@OtherBot", "/report@OtherBot"} {
		handle(reports, 4, telegramtest.Message(4, -100, "supergroup", text))
	}
	for _, text := range []string{"/report@" + telegramtest.DefaultBotUsername, "/report"} {
		handle(reports, 5, telegramtest.Message(5, -100, "supergroup", text))
	}
	testutil.Settle(t, g)
	testutil.Settle(t, commands)
	t.Logf("passed per sender: %v (1: a 5-photo album, 2: 5 separate photos)", passed)
	if want := map[string]int{"message:1": 5, "message:2": 1, "message:3": 1, "message:4": 2, "message:5": 1}; !EqualCounts(passed, want) {
		t.Errorf("passed per sender %v, want %v", passed, want)
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
