package setup_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/setup"
	"github.com/floodgate-go/floodgate/store"
)

func TestGuardFromLookup(t *testing.T) {
	t.Parallel()
	s, err := setup.GuardFromLookup(env(map[string]string{
		"FLOODGATE_LIMIT_MESSAGE": " 5/10s ", "FLOODGATE_LIMIT_CALLBACK": "20/10s", "FLOODGATE_LIMIT_COMMAND": "",
		"FLOODGATE_DEBOUNCE": "1500ms",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := setup.GuardSettings{Kinds: guard.KindLimits{Message: core.Limit{Rate: 5, Period: 10 * time.Second, Burst: 5},
		Callback: core.Limit{Rate: 20, Period: 10 * time.Second, Burst: 20}}, Debounce: 1500 * time.Millisecond}
	if s != want {
		t.Errorf("settings %+v, want %+v", s, want)
	}
	if got := s.String(); got != "message=5/10s callback=20/10s debounce=1.5s" {
		t.Errorf("String() = %q", got)
	}
	for _, off := range []string{"", "0", "off", "OFF"} {
		if s, err := setup.GuardFromLookup(env(map[string]string{"FLOODGATE_DEBOUNCE": off})); err != nil || s != (setup.GuardSettings{}) {
			t.Errorf("FLOODGATE_DEBOUNCE=%q: %+v, %v; want nothing set", off, s, err)
		}
	}
}

func TestGuardFromLookupErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, value string
		limit       bool
	}{
		{"FLOODGATE_LIMIT_MESSAGE", "lots", true},
		{"FLOODGATE_LIMIT_COMMAND", "0/s", true},
		{"FLOODGATE_LIMIT_CALLBACK", "20 per 10s", true},
		{"FLOODGATE_LIMIT_INLINE", "5/0s", true},
		{"FLOODGATE_DEBOUNCE", "soon", false},
		{"FLOODGATE_DEBOUNCE", "-2s", false},
		{"FLOODGATE_DEBOUNCE", "500us", false},
		{"FLOODGATE_DEBOUNCE", "2h", false},
	} {
		_, err := setup.GuardFromLookup(env(map[string]string{tc.name: tc.value}))
		if err == nil || !errors.Is(err, store.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.name) ||
			tc.limit && !errors.Is(err, core.ErrInvalidLimit) {
			t.Errorf("%s=%q: %v; want an invalid config error naming the variable", tc.name, tc.value, err)
		}
		// Open fails the same way, before it opens anything.
		if _, err := setup.Open(t.Context(), setup.Options{Lookup: env(map[string]string{tc.name: tc.value}), Logger: quiet}); err == nil ||
			!strings.Contains(err.Error(), tc.name) {
			t.Errorf("Open with %s=%q: %v; want an error naming the variable", tc.name, tc.value, err)
		}
	}
}

// Open applies the variables: button presses pass on their own budget
// while text is throttled, and a double tap is debounced. Options.Guard
// comes after them and wins.
func TestOpenKindsAndDebounce(t *testing.T) {
	t.Parallel()
	fg, err := setup.Open(t.Context(), setup.Options{Logger: quiet, Lookup: env(map[string]string{
		"FLOODGATE_LIMIT": "1/m", "FLOODGATE_LIMIT_CALLBACK": "20/10s", "FLOODGATE_DEBOUNCE": "2s"}),
		Guard: []guard.Option{guard.WithKindLimits(guard.KindLimits{Inline: core.PerMinute(2)})}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fg.Close() })
	if got := fg.GuardSettings.String(); got != "callback=20/10s debounce=2s" {
		t.Errorf("GuardSettings %q", got)
	}
	ctx := t.Context()
	if v := fg.Guard.Check(ctx, msg(1)); !v.Pass {
		t.Fatalf("first message: %+v", v)
	}
	if v := fg.Guard.Check(ctx, msg(1)); v.Pass || v.Reason != guard.ReasonLimited {
		t.Fatalf("second message: %+v, want limited by FLOODGATE_LIMIT", v)
	}
	for i := range 20 {
		cb := guard.Update{Kind: guard.KindCallbackQuery, UserID: 1, ChatID: 1, Payload: "page:" + string(rune('a'+i))}
		if v := fg.Guard.Check(ctx, cb); !v.Pass {
			t.Fatalf("press %d: %+v, want it passed on the callback budget", i, v)
		}
	}
	tap := guard.Update{Kind: guard.KindCallbackQuery, UserID: 2, ChatID: 2, Payload: "buy"}
	if v := fg.Guard.Check(ctx, tap); !v.Pass {
		t.Fatalf("tap: %+v", v)
	}
	if v := fg.Guard.Check(ctx, tap); v.Reason != guard.ReasonDebounced {
		t.Fatalf("double tap: %+v, want debounced", v)
	}
	inline := guard.Update{Kind: guard.KindInlineQuery, UserID: 3}
	for i, want := range []bool{true, true, false} {
		if v := fg.Guard.Check(ctx, inline); v.Pass != want {
			t.Fatalf("inline query %d: %+v, want pass=%v (Options.Guard's 2/m)", i, v, want)
		}
	}
}
