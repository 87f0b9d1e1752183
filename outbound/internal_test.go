package outbound

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"runtime"
	"strings"
	"testing"

	"github.com/floodgate-go/floodgate/core"
)

func TestThrottled(t *testing.T) {
	t.Parallel()
	for m, want := range map[string]bool{
		"sendMessage": true, "SendPhoto": true, "sendmediagroup": true, "sendDocument": true,
		"copyMessage": true, "copyMessages": true, "forwardMessage": true, "forwardMessages": true,
		"editMessageText": true, "editMessageReplyMarkup": true, "stopPoll": true, "stopMessageLiveLocation": true,
		"sendChatAction": false, "getUpdates": false, "getMe": false, "answerCallbackQuery": false,
		"answerInlineQuery": false, "setWebhook": false, "deleteMessage": false, "getChat": false, "": false,
	} {
		if got := throttledMethod(m); got != want {
			t.Errorf("throttledMethod(%q) = %v, want %v", m, got, want)
		}
	}
}

func TestChatOf(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		kind chatKind
		id   string
	}{
		{"123", privateChat, "123"}, {"+123", privateChat, "123"}, {"-100123", groupChat, "-100123"},
		{"-5", groupChat, "-5"}, {"0", noChat, ""}, {"", noChat, ""}, {"@MyChannel", groupChat, "@mychannel"},
		{"@abc", noChat, ""}, {"@abcd", groupChat, "@abcd"}, {"@a-b-c-d", noChat, ""}, {"@" + strings.Repeat("a", 33), noChat, ""},
		{"channel", noChat, ""}, {"1.5", noChat, ""}, {"99999999999999999999", noChat, ""}, {"@{x}:y", noChat, ""},
	} {
		kind, id := chatOf(c.in)
		if kind != c.kind || id != c.id {
			t.Errorf("chatOf(%q) = %v %q, want %v %q", c.in, kind, id, c.kind, c.id)
		}
	}
}

func TestParseEndpoint(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		path string
		want endpoint
	}{
		{"/bot123:AAA/sendMessage", endpoint{"123", "sendMessage", true}},
		{"/bot123:AAA/test/sendMessage", endpoint{"123", "sendMessage", true}},
		{"/base/path/bot007:x-y_z/getMe", endpoint{"7", "getMe", true}},
		{"/file/bot123:AAA/photos/file_1.jpg", endpoint{}},
		{"/bot123:AAA/", endpoint{}},
		{"/bot123:AAA", endpoint{}},
		{"/botname/sendMessage", endpoint{}},
		{"/bot:AAA/sendMessage", endpoint{}},
		{"/other", endpoint{}},
	} {
		if got := parseEndpoint(c.path); got != c.want {
			t.Errorf("parseEndpoint(%q) = %+v, want %+v", c.path, got, c.want)
		}
	}
}

func TestSniffBytes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		kind bodyKind
		body string
		want params
	}{
		{bodyForm, "chat_id=-100&text=hi&allow_paid_broadcast=true", params{"-100", true}},
		{bodyForm, "text=hi", params{}},
		{bodyJSON, `{"chat_id":42,"text":"x"}`, params{"42", false}},
		{bodyJSON, `{"chat_id":"@chan","allow_paid_broadcast":true}`, params{"@chan", true}},
		{bodyJSON, `{"chat_id":"-7","allow_paid_broadcast":"true"}`, params{"-7", true}},
		{bodyJSON, `{"chat_id":null}`, params{}},
		{bodyJSON, `null`, params{}},
		{bodyJSON, `{"chat_id":`, params{}},
		{bodyJSON, `{"inline_message_id":"abc","text":"x"}`, params{}},
	} {
		var p params
		sniffBytes(&p, c.kind, []byte(c.body))
		if p != c.want {
			t.Errorf("sniff %q = %+v, want %+v", c.body, p, c.want)
		}
	}
}

// multipartBody writes fields and one file of size n, the file first when
// fileFirst (telebot's order) or last (telego's and tgbotapi's).
func multipartBody(w io.Writer, fields map[string]string, n int64, fileFirst bool) (string, func() error) {
	mw := multipart.NewWriter(w)
	writeFile := func() error {
		fw, err := mw.CreateFormFile("document", "big.bin")
		if err != nil {
			return err
		}
		_, err = io.CopyN(fw, rand.Reader, n)
		return err
	}
	return mw.FormDataContentType(), func() error {
		if fileFirst {
			if err := writeFile(); err != nil {
				return err
			}
		}
		for k, v := range fields {
			if err := mw.WriteField(k, v); err != nil {
				return err
			}
		}
		if !fileFirst {
			if err := writeFile(); err != nil {
				return err
			}
		}
		return mw.Close()
	}
}

// TestGateFindsChatAnywhere streams uploads with the file before and after
// chat_id through a gate: the bytes come out identical, the parameters are
// found, and decide runs once, at the end.
func TestGateFindsChatAnywhere(t *testing.T) {
	t.Parallel()
	for _, fileFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("fileFirst=%v", fileFirst), func(t *testing.T) {
			var src bytes.Buffer
			ct, write := multipartBody(&src, map[string]string{"chat_id": "-100200", "allow_paid_broadcast": "true", "caption": "c"}, 200_000, fileFirst)
			if err := write(); err != nil {
				t.Fatal(err)
			}
			want := sha256.Sum256(src.Bytes())
			kind, boundary := kindOf(ct)
			if kind != bodyMultipart {
				t.Fatalf("kindOf(%q) = %v", ct, kind)
			}
			var got params
			calls := 0
			var sent int64
			g := newGate(bytes.NewReader(src.Bytes()), boundary, func(p params, _ <-chan struct{}) ([]core.Lane, error) {
				calls++
				got = p
				if sent != int64(src.Len())-1 {
					t.Errorf("decide ran after %d of %d bytes, want all but one", sent, src.Len())
				}
				return nil, nil
			})
			h := sha256.New()
			buf := make([]byte, 1000) // small reads: the held byte moves around
			for {
				n, err := g.Read(buf)
				h.Write(buf[:n])
				sent += int64(n)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			_ = g.Close()
			if [32]byte(h.Sum(nil)) != want {
				t.Fatal("the body changed on its way through the gate")
			}
			if calls != 1 || got != (params{"-100200", true}) {
				t.Fatalf("decide called %d times with %+v", calls, got)
			}
		})
	}
}

// TestGateRefuses: when decide fails, Read returns its error and the last
// byte is never released.
func TestGateRefuses(t *testing.T) {
	t.Parallel()
	var src bytes.Buffer
	ct, write := multipartBody(&src, map[string]string{"chat_id": "1"}, 10, false)
	if err := write(); err != nil {
		t.Fatal(err)
	}
	_, boundary := kindOf(ct)
	refused := errors.New("refused")
	g := newGate(bytes.NewReader(src.Bytes()), boundary, func(params, <-chan struct{}) ([]core.Lane, error) { return nil, refused })
	got, err := io.ReadAll(g)
	if !errors.Is(err, refused) || len(got) != src.Len()-1 {
		t.Fatalf("read %d of %d bytes, err %v; want all but one and the refusal", len(got), src.Len(), err)
	}
	if _, err := g.wait(); !errors.Is(err, refused) {
		t.Fatalf("wait = %v", err)
	}
	_ = g.Close()
}

// TestGateClosedEarly: a body closed before its end never asks to be
// admitted, and the parser goroutine ends.
func TestGateClosedEarly(t *testing.T) {
	t.Parallel()
	pr, pw := io.Pipe()
	ct, write := multipartBody(pw, map[string]string{"chat_id": "1"}, 1<<20, true)
	go func() { _ = pw.CloseWithError(write()) }()
	_, boundary := kindOf(ct)
	g := newGate(pr, boundary, func(params, <-chan struct{}) ([]core.Lane, error) {
		t.Error("decide called for an abandoned body")
		return nil, nil
	})
	if _, err := io.ReadFull(g, make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	_ = g.Close()
	<-g.parsed
	if lanes, err := g.wait(); lanes != nil || err != nil {
		t.Fatalf("wait = %v %v, want nothing", lanes, err)
	}
}

// TestGateMemory streams a 64 MiB upload, chat_id after the file, through a
// pipe and a gate: memory allocated stays far below the file size.
func TestGateMemory(t *testing.T) {
	const size = 64 << 20
	pr, pw := io.Pipe()
	ct, write := multipartBody(pw, map[string]string{"chat_id": "5"}, size, true)
	go func() { _ = pw.CloseWithError(write()) }()
	_, boundary := kindOf(ct)
	var found params
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	g := newGate(pr, boundary, func(p params, _ <-chan struct{}) ([]core.Lane, error) { found = p; return nil, nil })
	n, err := io.Copy(io.Discard, g)
	runtime.ReadMemStats(&after)
	_ = g.Close()
	if err != nil || n < size || found.chat != "5" {
		t.Fatalf("copied %d bytes, err %v, chat %q", n, err, found.chat)
	}
	// crypto/rand and multipart allocate a little per write; the gate holds
	// 32 KiB. Anything near the file size would mean buffering.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size/8 {
		t.Fatalf("allocated %d bytes for a %d-byte upload", alloc, size)
	}
	t.Logf("allocated %d KiB streaming a %d MiB upload", (after.TotalAlloc-before.TotalAlloc)>>10, size>>20)
}

func TestRedact(t *testing.T) {
	t.Parallel()
	in := `Post "https://api.telegram.org/bot123456:AAE-x_y/sendMessage": dial tcp: refused; /file/bot9:z/a.jpg`
	want := `Post "https://api.telegram.org/bot<redacted>/sendMessage": dial tcp: refused; /file/bot<redacted>/a.jpg`
	if got := redact(in); got != want {
		t.Fatalf("Redact = %s\nwant     %s", got, want)
	}
}

// FuzzSniff feeds arbitrary bodies to every reader of parameters: none may
// panic, and a gate must pass the body through unchanged.
func FuzzSniff(f *testing.F) {
	f.Add("application/json", []byte(`{"chat_id":1}`))
	f.Add("application/x-www-form-urlencoded", []byte("chat_id=-1&allow_paid_broadcast=1"))
	f.Add("multipart/form-data; boundary=X", []byte("--X\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n7\r\n--X--\r\n"))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		kind, boundary := kindOf(ct)
		var p params
		sniffBytes(&p, kind, body)
		chatOf(p.chat)
		if kind != bodyMultipart {
			return
		}
		g := newGate(bytes.NewReader(body), boundary, func(q params, _ <-chan struct{}) ([]core.Lane, error) {
			chatOf(q.chat)
			return nil, nil
		})
		got, err := io.ReadAll(g)
		_ = g.Close()
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("gate changed the body: err %v, %d → %d bytes", err, len(body), len(got))
		}
	})
}
