package core_test

import (
	"errors"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
)

// FuzzParseLimit checks that ParseLimit never panics, that every Limit it
// accepts is valid, and that String writes a text ParseLimit reads back as the
// same Limit. Rejections must wrap ErrInvalidLimit.
func FuzzParseLimit(f *testing.F) {
	for _, s := range []string{
		"1/s", "20/m", "5/10s", "100/h", "1000/d", "10/100ms", "100/h burst 10",
		"20 / minute", "3/seconds", "2/1.5s", "1/2d", "1/1.5d", "1/1m30s", "1/S",
		"100/H BURST 10", "1000/ms", "1/1.5ms", "1/2h0m0.0001s", "+5/s",
		"", "0/s", "-1/s", "1/0s", "1/500us", "NaN/s", "1/NaNd", "1/infd",
		"99999999999999999999/s", "1/s burst 0", "1/s burst x", "10000000/ms",
		"1/s burst 2000000000", "1000000000/106751.99116730064d", "1/0x1p-2d",
		"1/1e3d", "1/9223372036854775807ns", "20/m window", "1/s burst 2 window",
		"20000/s window", "window", "1/s WINDOW",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := core.ParseLimit(s)
		if err != nil {
			if !errors.Is(err, core.ErrInvalidLimit) {
				t.Fatalf("ParseLimit(%q) error %v does not wrap ErrInvalidLimit", s, err)
			}
			if l != (core.Limit{}) {
				t.Fatalf("ParseLimit(%q) returned %+v with an error", s, l)
			}
			return
		}
		if err := l.Validate(); err != nil {
			t.Fatalf("ParseLimit(%q) = %+v, which is invalid: %v", s, l, err)
		}
		if l.Period < time.Millisecond || l.Rate < 1 || l.Burst < 1 || l.Interval() < time.Microsecond {
			t.Fatalf("ParseLimit(%q) = %+v (interval %v) breaks the documented bounds", s, l, l.Interval())
		}
		text := l.String()
		back, err := core.ParseLimit(text)
		if err != nil {
			t.Fatalf("ParseLimit(%q) = %+v, but ParseLimit(String() = %q) failed: %v", s, l, text, err)
		}
		if back != l {
			t.Fatalf("ParseLimit(%q) = %+v, but ParseLimit(%q) = %+v", s, l, text, back)
		}
		if again := back.String(); again != text {
			t.Fatalf("String is not stable: %q then %q", text, again)
		}
	})
}
