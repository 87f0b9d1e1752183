package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/floodgate-go/floodgate/webhook"
)

// Serve a bot's webhook: the handler decodes and handles each update;
// Handler has already refused forged, oversized and malformed requests.
// In production the server is webhook.NewServer(mux) listening on
// LISTEN_ADDR, and the secret goes to setWebhook as secret_token.
func ExampleHandler() {
	cfg, err := webhook.FromEnv(func(name string) (string, bool) { // os.LookupEnv in a real bot
		return map[string]string{"WEBHOOK_SECRET": "my-secret"}[name], true
	})
	if err != nil {
		log.Fatal(err)
	}
	h, err := webhook.Handler(cfg, func(ctx context.Context, update []byte) error {
		var u struct {
			UpdateID int64 `json:"update_id"`
		}
		if err := json.Unmarshal(update, &u); err != nil {
			return err
		}
		fmt.Println("handling update", u.UpdateID)
		return nil
	})
	if err != nil {
		log.Fatal(err) // webhook.ErrNoSecret when WEBHOOK_SECRET is unset
	}
	mux := http.NewServeMux()
	mux.Handle("/telegram", h)
	srv := httptest.NewServer(mux) // webhook.NewServer(mux) in production
	defer srv.Close()

	for _, secret := range []string{"my-secret", "guess"} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/telegram", strings.NewReader(`{"update_id":7}`))
		req.Header.Set(webhook.SecretHeader, secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		fmt.Println(resp.Status)
	}
	// Output:
	// handling update 7
	// 200 OK
	// 401 Unauthorized
}
