package outbound_test

import (
	"fmt"
	"log"
	"net/http"
	"net/url"
	"time"

	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/outbound"
	"github.com/floodgate-go/floodgate/store/memorystore"
)

// A Throttle over the store the bot already uses (store.Open's, Redis for
// several instances), plugged into the HTTP client the framework is given:
// telebot's Settings.Client, telego.WithHTTPClient, or tgbotapi's
// NewBotAPIWithClient.
func ExampleNew() {
	api, err := testutil.NewBotAPIServer() // stands in for api.telegram.org
	if err != nil {
		log.Fatal(err)
	}
	defer api.Close()

	st := memorystore.New() // one process; store.Open for Redis
	defer st.Close()
	throttle, err := outbound.New(st, outbound.WithLogger(discard()))
	if err != nil {
		log.Fatal(err)
	}
	client := throttle.Client(&http.Client{Timeout: 2 * time.Minute}) // the one line

	// Two messages to one private chat: the second waits for its lane.
	const token = "123456:TOKEN"
	start := time.Now()
	for range 2 {
		resp, err := client.PostForm(api.URL()+"/bot"+token+"/sendMessage",
			url.Values{"chat_id": {"42"}, "text": {"hello"}})
		if err != nil {
			log.Fatal(guard.Redact(err.Error(), token)) // the URL in err carries the token
		}
		resp.Body.Close()
	}
	fmt.Println("second message waited about a second:", time.Since(start).Round(time.Second))
	// Output: second message waited about a second: 1s
}
