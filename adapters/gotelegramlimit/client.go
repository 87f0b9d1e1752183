package gotelegramlimit

import (
	"bytes"
	"io"
	"net/http"

	"github.com/floodgate-go/floodgate/outbound"
	"github.com/go-telegram/bot"
)

// maxReplayBody is the largest request body Client holds in memory so that
// a 429 can be retried; larger ones (uploads) stream through unretried.
const maxReplayBody = 1 << 20

// Client returns the HTTP client to give go-telegram/bot with
// bot.WithHTTPClient: every Bot API call goes through t (see
// outbound.Throttle.Client), so sends wait for Telegram's limits, shared by
// every instance through t's store, and a 429 pauses the chat and is
// retried. c makes the calls; nil means a new http.Client. c's Timeout
// covers the wait in the throttle: keep it above outbound's maximum wait
// plus the long-poll timeout.
//
// go-telegram/bot streams every request as multipart/form-data through a
// pipe, a body net/http cannot replay, so the throttle could not retry a
// 429 on its own. Client reads bodies of up to 1 MiB (every call but a
// large upload) into memory first, which makes them replayable; larger
// bodies stream through the throttle, paced but, on a 429, returned
// unretried.
//
// Client panics when t is nil, a wiring mistake.
func Client(t *outbound.Throttle, c *http.Client) bot.HttpClient {
	if t == nil {
		panic("gotelegramlimit: Client needs a non-nil *outbound.Throttle (build one with outbound.New)")
	}
	return replayable{c: t.Client(c)}
}

type replayable struct{ c *http.Client }

func (r replayable) Do(req *http.Request) (*http.Response, error) {
	if req.Body == nil || req.Body == http.NoBody || req.GetBody != nil {
		return r.c.Do(req)
	}
	head, err := io.ReadAll(io.LimitReader(req.Body, maxReplayBody+1))
	if err != nil {
		_ = req.Body.Close()
		return nil, err
	}
	if len(head) > maxReplayBody { // an upload: stream it, what was read first
		req.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(head), req.Body), req.Body}
		return r.c.Do(req)
	}
	_ = req.Body.Close()
	req = req.Clone(req.Context())
	req.ContentLength = int64(len(head))
	req.Body = io.NopCloser(bytes.NewReader(head))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(head)), nil }
	return r.c.Do(req)
}
