package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/telegramtest"
)

// TestThreeInstancesOneLimit runs each starter bot as three processes in
// webhook mode over one real Redis, as a deployment behind a load
// balancer does; the fake Bot API spreads one user's flood of 60 messages
// over them round-robin. The limit (5 per hour, burst 5) and the notice
// are shared: exactly 5 echoes and 1 notice in total, whichever instance
// handled what, and every instance exits cleanly on SIGTERM.
func TestThreeInstancesOneLimit(t *testing.T) {
	long(t, "TestThreeInstancesOneLimit")
	redis := testutil.StartRedis(t)
	for _, s := range starters {
		t.Run(s.dir, func(t *testing.T) {
			t.Parallel()
			api := telegramtest.Start(t)
			var urls []string
			var bots []*process
			tokenOf := map[string]int{}
			for i := 1; i <= 3; i++ {
				addr := testutil.FreeAddr(t)
				url := "http://" + addr + "/telegram"
				urls = append(urls, url)
				// Each instance has a token of its own so that its Bot API calls
				// can be told apart; floodgate keys by user, so they share the
				// limit as three copies of one bot do.
				token := strconv.Itoa(i) + strings.Repeat("0", 8) + testToken[9:]
				tokenOf[token] = i - 1
				bots = append(bots, start(t, s.dir, map[string]string{
					"TELEGRAM_BOT_TOKEN": token, "TELEGRAM_API_URL": api.URL(),
					"WEBHOOK_URL": url, "LISTEN_ADDR": addr, "WEBHOOK_SECRET": "s3cret",
					"FLOODGATE_STORE": "redis", "REDIS_URL": redis.URL(), "FLOODGATE_LIMIT": "5/h burst 5",
					"FLOODGATE_PREFIX": "fg" + s.dir, // one Redis for every starter's run
					// Exactness is the point: under -race on a loaded machine a Redis
					// call can exceed the 50 ms default, and FailLocal would then
					// decide that update locally (docs/stores.md#failure-policy).
					"FLOODGATE_TIMEOUT": "2s",
				}))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if _, err := api.WaitCalls(ctx, "setWebhook", 3); err != nil { // each listens before setWebhook
				t.Fatalf("%v\n%s", err, logsOf(bots))
			}
			for _, c := range api.CallsTo("setWebhook") {
				if !slices.Contains(urls, c.Params["url"]) || c.Params["secret_token"] != "s3cret" {
					t.Errorf("setWebhook %v, want one of %v with secret_token s3cret", c.Params, urls)
				}
			}
			resp, err := http.Post(urls[0], "application/json", strings.NewReader(`{"update_id":1}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			http.DefaultClient.CloseIdleConnections()
			if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
				t.Errorf("webhook without the secret answered %d, want 401 or 403", resp.StatusCode)
			}

			api.DeliverToWebhooks(urls...)
			const flood = 60
			for i := 1; i <= flood; i++ {
				api.Push(telegramtest.Message(77, 77, "", fmt.Sprintf("flood %d", i)))
			}
			if err := api.WaitDelivered(ctx); err != nil {
				t.Fatal(err)
			}
			// Stop all three (graceful: every delivered update is handled first).
			for _, b := range bots {
				b.stop(t)
			}

			delivered, echoes, notices := make([]int, 3), make([]int, 3), make([]int, 3)
			for _, d := range api.Deliveries() {
				if i := slices.Index(urls, d.URL); i >= 0 && d.OK() {
					delivered[i]++
				}
			}
			echoed := map[string]bool{}
			for _, c := range api.CallsTo("sendMessage") {
				i := tokenOf[c.Token]
				switch text := c.Params["text"]; {
				case strings.HasPrefix(text, "flood "):
					echoes[i]++
					if echoed[text] {
						t.Errorf("%q echoed twice", text)
					}
					echoed[text] = true
				case strings.HasPrefix(text, "Too many requests"):
					notices[i]++
				default:
					t.Errorf("unexpected sendMessage %q", text)
				}
			}
			sum := func(xs []int) int { return xs[0] + xs[1] + xs[2] }
			t.Logf("%s: per instance: delivered %v, echoed %v, notices %v; total %d echoes, %d notice(s)",
				s.dir, delivered, echoes, notices, sum(echoes), sum(notices))
			if sum(delivered) != flood {
				t.Errorf("delivered %d updates, want %d", sum(delivered), flood)
			}
			// The notice is decided once across the instances. It goes out
			// off the update path, behind the echoes on the private chat's
			// 1/s lane, and is dropped (and logged) when its slot lies past
			// its deadline: sent or dropped, exactly once.
			dropped := 0
			for _, b := range bots {
				dropped += strings.Count(b.logs.String(), "floodgate: dropped an answer to a throttled update")
			}
			if sum(echoes) != 5 || sum(notices)+dropped != 1 {
				t.Errorf("total: %d echoes, %d notices sent and %d dropped; want exactly 5 and 1", sum(echoes), sum(notices), dropped)
			}
			for _, b := range bots {
				logs := b.logs.String()
				want := fmt.Sprintf(`framework=%s mode=webhook config="backend=redis addr=redis://%s`, s.framework, redis.Addr)
				if !strings.Contains(logs, want) || strings.Contains(logs, "level=ERROR") {
					t.Errorf("instance log lacks %s or has errors:\n%s", want, logs)
				}
			}
		})
	}
}
