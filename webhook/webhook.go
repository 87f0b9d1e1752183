// Package webhook serves the updates Telegram posts to a bot's webhook, in
// a way that is safe to expose to the internet, whatever the bot framework:
//
//   - only POST requests that carry the webhook's secret token
//     (X-Telegram-Bot-Api-Secret-Token, compared in constant time) are
//     read: anyone who finds the URL could otherwise post forged updates;
//   - a body is read up to a cap (DefaultMaxBody, 1 MiB: Telegram's
//     updates are a few KiB); a larger one gets 413 before it is read in
//     full, and a body that is not a JSON object gets 400, which Telegram
//     does not retry;
//   - the http.Server from NewServer bounds how long a client may take to
//     send its headers and body, how long a response may take, how long an
//     idle keep-alive connection stays open, and how large the headers may
//     be, so slow or idle connections cannot pile up.
//
// Handler refuses to start without a secret unless the operator opts out
// explicitly (Config.Insecure), and then logs a warning.
//
// The framework decodes the update: Handler hands it the body, checked,
// and answers 200 when it returns nil. A bot that runs several instances
// needs webhook mode: Telegram lets one process at a time long-poll a
// token (ErrConflict).
package webhook

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultMaxBody is the default cap on a request body: 1 MiB.
const DefaultMaxBody = 1 << 20

// SecretHeader is the header in which Telegram sends the webhook's secret
// token (setWebhook's secret_token) with every update.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// ErrNoSecret is returned by Handler for a Config with no Secret and
// Insecure unset.
var ErrNoSecret = errors.New("webhook: no secret token: set one (WEBHOOK_SECRET, passed to setWebhook as secret_token) " +
	"so that forged updates are refused, or opt out explicitly (WEBHOOK_INSECURE=true)")

// ErrConflict is the error a long-polling bot should stop with when
// getUpdates answers 409 Conflict: another process is polling the same
// token (Telegram allows one getUpdates consumer per token), or a webhook
// is set. Retrying does not help; several instances need webhook mode.
var ErrConflict = errors.New("getUpdates: 409 Conflict: another instance is polling this bot's token " +
	"(Telegram allows one long-polling process per token); run a single instance, " +
	"or run several in webhook mode (WEBHOOK_URL, LISTEN_ADDR)")

// Config says how Handler checks deliveries. Only Secret (or Insecure) is
// required; the zero values of the others are their defaults.
type Config struct {
	// Secret is the webhook's secret token, as given to setWebhook
	// (secret_token): 1 to 256 characters of A-Z, a-z, 0-9, _ and -.
	// Requests that do not carry it in SecretHeader get 401.
	Secret string
	// Insecure, with an empty Secret, accepts every request without a
	// secret check: anyone who finds the URL can post forged updates (an
	// admin's user id, or a fresh id per request to get around the limits).
	// Handler logs a warning. Use it only where something in front of the
	// bot authenticates Telegram.
	Insecure bool
	// MaxBody caps a request body in bytes (default DefaultMaxBody); a
	// larger one gets 413.
	MaxBody int64
	// Logger receives the Insecure warning and handle's errors (default
	// slog.Default()).
	Logger *slog.Logger
}

// FromEnv reads a Config from the environment through lookup (e.g.
// os.LookupEnv): WEBHOOK_SECRET, and WEBHOOK_INSECURE (a boolean such as
// "true" or "1", default false). It fails, naming the variable, when
// WEBHOOK_INSECURE is not a boolean; Config.Validate checks the rest.
func FromEnv(lookup func(string) (string, bool)) (Config, error) {
	get := func(name string) string { v, _ := lookup(name); return strings.TrimSpace(v) }
	cfg := Config{Secret: get("WEBHOOK_SECRET")}
	if v := get("WEBHOOK_INSECURE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Config{}, fmt.Errorf("WEBHOOK_INSECURE=%q: want true or false", v)
		}
		cfg.Insecure = b
	}
	return cfg, nil
}

// Validate returns the error Handler would return for c: ErrNoSecret when
// it has no Secret and Insecure is unset, and an error for a Secret
// Telegram would refuse or a negative MaxBody. Call it at start-up, before
// anything else is set up; Handler calls it too.
func (c Config) Validate() error {
	switch {
	case c.MaxBody < 0:
		return fmt.Errorf("webhook: MaxBody %d is negative", c.MaxBody)
	case c.Secret == "" && !c.Insecure:
		return ErrNoSecret
	case c.Secret != "":
		return validSecret(c.Secret)
	}
	return nil
}

// Handler returns an http.Handler that accepts Telegram's deliveries and
// hands each update's JSON to handle, under the request's context. It
// answers:
//
//	405  a method other than POST
//	401  a missing or wrong secret token
//	413  a body over MaxBody (the connection is then closed)
//	400  a body that is not a JSON object
//	500  handle returned an error (Telegram retries the update later)
//	200  handle returned nil
//
// It returns cfg.Validate's error, if any, or one for a nil handle. With
// Insecure and no Secret it logs a warning. Handler never logs a body or
// the secret.
func Handler(cfg Config, handle func(ctx context.Context, update []byte) error) (http.Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if handle == nil {
		return nil, errors.New("webhook: handle is nil")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Secret == "" {
		cfg.Logger.Warn("webhook: no secret token: every request is accepted, and anyone who finds the URL " +
			"can post forged updates; set WEBHOOK_SECRET")
	}
	return &handler{cfg: cfg, secret: []byte(cfg.Secret), handle: handle}, nil
}

// validSecret checks a secret_token as Telegram does.
func validSecret(s string) error {
	if len(s) > 256 {
		return errors.New("webhook: the secret token is longer than 256 characters, which Telegram refuses")
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return errors.New("webhook: the secret token may only hold A-Z, a-z, 0-9, _ and -, as Telegram requires")
		}
	}
	return nil
}

type handler struct {
	cfg    Config
	secret []byte // nil: no check (Insecure)
	handle func(ctx context.Context, update []byte) error
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	if h.secret != nil && subtle.ConstantTimeCompare([]byte(r.Header.Get(SecretHeader)), h.secret) != 1 {
		http.Error(w, "wrong secret token", http.StatusUnauthorized)
		return
	}
	if r.ContentLength > h.cfg.MaxBody { // refused before a byte of it is read
		w.Header().Set("Connection", "close")
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	case err != nil: // the client went away, or sent its body too slowly
		http.Error(w, "could not read the body", http.StatusBadRequest)
		return
	case !isObject(body):
		http.Error(w, "not a JSON object", http.StatusBadRequest)
		return
	}
	if err := h.handle(r.Context(), body); err != nil {
		h.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "webhook: could not handle an update", slog.String("error", err.Error()))
		http.Error(w, "could not handle the update", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// isObject reports whether b is one valid JSON object.
func isObject(b []byte) bool {
	return json.Valid(b) && bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("{"))
}

// Server limits NewServer sets.
const (
	// ReadHeaderTimeout bounds how long a client may take to send its
	// request headers.
	ReadHeaderTimeout = 5 * time.Second
	// ReadTimeout bounds how long a client may take to send a whole
	// request, body included: a connection that trickles its body is cut.
	ReadTimeout = 15 * time.Second
	// WriteTimeout bounds a request from the end of its headers to the
	// end of the response, handling included. It exceeds an outbound
	// throttle's default maximum wait (a minute), since bots commonly
	// reply to an update inside its delivery.
	WriteTimeout = 90 * time.Second
	// IdleTimeout closes a keep-alive connection idle this long.
	IdleTimeout = 60 * time.Second
	// MaxHeaderBytes caps the request line and headers; Telegram's are
	// well under 1 KiB.
	MaxHeaderBytes = 16 << 10
)

// NewServer returns an http.Server that serves h with the limits above,
// and that, at Shutdown, also closes the connections on which no request
// has arrived yet (HTTP clients, Telegram's among them, open spare ones;
// net/http would wait up to 5 s for each). Set its Addr, or call Serve with
// a listener; ErrorLog and BaseContext are left to the caller.
func NewServer(h http.Handler) *http.Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
	var mu sync.Mutex
	fresh := map[net.Conn]bool{}
	srv.ConnState = func(c net.Conn, s http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		if s == http.StateNew {
			fresh[c] = true
		} else {
			delete(fresh, c)
		}
	}
	srv.RegisterOnShutdown(func() {
		mu.Lock()
		defer mu.Unlock()
		for c := range fresh {
			_ = c.Close()
		}
	})
	return srv
}

// ConflictTransport returns an http.RoundTripper for a long-polling bot's
// HTTP client: it sends requests through next (nil: http.DefaultTransport)
// and, when a getUpdates request is answered 409 Conflict, calls
// stop(ErrConflict), e.g. the context.CancelCauseFunc of the bot's run
// context, so that the bot stops with ErrConflict's message instead of
// retrying for ever. The response itself is returned unchanged.
func ConflictTransport(next http.RoundTripper, stop func(cause error)) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return conflictTransport{next: next, stop: stop}
}

type conflictTransport struct {
	next http.RoundTripper
	stop func(cause error)
}

func (t conflictTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusConflict && strings.HasSuffix(r.URL.Path, "/getUpdates") {
		t.stop(ErrConflict)
	}
	return resp, err
}
