package telegolimit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/floodgate-go/floodgate/adapters/telegolimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
	"github.com/mymmrac/telego"
	th "github.com/mymmrac/telego/telegohandler"
	tu "github.com/mymmrac/telego/telegoutil"
)

// A bot that echoes messages, two per minute per user. The example talks to
// a local fake Bot API server instead of Telegram; a real bot leaves out
// WithAPIServer.
func ExampleMiddleware() {
	api, err := testutil.NewBotAPIServer()
	if err != nil {
		panic(err)
	}
	defer api.Close()

	st := memorystore.New() // setup.Open picks memory or Redis from the environment
	defer st.Close()
	limiter, err := core.New(st, core.PerMinute(2))
	if err != nil {
		panic(err)
	}
	g, err := guard.New(limiter,
		guard.WithNotice(time.Minute, func(guard.Update, time.Duration) string { return "Slow down, please." }))
	if err != nil {
		panic(err)
	}

	bot, err := telego.NewBot("123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		telego.WithAPIServer(api.URL()),
		telego.WithHTTPClient(&http.Client{Timeout: 45 * time.Second}), // net/http honours ctx
		telego.WithDiscardLogger())
	if err != nil {
		panic(err)
	}
	ctx, stopPolling := context.WithCancel(context.Background())
	updates, err := bot.UpdatesViaLongPolling(ctx, &telego.GetUpdatesParams{Timeout: 30})
	if err != nil {
		panic(err)
	}
	bh, err := th.NewBotHandler(bot, updates)
	if err != nil {
		panic(err)
	}
	bh.Use(telegolimit.Middleware(g)) // before the handlers it guards
	bh.HandleMessage(func(ctx *th.Context, m telego.Message) error {
		_, err := ctx.Bot().SendMessage(ctx, tu.Message(m.Chat.ChatID(), "echo: "+m.Text))
		return err
	})
	stopped := make(chan error, 1)
	go func() { stopped <- bh.Start() }()

	for i := 1; i <= 5; i++ {
		api.Push(testutil.Message(42, 42, "private", fmt.Sprintf("message %d", i)))
	}
	// Two messages are echoed, one notice is sent, the other two are dropped.
	calls, err := api.WaitCalls(context.Background(), "sendMessage", 3)
	if err != nil {
		panic(err)
	}
	echoes, notices := 0, 0
	for _, c := range calls {
		if strings.HasPrefix(c.Params["text"], "echo: ") {
			echoes++
		} else {
			notices++
			fmt.Printf("notice to chat %s: %s\n", c.Params["chat_id"], c.Params["text"])
		}
	}
	fmt.Printf("echoes: %d, notices: %d\n", echoes, notices)

	stopPolling() // ends long polling and closes updates
	<-stopped     // Start returns once updates is drained
	_ = bh.Stop() // cancels the handlers' contexts and waits for them
	// Output:
	// notice to chat 42: Slow down, please.
	// echoes: 2, notices: 1
}

// Limit only some updates: a guard used in a handler group sees only the
// updates that match the group's predicates (here, commands).
func ExampleMiddleware_group() {
	var bh *th.BotHandler // from th.NewBotHandler(bot, updates)
	var g *guard.Guard    // from guard.New(limiter), or setup.Open's fg.Guard
	commands := bh.Group(th.AnyCommand())
	commands.Use(telegolimit.Middleware(g))
	commands.HandleMessage(func(ctx *th.Context, m telego.Message) error {
		return nil // only commands within the limit get here
	})
	bh.HandleMessage(func(ctx *th.Context, m telego.Message) error {
		return nil // other messages are not counted
	})
}

func ExampleUpdateOf() {
	// An anonymous group admin sends a command: from is @GroupAnonymousBot,
	// sender_chat is the group, which the Guard counts instead.
	var u telego.Update
	err := json.Unmarshal([]byte(`{"update_id":1,"message":{"message_id":7,"date":1700000000,
		"chat":{"id":-1001234567890,"type":"supergroup","title":"Chat"},
		"from":{"id":1087968824,"is_bot":true,"first_name":"Group","username":"GroupAnonymousBot"},
		"sender_chat":{"id":-1001234567890,"type":"supergroup","title":"Chat"},
		"text":"/Report@my_bot spam"}}`), &u)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%+v\n", telegolimit.UpdateOf(u))
	// Output:
	// {Kind:message UserID:1087968824 ChatID:-1001234567890 ChatType:supergroup SenderChatID:-1001234567890 Command:/report LanguageCode: MediaGroupID: Payload:/Report@my_bot spam}
}
