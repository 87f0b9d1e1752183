package telegramtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"time"

	"github.com/floodgate-go/floodgate/telegramtest"
)

// pingBot is the bot under test in these examples: one long poll, then a
// "pong" to every /ping, over plain net/http. A real test runs a bot built
// with its framework, pointed at the server's URL.
func pingBot(apiURL, token string) error {
	resp, err := http.Get(apiURL + "/bot" + token + "/getUpdates?timeout=5")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		Result []struct {
			Message struct {
				Chat struct{ ID int64 } `json:"chat"`
				Text string             `json:"text"`
			} `json:"message"`
		} `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return err
	}
	for _, u := range env.Result {
		if u.Message.Text == "/ping" {
			body, _ := json.Marshal(map[string]any{"chat_id": u.Message.Chat.ID, "text": "pong"})
			r, err := http.Post(apiURL+"/bot"+token+"/sendMessage", "application/json", bytes.NewReader(body))
			if err != nil {
				return err
			}
			r.Body.Close()
		}
	}
	return nil
}

// Test a bot: push an update, run the bot against the server's URL, and
// read the calls it made. In a test, telegramtest.Start(t) starts the
// server and closes it when the test ends.
func Example() {
	api, err := telegramtest.NewServer()
	if err != nil {
		panic(err)
	}
	defer api.Close()

	api.Push(telegramtest.Message(42, 42, "private", "/ping"))
	if err := pingBot(api.URL(), "123:abc"); err != nil {
		panic(err)
	}
	calls, err := api.WaitCalls(context.Background(), "sendMessage", 1)
	if err != nil {
		panic(err)
	}
	fmt.Println(calls[0].Params["chat_id"], calls[0].Params["text"])
	// Output: 42 pong
}

// Webhook delivery: the server posts each update to the bot's webhook
// (round-robin over several URLs, as a load balancer would), with the
// secret token header, and retries a failed delivery.
func ExampleServer_DeliverToWebhooks() {
	api, err := telegramtest.NewServer()
	if err != nil {
		panic(err)
	}
	defer api.Close()
	got := make(chan string, 2)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var u struct {
			UpdateID int64 `json:"update_id"`
		}
		_ = json.NewDecoder(r.Body).Decode(&u)
		got <- fmt.Sprint(r.Header.Get("X-Telegram-Bot-Api-Secret-Token"), " update ", u.UpdateID)
	}))
	defer hook.Close()

	api.SetWebhookSecret("s3cret")
	api.DeliverToWebhooks(hook.URL)
	api.Push(`{"update_id":7,"message":{"message_id":1,"date":0,"chat":{"id":1,"type":"private"},"text":"hi"}}`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := api.WaitDelivered(ctx); err != nil {
		panic(err)
	}
	fmt.Println(<-got)
	// Output: s3cret update 7
}

// FailNext makes the next calls of a method answer 429 Too Many Requests,
// to test how a bot (or its HTTP client) handles Telegram's flood control.
func ExampleServer_FailNext() {
	api, err := telegramtest.NewServer()
	if err != nil {
		panic(err)
	}
	defer api.Close()
	api.FailNext("sendMessage", 1, 3)
	send := func() string {
		resp, err := http.Post(api.URL()+"/bot123:abc/sendMessage", "application/json",
			strings.NewReader(`{"chat_id":42,"text":"hi"}`))
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		var env struct {
			OK          bool   `json:"ok"`
			Description string `json:"description"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&env)
		return fmt.Sprint(resp.StatusCode, " ", env.OK, " ", env.Description)
	}
	fmt.Println(send())
	fmt.Println(send())
	// Output:
	// 429 false Too Many Requests: retry after 3
	// 200 true
}

// With Telegram's flood limits on, a bot that sends faster than Telegram
// allows gets 429s, as it would in production: here a second message to
// one private chat within a second.
func ExampleWithFloodLimits() {
	api, err := telegramtest.NewServer(telegramtest.WithFloodLimits(telegramtest.TelegramLimits()))
	if err != nil {
		panic(err)
	}
	defer api.Close()
	for range 2 {
		resp, err := http.Post(api.URL()+"/bot123:abc/sendMessage", "application/json",
			strings.NewReader(`{"chat_id":42,"text":"hi"}`))
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
	}
	for _, c := range api.CallsTo("sendMessage") {
		fmt.Printf("rate limited %v, flooded %v, lane %q\n", c.RateLimited, c.Flooded, c.FloodLane)
	}
	// Output:
	// rate limited false, flooded false, lane ""
	// rate limited true, flooded true, lane "chat:42"
}

// EveryKind builds one update of every kind, to check that a bot survives
// them all (pass AllowedEveryKind as allowed_updates, or the server drops
// the kinds Telegram leaves out by default).
func ExampleEveryKind() {
	kinds := telegramtest.AllowedEveryKind()
	fmt.Println(len(kinds), slices.Contains(kinds, "chat_member"))
	u := telegramtest.EveryKind(42, -1001234567890)["poll_answer"]
	fmt.Println(u["poll_answer"].(map[string]any)["poll_id"])
	// Output:
	// 23 true
	// poll-1
}
