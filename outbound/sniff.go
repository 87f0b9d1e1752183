package outbound

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strings"
	"sync"

	"github.com/floodgate-go/floodgate/core"
)

// maxSniff bounds how much of a form or JSON body the throttle reads into
// memory to find chat_id. Telegram's form and JSON requests are a few KiB
// (a message text is at most 4096 characters); files always travel as
// multipart, which is streamed (see gate).
const maxSniff = 1 << 20

// maxField bounds a multipart chat_id or allow_paid_broadcast value.
const maxField = 256

// gateBuf is how much of a multipart body a gate holds at a time.
const gateBuf = 32 << 10

// bodyKind says how the throttle reads a body's parameters.
type bodyKind uint8

const (
	bodyNone      bodyKind = iota // no body, or one whose parameters the throttle does not read
	bodyForm                      // application/x-www-form-urlencoded
	bodyJSON                      // application/json
	bodyMultipart                 // multipart/form-data: streamed through a gate
)

// kindOf reads a Content-Type; boundary is set for multipart.
func kindOf(contentType string) (kind bodyKind, boundary string) {
	if contentType == "" {
		return bodyNone, ""
	}
	mt, mp, err := mime.ParseMediaType(contentType)
	if err != nil {
		return bodyNone, ""
	}
	switch mt {
	case "application/x-www-form-urlencoded":
		return bodyForm, ""
	case "application/json":
		return bodyJSON, ""
	case "multipart/form-data":
		if mp["boundary"] != "" {
			return bodyMultipart, mp["boundary"]
		}
	}
	return bodyNone, ""
}

// sniffBytes fills p from a whole form or JSON body.
func sniffBytes(p *params, kind bodyKind, b []byte) {
	switch kind {
	case bodyForm:
		if v, err := url.ParseQuery(string(b)); err == nil {
			p.fromValues(v)
		}
	case bodyJSON:
		p.fromJSON(b)
	}
}

// readSmall reads r up to maxSniff bytes. When r is longer, it returns
// what it read, false, and a reader that yields the whole body again
// (what was read, then the rest of r).
func readSmall(r io.Reader) ([]byte, bool, io.Reader, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxSniff+1))
	if err != nil {
		return nil, false, nil, err
	}
	if len(b) <= maxSniff {
		return b, true, nil, nil
	}
	return nil, false, io.MultiReader(bytes.NewReader(b), r), nil
}

// errGateClosed ends a gate's parser when the body is closed before its end.
var errGateClosed = errors.New("outbound: body closed")

// gate passes a request body to the transport byte for byte and admits
// the request at the body's end: it always holds back the last byte read
// until the body has ended and decide has admitted the request. Telegram
// cannot act on a request whose body is incomplete, so the admission
// happens when the request is all but sent: after the connection was made
// and, for an upload, after the file went up. The request then arrives
// within moments of its admission, however long the dial or the upload
// took, and the lanes' timing is the timing Telegram sees.
//
// For multipart bodies (a boundary) a parser reads a copy of the stream
// for chat_id and allow_paid_broadcast, skipping file parts without
// keeping them. At most gateBuf bytes are in memory, whatever the size.
//
// When decide fails, Read returns its error and the request never
// completes. A gate is read by one goroutine (the transport's); Close may
// come from another.
type gate struct {
	src    io.Reader
	decide func(p params, closed <-chan struct{}) ([]core.Lane, error)

	buf      []byte
	r, w     int
	finished bool  // src ended and decide admitted: release the rest
	err      error // sticky: src's error or decide's
	read     int64 // bytes read from src

	pw     *io.PipeWriter
	parsed chan struct{} // closed when the parser is done
	found  params        // set by the parser before parsed is closed

	mu       sync.Mutex
	deciding bool          // decide has started (under mu)
	decided  chan struct{} // closed when decide has returned
	lanes    []core.Lane   // decide's lanes, once decided is closed
	derr     error         // decide's error, once decided is closed

	closeOnce sync.Once
	closed    chan struct{} // closed by Close: stops a pending decide
	closer    io.Closer     // src's, or nil
}

func newGate(src io.Reader, boundary string, decide func(p params, closed <-chan struct{}) ([]core.Lane, error)) *gate {
	g := &gate{src: src, decide: decide, parsed: make(chan struct{}),
		closed: make(chan struct{}), decided: make(chan struct{})}
	if c, ok := src.(io.Closer); ok {
		g.closer = c
	}
	if boundary == "" { // nothing to parse: hold the last byte only
		g.buf = make([]byte, 4<<10)
		close(g.parsed)
		return g
	}
	g.buf = make([]byte, gateBuf)
	pr, pw := io.Pipe()
	g.pw = pw
	go g.parse(pr, boundary)
	return g
}

// parse reads the multipart copy, remembering the parameters the throttle
// needs. On malformed input it stops parsing but keeps draining, so the
// gate never blocks; Telegram will answer the malformed body itself.
func (g *gate) parse(pr *io.PipeReader, boundary string) {
	defer close(g.parsed)
	defer func() { _, _ = io.Copy(io.Discard, pr) }()
	mr := multipart.NewReader(pr, boundary)
	for {
		part, err := mr.NextPart()
		if err != nil {
			return
		}
		name := part.FormName()
		if part.FileName() == "" && (name == "chat_id" || name == "allow_paid_broadcast") {
			b, err := io.ReadAll(io.LimitReader(part, maxField))
			if err != nil {
				return
			}
			g.found.set(name, strings.TrimSpace(string(b)))
		}
		if _, err := io.Copy(io.Discard, part); err != nil {
			return
		}
	}
}

// Read implements io.Reader.
func (g *gate) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if g.err != nil {
			return 0, g.err
		}
		if g.finished {
			if g.r == g.w {
				return 0, io.EOF
			}
			n := copy(p, g.buf[g.r:g.w])
			g.r += n
			return n, nil
		}
		if g.w-g.r > 1 { // release all but the last byte
			n := copy(p, g.buf[g.r:g.w-1])
			g.r += n
			return n, nil
		}
		// At most one byte is held: move it to the front and read more.
		if g.r > 0 {
			copy(g.buf, g.buf[g.r:g.w])
			g.w -= g.r
			g.r = 0
		}
		n, err := g.src.Read(g.buf[g.w:])
		if n > 0 {
			g.read += int64(n)
			if g.pw != nil {
				_, _ = g.pw.Write(g.buf[g.w : g.w+n]) // the parser drains until the end
			}
			g.w += n
		}
		switch {
		case err == io.EOF:
			if g.pw != nil {
				_ = g.pw.Close()
			}
			<-g.parsed
			g.mu.Lock()
			select {
			case <-g.closed: // the request was abandoned: admit nothing
				g.mu.Unlock()
				g.err = errGateClosed
				return 0, g.err
			default:
			}
			g.deciding = true
			g.mu.Unlock()
			g.lanes, g.derr = g.decide(g.found, g.closed)
			close(g.decided)
			if g.derr != nil {
				g.err = g.derr
				return 0, g.derr
			}
			g.finished = true
		case err != nil:
			g.err = err
			if g.pw != nil {
				g.pw.CloseWithError(err)
			}
			return 0, err
		}
	}
}

// wait returns the lanes decide admitted the request on and its error,
// waiting for a decide in progress (call Close first to cut it short). It
// returns nil, nil when the body never reached its end.
func (g *gate) wait() ([]core.Lane, error) {
	g.mu.Lock()
	started := g.deciding
	g.mu.Unlock()
	if !started {
		return nil, nil
	}
	<-g.decided
	return g.lanes, g.derr
}

// Close closes the source body and stops the parser. It is idempotent.
func (g *gate) Close() error {
	var err error
	g.closeOnce.Do(func() {
		g.mu.Lock()
		close(g.closed)
		g.mu.Unlock()
		if g.pw != nil {
			g.pw.CloseWithError(errGateClosed)
		}
		if g.closer != nil {
			err = g.closer.Close()
		}
	})
	return err
}
