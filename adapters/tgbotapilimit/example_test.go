package tgbotapilimit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/floodgate-go/floodgate/adapters/tgbotapilimit"
	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// A long-polling bot: Filter sits between the poller and the handler loop.
// Two messages per minute per user; the third gets one "slow down" notice.
func ExampleFilter() {
	api, err := testutil.NewBotAPIServer() // a local stand-in for api.telegram.org
	if err != nil {
		panic(err)
	}
	defer api.Close()
	for i := 1; i <= 3; i++ {
		api.Push(testutil.Message(42, 42, "private", fmt.Sprintf("hello %d", i)))
	}

	bot, err := tgbotapi.NewBotAPIWithClient("123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		api.URL()+"/bot%s/%s", &http.Client{Timeout: 10 * time.Second})
	if err != nil {
		panic(err)
	}
	st := memorystore.New()
	defer st.Close()
	limiter, err := core.New(st, core.PerMinute(2))
	if err != nil {
		panic(err)
	}
	g, err := guard.New(limiter)
	if err != nil {
		panic(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // for the example: stop once the notice is out (a bot stops on SIGTERM)
		_, _ = api.WaitCalls(ctx, "sendMessage", 1)
		cancel()
	}()

	updates := bot.GetUpdatesChan(tgbotapi.UpdateConfig{Timeout: 1})
	for u := range tgbotapilimit.Filter(ctx, bot, g, updates) {
		fmt.Println("handled:", u.Message.Text)
	}
	bot.StopReceivingUpdates() // exactly once
	for range updates {        // the poller closes the channel after its last long poll
	}
	fmt.Println("notice:", api.CallsTo("sendMessage")[0].Params["text"])
	// Output:
	// handled: hello 1
	// handled: hello 2
	// notice: Too many requests. Please try again in 30s.
}

// A webhook bot: Check runs in your own handler after bot.HandleUpdate.
// Throttled callback queries are answered, so their buttons stop spinning.
func ExampleCheck() {
	api, err := testutil.NewBotAPIServer(testutil.WithWebhookConcurrency(1))
	if err != nil {
		panic(err)
	}
	defer api.Close()
	bot, err := tgbotapi.NewBotAPIWithClient("123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		api.URL()+"/bot%s/%s", &http.Client{Timeout: 10 * time.Second})
	if err != nil {
		panic(err)
	}
	st := memorystore.New()
	defer st.Close()
	limiter, err := core.New(st, core.PerMinute(2))
	if err != nil {
		panic(err)
	}
	g, err := guard.New(limiter)
	if err != nil {
		panic(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /telegram", func(w http.ResponseWriter, r *http.Request) {
		u, err := bot.HandleUpdate(r)
		if err != nil {
			http.Error(w, "bad update", http.StatusBadRequest)
			return
		}
		if !tgbotapilimit.Check(r.Context(), bot, g, *u) {
			return // throttled: dropped (and answered); 200, so Telegram does not retry
		}
		if q := u.CallbackQuery; q != nil {
			fmt.Println("handled:", q.Data)
			_, _ = bot.Request(tgbotapi.NewCallback(q.ID, "done"))
		}
	})
	srv := httptest.NewServer(mux) // in production: your http.Server, and
	defer srv.Close()              // wh, _ := tgbotapi.NewWebhook(url); bot.Request(wh)

	for i := 1; i <= 4; i++ {
		api.Push(testutil.CallbackQuery(42, 42, fmt.Sprintf("button %d", i)))
	}
	api.DeliverToWebhooks(srv.URL + "/telegram")
	if err := api.WaitDelivered(context.Background()); err != nil {
		panic(err)
	}
	_ = g.Wait(context.Background()) // throttled callbacks are answered off the update path: wait for them
	for _, c := range api.CallsTo("answerCallbackQuery") {
		fmt.Printf("answered: %q\n", c.Params["text"])
	}
	// The two throttled callbacks are answered concurrently, in either order.

	// Unordered output:
	// handled: button 1
	// handled: button 2
	// answered: "done"
	// answered: "done"
	// answered: "Too many requests. Please try again in 30s."
	// answered: ""
}

// UpdateOf tells the Guard who sent an update; an anonymous group admin is
// counted as the group.
func ExampleUpdateOf() {
	u := tgbotapi.Update{Message: &tgbotapi.Message{
		From:       &tgbotapi.User{ID: testutil.GroupAnonymousBotID},
		SenderChat: &tgbotapi.Chat{ID: -1001234567890, Type: "supergroup"},
		Chat:       &tgbotapi.Chat{ID: -1001234567890, Type: "supergroup"},
		Text:       "/report@my_bot spam",
	}}
	cu := tgbotapilimit.UpdateOf(u)
	scope, _ := guard.ByUser(cu)
	fmt.Println(cu.Kind, cu.Command, scope)
	// Output: message /report s:-1001234567890
}
