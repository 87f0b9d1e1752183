package telebotlimit_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/floodgate-go/floodgate/adapters/telebotlimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/setup"
	"github.com/floodgate-go/floodgate/store/memorystore"
	tele "gopkg.in/telebot.v3"
)

// A bot that lets each user through twice a minute. The fake Bot API server
// stands in for api.telegram.org, and the updates are handed to the bot
// directly instead of by b.Start().
func ExampleMiddleware() {
	api, err := testutil.NewBotAPIServer()
	if err != nil {
		log.Fatal(err)
	}
	defer api.Close()
	st := memorystore.New()
	defer st.Close()
	limiter, err := core.New(st, core.PerMinute(2))
	if err != nil {
		log.Fatal(err)
	}
	g, err := guard.New(limiter)
	if err != nil {
		log.Fatal(err)
	}

	b, err := tele.NewBot(tele.Settings{URL: api.URL(), Token: "123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		Synchronous: true, Offline: true})
	if err != nil {
		log.Fatal(err)
	}
	b.Use(telebotlimit.Middleware(g)) // before b.Handle
	b.Handle(tele.OnText, func(c tele.Context) error {
		fmt.Println("handler got", c.Text())
		return nil
	})

	for _, text := range []string{"one", "two", "three", "four"} {
		b.ProcessUpdate(tele.Update{Message: &tele.Message{Text: text,
			Sender: &tele.User{ID: 42}, Chat: &tele.Chat{ID: 42, Type: tele.ChatPrivate}}})
	}
	_ = g.Wait(context.Background()) // the notice goes out off the update path: wait for it
	for _, c := range api.CallsTo("sendMessage") {
		fmt.Printf("bot sent %q to chat %s\n", c.Params["text"], c.Params["chat_id"])
	}
	// Output:
	// handler got one
	// handler got two
	// bot sent "Too many requests. Please try again in 30s." to chat 42
}

// One command with its own, tighter limit: the Guard passed to b.Handle
// applies to that endpoint only, on top of any b.Use middleware. Its
// limiter is the bot's under another rule name, so the two budgets are
// apart.
func ExampleMiddleware_endpoint() {
	st := memorystore.New()
	defer st.Close()
	limiter, err := core.New(st, core.PerMinute(20)) // the bot's limiter (setup.Open's fg.Limiter)
	if err != nil {
		log.Fatal(err)
	}
	reportLimiter, err := limiter.Rule("report", core.Every(time.Hour))
	if err != nil {
		log.Fatal(err)
	}
	reports, err := guard.New(reportLimiter, guard.WithNotice(0, nil)) // no notice: drop silently
	if err != nil {
		log.Fatal(err)
	}
	b, err := tele.NewBot(tele.Settings{Synchronous: true, Offline: true})
	if err != nil {
		log.Fatal(err)
	}
	b.Handle("/report", func(c tele.Context) error {
		fmt.Println("report accepted from", c.Sender().ID)
		return nil
	}, telebotlimit.Middleware(reports))

	for range 3 {
		b.ProcessUpdate(tele.Update{Message: &tele.Message{Text: "/report",
			Sender: &tele.User{ID: 42}, Chat: &tele.Chat{ID: 42, Type: tele.ChatPrivate}}})
	}
	// Output:
	// report accepted from 42
}

// Poller checks every update before telebot dispatches it, including
// updates no handler matches. Use it instead of Middleware, not with it.
func ExamplePoller() {
	// FLOODGATE_STORE, REDIS_URL, FLOODGATE_LIMIT, ...: see package store.
	fg, err := setup.Open(context.Background(), setup.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer fg.Close()

	b, err := tele.NewBot(tele.Settings{
		Token:  os.Getenv("TELEGRAM_BOT_TOKEN"),
		Poller: telebotlimit.Poller(fg.Guard, &tele.LongPoller{Timeout: 30 * time.Second}),
		Client: &http.Client{Timeout: 40 * time.Second}, // longer than the poll
	})
	if err != nil {
		log.Fatal(err)
	}
	b.Handle(tele.OnText, func(c tele.Context) error { return c.Send(c.Text()) })
	b.Start()
}

// UpdateOf is what a Guard sees of an update: a channel post has no sender,
// so it is counted against the channel.
func ExampleUpdateOf() {
	ch := &tele.Chat{ID: -1001234567890, Type: tele.ChatChannel}
	u := tele.Update{ChannelPost: &tele.Message{Chat: ch, SenderChat: ch, Text: "news"}}
	cu := telebotlimit.UpdateOf(&u)
	fmt.Printf("%v: user %d, chat %d, sender chat %d\n", cu.Kind, cu.UserID, cu.ChatID, cu.SenderChatID)
	scope, _ := guard.ByUser(cu)
	fmt.Println("counted as", scope)
	// Output:
	// channel_post: user 0, chat -1001234567890, sender chat -1001234567890
	// counted as s:-1001234567890
}
