package core_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
)

func TestParseLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want core.Limit
	}{
		{"1/s", core.Limit{Rate: 1, Period: time.Second, Burst: 1}},
		{"20/m", core.Limit{Rate: 20, Period: time.Minute, Burst: 20}},
		{"5/10s", core.Limit{Rate: 5, Period: 10 * time.Second, Burst: 5}},
		{"100/h", core.Limit{Rate: 100, Period: time.Hour, Burst: 100}},
		{"1000/d", core.Limit{Rate: 1000, Period: 24 * time.Hour, Burst: 1000}},
		{"10/100ms", core.Limit{Rate: 10, Period: 100 * time.Millisecond, Burst: 10}},
		{"100/h burst 10", core.Limit{Rate: 100, Period: time.Hour, Burst: 10}},
		{"1/s burst 5", core.Limit{Rate: 1, Period: time.Second, Burst: 5}},
		{"20 / minute", core.Limit{Rate: 20, Period: time.Minute, Burst: 20}},
		{"  20/m  ", core.Limit{Rate: 20, Period: time.Minute, Burst: 20}},
		{"3/seconds", core.Limit{Rate: 3, Period: time.Second, Burst: 3}},
		{"3/second", core.Limit{Rate: 3, Period: time.Second, Burst: 3}},
		{"3/sec", core.Limit{Rate: 3, Period: time.Second, Burst: 3}},
		{"6/minutes", core.Limit{Rate: 6, Period: time.Minute, Burst: 6}},
		{"6/min", core.Limit{Rate: 6, Period: time.Minute, Burst: 6}},
		{"7/hours", core.Limit{Rate: 7, Period: time.Hour, Burst: 7}},
		{"7/hr", core.Limit{Rate: 7, Period: time.Hour, Burst: 7}},
		{"8/days", core.Limit{Rate: 8, Period: 24 * time.Hour, Burst: 8}},
		{"9/milliseconds", core.Limit{Rate: 9, Period: time.Millisecond, Burst: 9}},
		{"2/1.5s", core.Limit{Rate: 2, Period: 1500 * time.Millisecond, Burst: 2}},
		{"1/2d", core.Limit{Rate: 1, Period: 48 * time.Hour, Burst: 1}},
		{"1/1.5d", core.Limit{Rate: 1, Period: 36 * time.Hour, Burst: 1}},
		{"1/1m30s", core.Limit{Rate: 1, Period: 90 * time.Second, Burst: 1}},
		{"1/ms", core.Limit{Rate: 1, Period: time.Millisecond, Burst: 1}},
		{"1000/ms", core.Limit{Rate: 1000, Period: time.Millisecond, Burst: 1000}},
		{"1/S", core.Limit{Rate: 1, Period: time.Second, Burst: 1}},
		{"20/M", core.Limit{Rate: 20, Period: time.Minute, Burst: 20}},
		{"10/100MS", core.Limit{Rate: 10, Period: 100 * time.Millisecond, Burst: 10}},
		{"100/H BURST 10", core.Limit{Rate: 100, Period: time.Hour, Burst: 10}},
		{"5/10S Burst 2", core.Limit{Rate: 5, Period: 10 * time.Second, Burst: 2}},
		{"1/Day", core.Limit{Rate: 1, Period: 24 * time.Hour, Burst: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := core.ParseLimit(tt.in)
			if err != nil {
				t.Fatalf("ParseLimit(%q) error: %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseLimit(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if err := got.Validate(); err != nil {
				t.Fatalf("ParseLimit(%q) returned an invalid Limit: %v", tt.in, err)
			}
			back, err := core.ParseLimit(got.String())
			if err != nil || back != got {
				t.Fatalf("ParseLimit(%q.String() = %q) = %+v, %v; want %+v", tt.in, got.String(), back, err, got)
			}
		})
	}
}

func TestParseLimitRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in string
		// field is a word the message must contain: the part at fault.
		field string
	}{
		{"", "RATE/PERIOD"},
		{"   ", "RATE/PERIOD"},
		{"20", "RATE/PERIOD"},
		{"burst 5", "RATE/PERIOD"},
		{"0/s", "Rate"},
		{"-1/s", "Rate"},
		{"NaN/s", "Rate"},
		{"1.5/s", "Rate"},
		{"/s", "Rate"},
		{"99999999999999999999/s", "Rate"},
		{"10000000/ms", "Rate"}, // more than one event per microsecond
		{"1001/ms", "Rate"},
		{"1/0s", "Period"},
		{"1/0", "Period"},
		{"1/", "Period"},
		{"1/-1s", "Period"},
		{"1/500us", "Period"}, // shorter than 1 ms
		// Stores count whole microseconds: a period that is not one would
		// be rounded, and rounding down admits more than stated.
		{"1/1.0000005s", "whole number of microseconds"},
		{"2/1.000001ms", "whole number of microseconds"},
		{"1/999µs", "Period"},
		{"1/NaNd", "Period"},
		{"1/infd", "Period"},
		{"1/-2d", "Period"},
		{"1/fortnight", "Period"},
		{"1/10", "Period"}, // a number without a unit
		{"1/106752d", "Period"},
		{"1000000000/106751.99116730064d", "too long"}, // n×24h rounds to 2^63
		{"1/s burst 0", "Burst"},
		{"1/s burst -3", "Burst"},
		{"1/s burst x", "Burst"},
		{"1/s burst", "Burst"},
		{"1/s burst 99999999999999999999", "Burst"},
		// 1/s is a 1 s interval: Burst × 1 s must stay within 2^50 µs (≈35.7 years).
		{"1/s burst 2000000000", "Burst"},
		{"1/s burst 1125899907", "Burst"},
		{"1/h burst 312750", "Burst"}, // floor(2^50 / 3.6e9) = 312749
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := core.ParseLimit(tt.in)
			if err == nil {
				t.Fatalf("ParseLimit(%q) = %+v, want an error", tt.in, got)
			}
			if !errors.Is(err, core.ErrInvalidLimit) {
				t.Errorf("ParseLimit(%q) error %v does not wrap ErrInvalidLimit", tt.in, err)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("ParseLimit(%q) error %q does not name %q", tt.in, err, tt.field)
			}
			if !strings.HasPrefix(err.Error(), "core: ") {
				t.Errorf("ParseLimit(%q) error %q lacks the package prefix", tt.in, err)
			}
			if got != (core.Limit{}) {
				t.Errorf("ParseLimit(%q) returned %+v with its error, want the zero Limit", tt.in, got)
			}
		})
	}
}

// The largest burst a 1/s limit accepts: floor(2^50 µs / 1 s).
const maxBurstPerSecond = 1125899906

func TestValidate(t *testing.T) {
	t.Parallel()
	valid := []core.Limit{
		{Rate: 1, Period: time.Millisecond, Burst: 1},
		{Rate: 1000, Period: time.Millisecond, Burst: 1},                      // exactly one per microsecond
		{Rate: 3, Period: time.Second, Burst: 1},                              // interval rounds up
		{Rate: 1, Period: time.Second, Burst: maxBurstPerSecond},              // the 35-year bound itself
		{Rate: 1, Period: 35 * 365 * 24 * time.Hour, Burst: 1},                // one per 35 years
		{Rate: 1, Period: 1500*time.Microsecond + time.Microsecond, Burst: 1}, // periods need not be whole ms
		{Rate: 1 << 20, Period: 100 * 24 * time.Hour, Burst: 1 << 20},         // large numbers
		core.PerSecond(1),
		core.PerMinute(20),
		core.Limit{Rate: 100, Period: time.Hour, Burst: 10},
		core.Every(1500 * time.Millisecond),
	}
	for _, l := range valid {
		if err := l.Validate(); err != nil {
			t.Errorf("%+v.Validate() = %v, want nil", l, err)
		}
	}

	invalid := []struct {
		l     core.Limit
		field string
	}{
		{core.Limit{}, "Rate"},
		{core.Limit{Rate: 0, Period: time.Second, Burst: 1}, "Rate"},
		{core.Limit{Rate: -5, Period: time.Second, Burst: 1}, "Rate"},
		{core.Limit{Rate: 1001, Period: time.Millisecond, Burst: 1}, "Rate"},
		{core.Limit{Rate: 1, Period: 0, Burst: 1}, "Period"},
		{core.Limit{Rate: 1, Period: -time.Second, Burst: 1}, "Period"},
		{core.Limit{Rate: 1, Period: time.Millisecond - 1, Burst: 1}, "Period"},
		{core.Limit{Rate: 1, Period: 1500*time.Microsecond + 1, Burst: 1}, "whole number of microseconds"},
		{core.Limit{Rate: 1, Period: time.Second, Burst: 0}, "Burst"},
		{core.Limit{Rate: 1, Period: time.Second, Burst: -1}, "Burst"},
		{core.Limit{Rate: 1, Period: time.Second, Burst: maxBurstPerSecond + 1}, "Burst"},
		{core.Limit{Rate: 1, Period: 36 * 365 * 24 * time.Hour, Burst: 1}, "Burst"},
		{core.PerSecond(0), "Rate"},
		{core.Every(0), "Period"},
		{core.PerMinute(5).WithBurst(0), "Burst"},
	}
	for _, tt := range invalid {
		err := tt.l.Validate()
		if err == nil {
			t.Errorf("%+v.Validate() = nil, want an error naming %s", tt.l, tt.field)
			continue
		}
		if !errors.Is(err, core.ErrInvalidLimit) {
			t.Errorf("%+v.Validate() = %v, does not wrap ErrInvalidLimit", tt.l, err)
		}
		if !strings.Contains(err.Error(), tt.field) {
			t.Errorf("%+v.Validate() = %q, does not name %s", tt.l, err, tt.field)
		}
	}
}

func TestHelpers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		got, want core.Limit
	}{
		{core.PerSecond(10), core.Limit{Rate: 10, Period: time.Second, Burst: 10}},
		{core.PerMinute(20), core.Limit{Rate: 20, Period: time.Minute, Burst: 20}},
		{core.Every(1500 * time.Millisecond), core.Limit{Rate: 1, Period: 1500 * time.Millisecond, Burst: 1}},
		{core.PerMinute(20).WithBurst(3), core.Limit{Rate: 20, Period: time.Minute, Burst: 3}},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %+v, want %+v", tt.got, tt.want)
		}
	}
	base := core.PerSecond(4)
	_ = base.WithBurst(9)
	if base.Burst != 4 {
		t.Errorf("WithBurst modified its receiver: Burst = %d, want 4", base.Burst)
	}
}

func TestInterval(t *testing.T) {
	t.Parallel()
	tests := []struct {
		l    core.Limit
		want time.Duration
	}{
		{core.PerSecond(1), time.Second},
		{core.PerSecond(10), 100 * time.Millisecond},
		{core.PerMinute(20), 3 * time.Second},
		{core.Limit{Rate: 10, Period: 100 * time.Millisecond, Burst: 10}, 10 * time.Millisecond},
		{core.PerSecond(3), 333334 * time.Microsecond},                                    // rounded up, not 333333
		{core.Limit{Rate: 7, Period: time.Millisecond, Burst: 1}, 143 * time.Microsecond}, // 142.86 → 143
		{core.Limit{Rate: 1000, Period: time.Millisecond, Burst: 1}, time.Microsecond},
		// No interval without a rate or a period.
		{core.Limit{}, 0},
		{core.Limit{Rate: 1, Period: -time.Second, Burst: 1}, 0},
		{core.Limit{Rate: 1, Period: 999 * time.Nanosecond, Burst: 1}, 0},
		// Interval does not run the other checks of Validate.
		{core.Limit{Rate: 1, Period: 500 * time.Microsecond, Burst: 1}, 500 * time.Microsecond},
		{core.Limit{Rate: 2000, Period: time.Millisecond, Burst: 1}, time.Microsecond},
		{core.Limit{Rate: 1, Period: time.Second, Burst: 0}, time.Second},
	}
	for _, tt := range tests {
		if got := tt.l.Interval(); got != tt.want {
			t.Errorf("%+v.Interval() = %v, want %v", tt.l, got, tt.want)
		}
	}
}

func TestLimitString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		l    core.Limit
		want string
	}{
		{core.PerSecond(1), "1/s"},
		{core.PerMinute(20), "20/m"},
		{core.Limit{Rate: 100, Period: time.Hour, Burst: 100}, "100/h"},
		{core.Limit{Rate: 100, Period: time.Hour, Burst: 10}, "100/h burst 10"},
		{core.Limit{Rate: 5, Period: 10 * time.Second, Burst: 5}, "5/10s"},
		{core.Limit{Rate: 10, Period: 100 * time.Millisecond, Burst: 10}, "10/100ms"},
		{core.Limit{Rate: 1000, Period: 24 * time.Hour, Burst: 1000}, "1000/d"},
		{core.Limit{Rate: 1, Period: 48 * time.Hour, Burst: 1}, "1/2d"},
		{core.Limit{Rate: 1, Period: 25 * time.Hour, Burst: 1}, "1/25h"},
		{core.Limit{Rate: 1, Period: 90 * time.Second, Burst: 1}, "1/90s"},
		{core.Limit{Rate: 1, Period: 90 * time.Minute, Burst: 2}, "1/90m burst 2"},
		{core.Every(1500 * time.Millisecond), "1/1500ms"},
		{core.Every(1500 * time.Microsecond), "1/1.5ms"},
		{core.Every(2*time.Hour + 100*time.Microsecond), "1/2h0m0.0001s"},
		{core.Limit{Rate: 1, Period: time.Second, Burst: 1000}, "1/s burst 1000"},
		{core.Window(20, time.Minute), "20/m window"},
		{core.Window(1, 1500*time.Millisecond), "1/1500ms window"},
	}
	for _, tt := range tests {
		got := tt.l.String()
		if got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.l, got, tt.want)
		}
		back, err := core.ParseLimit(got)
		if err != nil {
			t.Errorf("ParseLimit(%q) error: %v", got, err)
			continue
		}
		if back != tt.l {
			t.Errorf("ParseLimit(%q) = %+v, want %+v (round trip)", got, back, tt.l)
		}
	}
}

func TestWindowValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		l     core.Limit
		field string // "" when valid
	}{
		{core.Window(20, time.Minute), ""},
		{core.Window(10_000, time.Hour), ""},
		{core.Window(10_001, time.Hour), "Rate"},
		{core.Window(20, time.Minute).WithBurst(5), "Burst"},
		{core.Window(1, time.Microsecond), "Period"},
		{core.Window(1, 1000500*time.Nanosecond), "Period"}, // 1.0005 ms is not whole µs
		{core.Window(1, 40*365*24*time.Hour), "Period"},
		{core.Limit{Rate: 1, Period: time.Second, Burst: 1, Algorithm: 7}, "Algorithm"},
	} {
		err := tc.l.Validate()
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%+v: %v", tc.l, err)
		case tc.field != "" && (!errors.Is(err, core.ErrInvalidLimit) || !strings.Contains(err.Error(), tc.field)):
			t.Errorf("%+v: error %v, want one naming %s", tc.l, err, tc.field)
		}
	}
	if l, err := core.ParseLimit("20/m window"); err != nil || l != core.Window(20, time.Minute) {
		t.Errorf(`ParseLimit("20/m window") = %+v, %v`, l, err)
	}
	if _, err := core.ParseLimit("20/m burst 5 window"); err == nil || !strings.Contains(err.Error(), "Burst") {
		t.Errorf(`ParseLimit("20/m burst 5 window") error %v, want one naming Burst`, err)
	}
}
