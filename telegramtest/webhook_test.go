package telegramtest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/floodgate-go/floodgate/telegramtest"
	"github.com/floodgate-go/floodgate/webhook"
)

// recorder is a testing.TB that keeps the errors reported to it.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) Helper() {}

// TestCheckWebhookHardened: a hardened handler passes; one that reads
// any body and answers 200 fails on the oversized and malformed bodies.
func TestCheckWebhookHardened(t *testing.T) {
	t.Parallel()
	hardened, err := webhook.Handler(webhook.Config{Secret: "s3cret"}, func(context.Context, []byte) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	good := httptest.NewServer(hardened)
	defer good.Close()
	r := &recorder{TB: t}
	telegramtest.CheckWebhookHardened(r, good.URL, "s3cret")
	if len(r.errs) != 0 {
		t.Errorf("the hardened handler failed the check: %q", r.errs)
	}

	naive := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
	}))
	defer naive.Close()
	r = &recorder{TB: t}
	telegramtest.CheckWebhookHardened(r, naive.URL, "")
	if len(r.errs) != 2 {
		t.Errorf("a handler answering 200 to everything: %d errors %q, want 2 (413 and 400 missing)", len(r.errs), r.errs)
	}
}
