package telegolimit

import (
	"bytes"
	"context"
	"io"

	"github.com/floodgate-go/floodgate/outbound"
	ta "github.com/mymmrac/telego/telegoapi"
)

// Caller returns a telego API caller that sends every Bot API call through
// t (see outbound.Throttle.Do): calls that post to a chat wait for their
// lanes, and a 429 pauses the chat on every instance and is retried. next
// makes the calls; nil means telego's default, ta.DefaultFastHTTPCaller.
// Install it with telego.WithAPICaller:
//
//	bot, err := telego.NewBot(token, telego.WithAPICaller(telegolimit.Caller(throttle, nil)))
//
// With telego.WithHTTPClient, wrap the client instead
// (telego.WithHTTPClient(throttle.Client(c))); do not do both, or requests
// are paced twice.
//
// Throttled calls reach next as a BodyStream that the throttle releases
// when they are admitted (fasthttp then sends them chunked). JSON calls
// (BodyRaw) are always retryable. Uploads (BodyStream, telego's multipart
// pipe) stream through the throttle without being held in memory; they
// cannot be replayed, so their 429 is returned, not retried. fasthttp ignores context cancellation
// while a request is in flight, but not while it waits in the throttle.
//
// Caller panics when t is nil, a wiring mistake.
func Caller(t *outbound.Throttle, next ta.Caller) ta.Caller {
	if t == nil {
		panic("telegolimit: Caller needs a non-nil *outbound.Throttle (build one with outbound.New)")
	}
	if next == nil {
		next = ta.DefaultFastHTTPCaller
	}
	return &caller{t: t, next: next}
}

type caller struct {
	t    *outbound.Throttle
	next ta.Caller
}

func (c *caller) Call(ctx context.Context, url string, data *ta.RequestData) (*ta.Response, error) {
	call := outbound.Call{URL: url, ContentType: data.ContentType}
	if data.BodyRaw != nil {
		call.Body = data.BodyRaw
	} else {
		call.Stream = data.BodyStream
	}
	var resp *ta.Response
	err := c.t.Do(ctx, call, func(ctx context.Context, body io.Reader) (outbound.Reply, error) {
		d := &ta.RequestData{ContentType: data.ContentType}
		if br, ok := body.(*bytes.Reader); ok && data.BodyRaw != nil && br.Len() == len(data.BodyRaw) {
			d.BodyRaw = data.BodyRaw // not throttled: sent as telego made it
		} else {
			d.BodyStream = body // through the throttle's gate (see outbound.Throttle.Do)
		}
		var err error
		if resp, err = c.next.Call(ctx, url, d); err != nil || resp == nil {
			return outbound.Reply{}, err
		}
		var r outbound.Reply
		if !resp.Ok && resp.Error != nil {
			r.ErrorCode = resp.ErrorCode
			if resp.Parameters != nil {
				r.RetryAfter = outbound.Seconds(resp.Parameters.RetryAfter)
			}
		}
		return r, nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}
