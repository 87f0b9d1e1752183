package gotgbotlimit_test

import (
	"net/http"
	"net/http/httptest"
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
	"github.com/floodgate-go/floodgate/outbound"
	"github.com/floodgate-go/floodgate/store/memorystore"
	"github.com/floodgate-go/floodgate/telegramtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestEndToEnd(t *testing.T) {
	t.Parallel()
	api := telegramtest.Start(t)
	n := adaptertest.RunEndToEnd(t, api, func(g *guard.Guard) adaptertest.E2EBot {
		var passed adaptertest.Counter
		p := startPolling(t, api, gotgbotlimit.Processor(g, nil), recordingHandler(&passed), nil)
		return adaptertest.E2EBot{Passed: &passed, Wait: p.wait}
	})
	t.Logf("%d updates, %d Bot API calls", n, len(api.Calls()))
}

// TestEndToEndHandler: the guard as a handler in a group before the bot's
// decides the same.
func TestEndToEndHandler(t *testing.T) {
	t.Parallel()
	api := telegramtest.Start(t)
	adaptertest.RunEndToEnd(t, api, func(g *guard.Guard) adaptertest.E2EBot {
		var passed adaptertest.Counter
		p := startPolling(t, api, nil, recordingHandler(&passed), func(d *ext.Dispatcher) {
			d.AddHandlerToGroup(gotgbotlimit.Handler(g, nil), -1)
		})
		return adaptertest.E2EBot{Passed: &passed, Wait: p.wait}
	})
}

// TestHandlerFilter: a Handler with a filter counts only the updates it
// matches (here commands); the others pass uncounted.
func TestHandlerFilter(t *testing.T) {
	t.Parallel()
	api := telegramtest.Start(t)
	st := memorystore.New(memorystore.WithClock(testutil.NewClock().Now))
	t.Cleanup(func() { _ = st.Close() })
	g := newGuard(t, st, core.PerMinute(2))
	var passed adaptertest.Counter
	commands := func(ctx *ext.Context) bool {
		return ctx.Message != nil && strings.HasPrefix(ctx.Message.Text, "/")
	}
	p := startPolling(t, api, nil, funcHandler(func(_ *gotgbot.Bot, ctx *ext.Context) error {
		if commands(ctx) {
			passed.Add("command")
		} else {
			passed.Add("text")
		}
		return nil
	}), func(d *ext.Dispatcher) { d.AddHandlerToGroup(gotgbotlimit.Handler(g, commands), -1) })
	for range 5 {
		api.Push(telegramtest.Message(adaptertest.E2ESpammer, adaptertest.E2ESpammer, "", "/report"))
		api.Push(telegramtest.Message(adaptertest.E2ESpammer, adaptertest.E2ESpammer, "", "just text"))
	}
	p.wait(t, 10)
	settle(t, g)
	if got, want := passed.Snapshot(), map[string]int{"command": 2, "text": 5}; !adaptertest.EqualCounts(got, want) {
		t.Errorf("passed = %v, want %v", got, want)
	}
	if got := len(api.CallsTo("sendMessage")); got != 1 {
		t.Errorf("sendMessage calls = %d, want 1 notice", got)
	}
}

// TestEndToEndWebhook runs the bot behind gotgbot's webhook handler
// (Updater.AddWebhook, GetHandlerFunc) with the guard as its processor.
func TestEndToEndWebhook(t *testing.T) {
	t.Parallel()
	api := telegramtest.Start(t)
	adaptertest.RunWebhook(t, api, func(g *guard.Guard) (string, adaptertest.E2EBot) {
		var passed adaptertest.Counter
		done := make(chan int64, 100)
		d := ext.NewDispatcher(&ext.DispatcherOpts{Processor: reporter{next: gotgbotlimit.Processor(g, nil), done: done},
			ErrorLog: discardLog})
		d.AddHandler(recordingHandler(&passed))
		u := ext.NewUpdater(d, nil)
		if err := u.AddWebhook(newBot(t, api.URL()), "hook", &ext.AddWebhookOpts{SecretToken: "s3cret"}); err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(u.GetHandlerFunc("/"))
		t.Cleanup(func() {
			srv.Close()
			if err := u.Stop(); err != nil {
				t.Error(err)
			}
		})
		return srv.URL + "/hook", adaptertest.E2EBot{Passed: &passed, Wait: func(t testing.TB, n int) { adaptertest.WaitN(t, done, n) }}
	})
}

func TestStoreErrors(t *testing.T) {
	t.Parallel()
	adaptertest.RunStoreErrors(t, func(t *testing.T, api *telegramtest.Server, g *guard.Guard) adaptertest.E2EBot {
		var passed adaptertest.Counter
		p := startPolling(t, api, gotgbotlimit.Processor(g, nil),
			funcHandler(func(*gotgbot.Bot, *ext.Context) error { passed.Add("any"); return nil }), nil)
		return adaptertest.E2EBot{Passed: &passed, Wait: p.wait}
	})
}

// process is adaptertest.Process for the processor in front of a handler,
// with a bot on apiURL ("": a nil bot). It calls the processor with a
// bare ext.Context: gotgbot's Dispatcher.ProcessUpdate itself panics on a
// nil bot (ext.NewContext reads it).
func process(t *testing.T, g *guard.Guard, apiURL string) adaptertest.Process {
	var b *gotgbot.Bot
	if apiURL != "" {
		b = newBot(t, apiURL)
	}
	return processBot(t, g, b)
}

// processBot is process with the bot b (nil: none).
func processBot(t *testing.T, g *guard.Guard, b *gotgbot.Bot) adaptertest.Process {
	d := ext.NewDispatcher(nil)
	proc := gotgbotlimit.Processor(g, nil)
	return func(raw map[string]any) bool {
		handled := false
		d.RemoveGroup(0)
		d.AddHandler(funcHandler(func(*gotgbot.Bot, *ext.Context) error { handled = true; return nil }))
		if err := proc.ProcessUpdate(d, b, &ext.Context{Update: adaptertest.Decode[gotgbot.Update](t, raw)}); err != nil {
			t.Errorf("ProcessUpdate = %v, want nil", err)
		}
		return handled
	}
}

// TestActions: the Bot API calls on a denial, when they fail (429,
// unreachable, no bot) and for a business message.
func TestActions(t *testing.T) {
	t.Parallel()
	adaptertest.RunActions(t, testToken, process)
}

func TestUpdateOf(t *testing.T) {
	adaptertest.RunUpdateOf(t, func(t *testing.T, raw map[string]any) guard.Update {
		return gotgbotlimit.UpdateOf(adaptertest.Decode[gotgbot.Update](t, raw))
	})
	// Pointer messages and typed nils, which only Go code can build.
	var nilMsg *gotgbot.Message
	var nilInacc *gotgbot.InaccessibleMessage
	chat := gotgbot.Chat{Id: -5, Type: "group"}
	for _, m := range []gotgbot.MaybeInaccessibleMessage{nilMsg, nilInacc, &gotgbot.Message{Chat: chat}, &gotgbot.InaccessibleMessage{Chat: chat}} {
		u := &gotgbot.Update{CallbackQuery: &gotgbot.CallbackQuery{From: gotgbot.User{Id: 42}, Message: m}}
		want := guard.Update{Kind: guard.KindCallbackQuery, UserID: 42}
		if m != nilMsg && m != nilInacc {
			want.ChatID, want.ChatType = -5, "group"
		}
		if got := gotgbotlimit.UpdateOf(u); got != want {
			t.Errorf("UpdateOf(callback with %#v) = %+v, want %+v", m, got, want)
		}
	}
	if got := gotgbotlimit.UpdateOf(nil); got != (guard.Update{}) {
		t.Errorf("UpdateOf(nil) = %+v, want the zero Update", got)
	}
}

// TestOutbound: the throttle as the bot's HTTP client (what the starter
// does) paces the sends and retries a 429.
func TestOutbound(t *testing.T) {
	t.Parallel()
	adaptertest.RunOutbound(t, func(t *testing.T, th *outbound.Throttle, apiURL string) func(int64, string) error {
		tr := &http.Transport{}
		t.Cleanup(tr.CloseIdleConnections)
		b, err := gotgbot.NewBot(testToken, &gotgbot.BotOpts{DisableTokenCheck: true, BotClient: &gotgbot.BaseBotClient{
			Client:             *th.Client(&http.Client{Transport: tr}),
			DefaultRequestOpts: &gotgbot.RequestOpts{APIURL: apiURL, Timeout: time.Minute}}})
		if err != nil {
			t.Fatal(err)
		}
		return func(chatID int64, text string) error { _, err := b.SendMessage(chatID, text, nil); return err }
	})
}

func TestNilGuardPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"Processor": func() { gotgbotlimit.Processor(nil, nil) },
		"Handler":   func() { gotgbotlimit.Handler(nil, nil) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if s, _ := recover().(string); !strings.Contains(s, "non-nil *guard.Guard") {
					t.Errorf("recovered %q, want the nil guard message", s)
				}
			}()
			f()
		})
	}
}
