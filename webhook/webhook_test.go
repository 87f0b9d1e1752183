package webhook_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/webhook"
)

const secret = "s3cret_Token-1"

// serve starts Handler(cfg, handle) on a test server.
func serve(t *testing.T, cfg webhook.Config, handle func(context.Context, []byte) error) string {
	t.Helper()
	h, err := webhook.Handler(cfg, handle)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func post(t *testing.T, url, secret string, body io.Reader, contentLength int64) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = contentLength
	if secret != "" {
		req.Header.Set(webhook.SecretHeader, secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestHandler(t *testing.T) {
	var got [][]byte
	url := serve(t, webhook.Config{Secret: secret, Logger: slog.New(slog.DiscardHandler)}, func(_ context.Context, b []byte) error {
		got = append(got, b)
		if bytes.Contains(b, []byte("fail")) {
			return errors.New("handler failed")
		}
		return nil
	})
	update := `{"update_id":1,"message":{"text":"hi"}}`
	big := `{"update_id":2,"x":"` + strings.Repeat("a", 2<<20) + `"}`
	for _, tc := range []struct {
		name, secret, body string
		length             int64 // -1: chunked, no Content-Length
		want               int
	}{
		{"update", secret, update, int64(len(update)), http.StatusOK},
		{"no secret", "", update, int64(len(update)), http.StatusUnauthorized},
		{"wrong secret", secret + "x", update, int64(len(update)), http.StatusUnauthorized},
		{"2 MiB body", secret, big, int64(len(big)), http.StatusRequestEntityTooLarge},
		{"2 MiB body, chunked", secret, big, -1, http.StatusRequestEntityTooLarge},
		{"malformed JSON", secret, `{"update_id":`, 13, http.StatusBadRequest},
		{"not an object", secret, `[1,2]`, 5, http.StatusBadRequest},
		{"empty", secret, ``, 0, http.StatusBadRequest},
		{"handler error", secret, `{"fail":1}`, 10, http.StatusInternalServerError},
	} {
		if code := post(t, url, tc.secret, strings.NewReader(tc.body), tc.length); code != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, code, tc.want)
		}
	}
	if len(got) != 2 || string(got[0]) != update {
		t.Errorf("handle got %d bodies (%.40q), want the update and the failing one", len(got), got)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodPost {
		t.Errorf("GET: %d, Allow %q; want 405, POST", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// Without a secret, Handler refuses to start unless told to, and then
// warns; the warning names neither a body nor a secret.
func TestHandlerSecret(t *testing.T) {
	ok := func(context.Context, []byte) error { return nil }
	if _, err := webhook.Handler(webhook.Config{}, ok); !errors.Is(err, webhook.ErrNoSecret) {
		t.Errorf("no secret: %v, want ErrNoSecret", err)
	}
	for _, bad := range []string{"with space", "semi;colon", strings.Repeat("a", 257)} {
		if _, err := webhook.Handler(webhook.Config{Secret: bad}, ok); err == nil {
			t.Errorf("secret %.20q accepted, want an error (Telegram refuses it)", bad)
		}
	}
	if _, err := webhook.Handler(webhook.Config{Secret: secret}, nil); err == nil {
		t.Error("nil handle accepted")
	}
	if _, err := webhook.Handler(webhook.Config{Secret: secret, MaxBody: -1}, ok); err == nil {
		t.Error("negative MaxBody accepted")
	}
	var logs bytes.Buffer
	url := serve(t, webhook.Config{Insecure: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, ok)
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "forged updates") {
		t.Errorf("Insecure logged %q, want a warning", logs.String())
	}
	if code := post(t, url, "", strings.NewReader(`{}`), 2); code != http.StatusOK {
		t.Errorf("Insecure, no secret sent: %d, want 200", code)
	}
}

func TestFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	cfg, err := webhook.FromEnv(env(map[string]string{"WEBHOOK_SECRET": " abc ", "WEBHOOK_INSECURE": "1"}))
	if err != nil || cfg.Secret != "abc" || !cfg.Insecure {
		t.Errorf("FromEnv = %+v, %v", cfg, err)
	}
	if _, err := webhook.FromEnv(env(map[string]string{"WEBHOOK_INSECURE": "yes please"})); err == nil ||
		!strings.Contains(err.Error(), "WEBHOOK_INSECURE") {
		t.Errorf("bad WEBHOOK_INSECURE: %v, want an error naming it", err)
	}
}

// NewServer sets every limit, and Shutdown does not wait for connections
// that never sent a request.
func TestNewServer(t *testing.T) {
	srv := webhook.NewServer(http.NotFoundHandler())
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.WriteTimeout <= 0 || srv.IdleTimeout <= 0 || srv.MaxHeaderBytes <= 0 {
		t.Fatalf("server limits %+v: want all set", srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	idle, err := net.Dial("tcp", ln.Addr().String()) // a spare connection: no request
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	// Wait until the server has accepted it (its first read ends at EOF
	// once Shutdown closes it).
	resp, err := http.Get("http://" + ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if took := time.Since(start); took >= 5*time.Second {
		t.Errorf("Shutdown took %v: it waited for the spare connection", took)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve = %v", err)
	}
}

// ConflictTransport stops the bot on getUpdates' 409, and only on it.
func TestConflictTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"ok":false,"error_code":409,"description":"Conflict: terminated by other getUpdates request"}`, http.StatusConflict)
	}))
	defer srv.Close()
	var causes []error
	c := &http.Client{Transport: webhook.ConflictTransport(nil, func(err error) { causes = append(causes, err) })}
	for _, method := range []string{"sendMessage", "getUpdates"} {
		resp, err := c.Post(srv.URL+"/bot1:x/"+method, "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusConflict {
			t.Errorf("%s: status %d, want the 409 passed on", method, resp.StatusCode)
		}
	}
	if len(causes) != 1 || !errors.Is(causes[0], webhook.ErrConflict) {
		t.Errorf("stop called with %v, want once with ErrConflict", causes)
	}
}
