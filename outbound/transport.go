package outbound

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"
)

// maxErrorBody bounds how much of a 429 answer the transport reads.
const maxErrorBody = 64 << 10

// Client returns a shallow copy of c whose Transport sends Bot API
// requests through t and everything else (file downloads, other hosts'
// URLs) through c's own Transport unchanged; c nil means a new
// http.Client, and a nil Transport means http.DefaultTransport.
//
// Give it to telebot (Settings.Client), telego (telego.WithHTTPClient) or
// tgbotapi (NewBotAPIWithClient). To put the throttle under other
// RoundTripper middleware, wrap the returned client's Transport. c's
// Timeout covers the time a request waits in the throttle: keep it above
// the maximum wait plus a long poll, or rely on the maximum wait alone.
// See Do for what happens to a request; in net/http terms:
//
//   - A request body with GetBody (net/http sets it for bytes and strings
//     readers) can be retried after a 429; a form or JSON body is read into
//     memory and always can; a streamed multipart upload without GetBody
//     is not retried: its 429 answer is returned as it is.
//   - The 429 answer a caller finally gets is Telegram's, body intact.
//   - An error of the throttle (ErrWaitTooLong, the context's) is returned
//     from the Transport, and http.Client wraps it in a *url.Error whose
//     URL carries the token, as for any transport error: redact it before
//     logging (guard.Redact with the bot's token).
func (t *Throttle) Client(c *http.Client) *http.Client {
	var out http.Client
	if c != nil {
		out = *c //nolint:govet // copying a Client is how to derive one; it holds no lock
	}
	next := out.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	out.Transport = &transport{t: t, next: next}
	return &out
}

type transport struct {
	t    *Throttle
	next http.RoundTripper
}

// onceCloser closes its body once, whoever asks first.
type onceCloser struct {
	io.Reader
	c    io.Closer
	once sync.Once
	err  error
}

func (o *onceCloser) Close() error {
	o.once.Do(func() { o.err = o.c.Close() })
	return o.err
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !parseEndpoint(req.URL.Path).api {
		return tr.next.RoundTrip(req)
	}
	c := Call{ContentType: req.Header.Get("Content-Type")}
	if req.Body != nil && req.Body != http.NoBody {
		body := &onceCloser{Reader: req.Body, c: req.Body}
		defer body.Close() // a RoundTripper must close the body, even on errors
		c.Stream = body
		if req.GetBody != nil {
			c.Replay = func() (io.Reader, error) {
				b, err := req.GetBody()
				if err != nil {
					return nil, err
				}
				return &onceCloser{Reader: b, c: b}, nil
			}
		}
	}
	var resp *http.Response
	send := func(ctx context.Context, body io.Reader) (Reply, error) {
		if resp != nil { // a 429 being retried: let its connection go
			_ = resp.Body.Close()
			resp = nil
		}
		r := req.Clone(ctx)
		r.GetBody = nil
		switch b := body.(type) {
		case nil:
			r.Body, r.ContentLength = http.NoBody, 0
		case *bytes.Reader:
			r.Body, r.ContentLength = io.NopCloser(b), int64(b.Len())
		case io.ReadCloser:
			r.Body = b // a gate or a replayed body: same bytes, same length
		default:
			r.Body = io.NopCloser(b)
		}
		var err error
		resp, err = tr.next.RoundTrip(r)
		if err != nil {
			resp = nil
			return Reply{}, err
		}
		if resp.StatusCode != http.StatusTooManyRequests {
			return Reply{ErrorCode: resp.StatusCode}, nil
		}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		_ = resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(raw))
		resp.ContentLength = int64(len(raw))
		return Reply{ErrorCode: http.StatusTooManyRequests, RetryAfter: retryAfter(raw)}, nil
	}
	if err := tr.t.do(req.Context(), req.URL, c, send); err != nil {
		if resp != nil {
			_ = resp.Body.Close()
		}
		return nil, err
	}
	return resp, nil
}

// retryAfter reads parameters.retry_after from a Bot API error answer;
// 0 when absent.
func retryAfter(body []byte) time.Duration {
	var env struct {
		Parameters *struct {
			RetryAfter int `json:"retry_after"`
		} `json:"parameters"`
	}
	if json.Unmarshal(body, &env) != nil || env.Parameters == nil {
		return 0
	}
	return Seconds(env.Parameters.RetryAfter)
}

// Seconds converts a retry_after (whole seconds, as Telegram sends it) to
// a Duration, for Reply.RetryAfter: 0 for n ≤ 0, at most a day.
func Seconds(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	return time.Duration(min(n, 86400)) * time.Second
}
