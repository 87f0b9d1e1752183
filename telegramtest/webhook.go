package telegramtest

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// CheckWebhookHardened posts to a bot's webhook at url what Telegram never
// sends and reports, through t, every answer that is not the one a webhook
// safe to expose gives: a body over 1 MiB must get 413, malformed JSON
// 400, and a valid update 200. secret is the X-Telegram-Bot-Api-Secret-Token
// sent with each request ("" for none, for a bot started without a
// secret). The valid update, {"update_id":1}, names no sender: a bot must
// accept it without panicking. It closes the client's idle connections
// when done.
func CheckWebhookHardened(t testing.TB, url, secret string) {
	t.Helper()
	defer http.DefaultClient.CloseIdleConnections()
	for _, tc := range []struct {
		body string
		want int
	}{{strings.Repeat("x", 2<<20), http.StatusRequestEntityTooLarge}, {`{"update_id":`, http.StatusBadRequest},
		{`{"update_id":1}`, http.StatusOK}} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if secret != "" {
			req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%.20q...: status %d, want %d", tc.body, resp.StatusCode, tc.want)
		}
	}
}
