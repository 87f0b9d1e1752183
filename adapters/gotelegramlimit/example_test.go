package gotelegramlimit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/floodgate-go/floodgate/adapters/gotelegramlimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/outbound"
	"github.com/floodgate-go/floodgate/store/memorystore"
	"github.com/floodgate-go/floodgate/telegramtest"
	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// A bot that echoes messages, two per minute per user, its sends paced by
// an outbound throttle. The example talks to a local fake Bot API server
// instead of Telegram; a real bot leaves out WithServerURL.
func ExampleMiddleware() {
	api, err := telegramtest.NewServer()
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
	throttle, err := outbound.New(st) // setup.Open builds it too (fg.Throttle)
	if err != nil {
		panic(err)
	}

	b, err := bot.New("123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		bot.WithServerURL(api.URL()),
		bot.WithHTTPClient(time.Minute, gotelegramlimit.Client(throttle, &http.Client{Timeout: 2 * time.Minute})),
		bot.WithMiddlewares(gotelegramlimit.Middleware(g)), // every update, whichever handler takes it
		bot.WithDefaultHandler(func(ctx context.Context, b *bot.Bot, u *models.Update) {
			if u.Message != nil {
				_, _ = b.SendMessage(ctx, &bot.SendMessageParams{ChatID: u.Message.Chat.ID, Text: "echo: " + u.Message.Text})
			}
		}))
	if err != nil {
		panic(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { defer close(stopped); b.Start(ctx) }()

	for i := 1; i <= 5; i++ {
		api.Push(telegramtest.Message(42, 42, "private", fmt.Sprintf("message %d", i)))
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
	stop()
	<-stopped
	// Output:
	// notice to chat 42: Slow down, please.
	// echoes: 2, notices: 1
}

// Limit only some updates: wrap one handler instead of installing the
// middleware for the whole bot.
func ExampleMiddleware_handler() {
	var b *bot.Bot     // from bot.New
	var g *guard.Guard // from guard.New(limiter), or setup.Open's fg.Guard
	report := func(ctx context.Context, b *bot.Bot, u *models.Update) {
		// only /report commands within the limit get here
	}
	b.RegisterHandler(bot.HandlerTypeMessageText, "/report", bot.MatchTypePrefix, report, gotelegramlimit.Middleware(g))
}

func ExampleUpdateOf() {
	// An anonymous group admin sends a command: from is @GroupAnonymousBot,
	// sender_chat is the group, which the Guard counts instead.
	var u models.Update
	err := json.Unmarshal([]byte(`{"update_id":1,"message":{"message_id":7,"date":1700000000,
		"chat":{"id":-1001234567890,"type":"supergroup","title":"Chat"},
		"from":{"id":1087968824,"is_bot":true,"first_name":"Group","username":"GroupAnonymousBot"},
		"sender_chat":{"id":-1001234567890,"type":"supergroup","title":"Chat"},
		"text":"/Report@my_bot spam"}}`), &u)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%+v\n", gotelegramlimit.UpdateOf(&u))
	// Output:
	// {Kind:message UserID:1087968824 ChatID:-1001234567890 ChatType:supergroup SenderChatID:-1001234567890 Command:/report LanguageCode: MediaGroupID:}
}
