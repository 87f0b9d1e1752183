package gotgbotlimit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/PaulSonOfLars/gotgbot/v2"
	"github.com/PaulSonOfLars/gotgbot/v2/ext"
	"github.com/PaulSonOfLars/gotgbot/v2/ext/handlers"
	"github.com/PaulSonOfLars/gotgbot/v2/ext/handlers/filters/message"
	"github.com/floodgate-go/floodgate/adapters/gotgbotlimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/outbound"
	"github.com/floodgate-go/floodgate/store/memorystore"
	"github.com/floodgate-go/floodgate/telegramtest"
)

// A bot that echoes messages in groups, two per minute per chat (not per
// user: guard.ByChat), its sends paced by an outbound throttle. The
// example talks to a local fake Bot API server instead of Telegram; a real
// bot leaves out APIURL.
func ExampleProcessor() {
	api, err := telegramtest.NewServer()
	if err != nil {
		panic(err)
	}
	defer api.Close()
	st := memorystore.New() // setup.Open picks memory or Redis from the environment
	defer st.Close()
	throttle, err := outbound.New(st) // setup.Open builds it too (fg.Throttle)
	if err != nil {
		panic(err)
	}
	b, err := gotgbot.NewBot("123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &gotgbot.BotOpts{
		BotClient: &gotgbot.BaseBotClient{
			Client:             *throttle.Client(&http.Client{}),
			DefaultRequestOpts: &gotgbot.RequestOpts{APIURL: api.URL(), Timeout: time.Minute},
		},
	})
	if err != nil {
		panic(err)
	}
	limiter, err := core.New(st, core.PerMinute(2))
	if err != nil {
		panic(err)
	}
	g, err := guard.New(limiter, guard.WithKey(guard.ByChat))
	if err != nil {
		panic(err)
	}

	d := ext.NewDispatcher(&ext.DispatcherOpts{Processor: gotgbotlimit.Processor(g, nil)})
	d.AddHandler(handlers.NewMessage(message.Text, func(b *gotgbot.Bot, ctx *ext.Context) error {
		_, err := b.SendMessage(ctx.EffectiveChat.Id, "echo", nil)
		return err
	}))
	updater := ext.NewUpdater(d, nil)
	err = updater.StartPolling(b, &ext.PollingOpts{GetUpdatesOpts: &gotgbot.GetUpdatesOpts{
		Timeout: 30, RequestOpts: &gotgbot.RequestOpts{Timeout: 40 * time.Second}}})
	if err != nil {
		panic(err)
	}
	const group = -1001234567890
	for user := int64(1); user <= 4; user++ { // four members write once each
		api.Push(telegramtest.Message(user, group, "supergroup", "hi"))
	}
	calls, err := api.WaitCalls(context.Background(), "sendMessage", 3) // 2 echoes, 1 notice
	if err != nil {
		panic(err)
	}
	_ = updater.Stop() // stops polling and waits for the handlers
	texts := map[string]int{}
	for _, c := range calls {
		texts[strings.SplitN(c.Params["text"], ".", 2)[0]]++
	}
	fmt.Println(texts)
	// Output:
	// map[Too many requests:1 echo:2]
}

// Limit only commands: the guard as a handler in a group before the bot's
// handlers, with a filter; other updates pass uncounted.
func ExampleHandler() {
	var d *ext.Dispatcher // from ext.NewDispatcher
	var g *guard.Guard    // from guard.New(limiter), or setup.Open's fg.Guard
	d.AddHandlerToGroup(gotgbotlimit.Handler(g, func(ctx *ext.Context) bool {
		return ctx.EffectiveMessage != nil && message.Command(ctx.EffectiveMessage)
	}), -1)
}

func ExampleUpdateOf() {
	// An anonymous group admin sends a command: from is @GroupAnonymousBot,
	// sender_chat is the group, which the Guard counts instead.
	var u gotgbot.Update
	err := json.Unmarshal([]byte(`{"update_id":1,"message":{"message_id":7,"date":1700000000,
		"chat":{"id":-1001234567890,"type":"supergroup","title":"Chat"},
		"from":{"id":1087968824,"is_bot":true,"first_name":"Group","username":"GroupAnonymousBot"},
		"sender_chat":{"id":-1001234567890,"type":"supergroup","title":"Chat"},
		"text":"/Report@my_bot spam"}}`), &u)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%+v\n", gotgbotlimit.UpdateOf(&u))
	// Output:
	// {Kind:message UserID:1087968824 ChatID:-1001234567890 ChatType:supergroup SenderChatID:-1001234567890 Command:/report LanguageCode: MediaGroupID:}
}
