package gotgbotlimit_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PaulSonOfLars/gotgbot/v2"
	"github.com/PaulSonOfLars/gotgbot/v2/ext"
	"github.com/floodgate-go/floodgate/adapters/gotgbotlimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/adaptertest"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
)

// TestAlbumsCommandsLanguages runs real gotgbot updates through the
// processor: the items of a 5-photo album under 1/s all reach the handler,
// with no notice, where 5 separate photos are throttled; the notice speaks
// the sender's language; /report@OtherBot does not spend this bot's
// /report budget, /report@floodgate_test_bot does. A bot built without
// getMe (DisableTokenCheck) has its username asked once; one built by
// NewBot's getMe is not asked again.
func TestAlbumsCommandsLanguages(t *testing.T) {
	t.Parallel()
	api := testutil.StartBotAPI(t)
	st := memorystore.New(memorystore.WithClock(testutil.NewClock().Now))
	t.Cleanup(func() { _ = st.Close() })
	g := newGuard(t, st, core.PerSecond(1))
	commands := newGuard(t, st, core.PerMinute(100), guard.WithCommandLimit("/report", core.Every(time.Hour)))
	var passed adaptertest.Counter
	count := funcHandler(func(_ *gotgbot.Bot, ctx *ext.Context) error {
		passed.Add("message:" + strconv.FormatInt(ctx.EffectiveSender.Id(), 10))
		return nil
	})
	b := newBot(t, api.URL()) // DisableTokenCheck: b.Username is ""
	handle := func(g *guard.Guard, raws ...map[string]any) {
		d := ext.NewDispatcher(&ext.DispatcherOpts{Processor: gotgbotlimit.Processor(g, nil), ErrorLog: discardLog})
		d.AddHandler(count)
		for _, raw := range raws {
			// ProcessUpdate runs the processor in the caller's goroutine.
			if err := d.ProcessUpdate(b, adaptertest.Decode[gotgbot.Update](t, raw), nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	ru := testutil.Message(3, 3, "private", "привет")
	ru["message"].(map[string]any)["from"].(map[string]any)["language_code"] = "ru"
	for range 5 {
		handle(g, testutil.Photo(1, "13750462389425829"), testutil.Photo(2, ""))
	}
	handle(g, ru, ru)
	handle(commands, testutil.Message(4, -100, "supergroup", "/report@OtherBot"), testutil.Message(4, -100, "supergroup", "/report@OtherBot"),
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

	// A bot that knows its username (NewBot's getMe) is not asked again.
	b.Username = testutil.DefaultBotUsername
	api.Reset()
	other := newGuard(t, st, core.PerMinute(100), guard.WithCommandLimit("/report", core.Every(time.Hour)))
	handle(other, testutil.Message(6, -100, "supergroup", "/report@OtherBot"), testutil.Message(6, -100, "supergroup", "/report@OtherBot"),
		testutil.Message(7, -100, "supergroup", "/report@floodgate_test_bot"), testutil.Message(7, -100, "supergroup", "/report"))
	settle(t, other)
	if got := passed.Snapshot(); got["message:6"] != 2 || got["message:7"] != 1 {
		t.Errorf("with b.Username set, passed per sender %v, want message:6 twice and message:7 once", got)
	}
	if n := len(api.CallsTo("getMe")); n != 0 {
		t.Errorf("getMe called %d times for a bot whose username is known, want none", n)
	}
}
