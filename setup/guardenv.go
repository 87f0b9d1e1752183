package setup

import (
	"fmt"
	"strings"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/store"
)

// The variables that set the Guard's budgets per kind of update
// (guard.WithKindLimits) and its debounce window (guard.WithDebounce).
// Each limit is written as FLOODGATE_LIMIT is (core.ParseLimit); unset or
// empty leaves that kind on FLOODGATE_LIMIT, the shared budget.
const (
	envLimitMessage  = "FLOODGATE_LIMIT_MESSAGE"
	envLimitCommand  = "FLOODGATE_LIMIT_COMMAND"
	envLimitCallback = "FLOODGATE_LIMIT_CALLBACK"
	envLimitInline   = "FLOODGATE_LIMIT_INLINE"
	envDebounce      = "FLOODGATE_DEBOUNCE"
)

// GuardSettings are the Guard settings read from the environment.
type GuardSettings struct {
	// Kinds are the budgets per kind of update (FLOODGATE_LIMIT_MESSAGE,
	// FLOODGATE_LIMIT_COMMAND, FLOODGATE_LIMIT_CALLBACK,
	// FLOODGATE_LIMIT_INLINE); a zero field: the shared budget.
	Kinds guard.KindLimits
	// Debounce is the debounce window (FLOODGATE_DEBOUNCE); 0: off.
	Debounce time.Duration
}

// String describes s in one line, e.g. "callback=20/10s debounce=2s", or
// "" when nothing is set.
func (s GuardSettings) String() string {
	var parts []string
	for _, k := range []struct {
		name string
		l    core.Limit
	}{{"message", s.Kinds.Message}, {"command", s.Kinds.Command}, {"callback", s.Kinds.Callback}, {"inline", s.Kinds.Inline}} {
		if k.l != (core.Limit{}) {
			parts = append(parts, k.name+"="+k.l.String())
		}
	}
	if s.Debounce > 0 {
		parts = append(parts, "debounce="+s.Debounce.String())
	}
	return strings.Join(parts, " ")
}

// options returns the guard options s stands for.
func (s GuardSettings) options() []guard.Option {
	return []guard.Option{guard.WithKindLimits(s.Kinds), guard.WithDebounce(s.Debounce)}
}

// GuardFromLookup reads the Guard settings from the variables lookup
// returns (os.LookupEnv, or a map in tests):
//
//	FLOODGATE_LIMIT_MESSAGE   messages that are not commands, e.g. 5/10s
//	FLOODGATE_LIMIT_COMMAND   bot commands (default: as messages)
//	FLOODGATE_LIMIT_CALLBACK  callback queries (button presses), e.g. 20/10s
//	FLOODGATE_LIMIT_INLINE    inline queries
//	FLOODGATE_DEBOUNCE        drop a repeated tap or message within this
//	                          window, e.g. 2s; 0 or off: no debounce (default)
//
// A kind whose variable is unset or empty counts against FLOODGATE_LIMIT.
// An error wraps store.ErrInvalidConfig and names the variable at fault
// (for a limit it also wraps core.ErrInvalidLimit). Open calls it.
func GuardFromLookup(lookup func(string) (string, bool)) (GuardSettings, error) {
	var s GuardSettings
	for _, v := range []struct {
		name string
		l    *core.Limit
	}{{envLimitMessage, &s.Kinds.Message}, {envLimitCommand, &s.Kinds.Command},
		{envLimitCallback, &s.Kinds.Callback}, {envLimitInline, &s.Kinds.Inline}} {
		text, ok := lookup(v.name)
		if text = strings.TrimSpace(text); !ok || text == "" {
			continue
		}
		l, err := core.ParseLimit(text)
		if err != nil {
			return GuardSettings{}, fmt.Errorf("setup: %w: %s: %w", store.ErrInvalidConfig, v.name, err)
		}
		*v.l = l
	}
	text, _ := lookup(envDebounce)
	switch text = strings.TrimSpace(text); strings.ToLower(text) {
	case "", "0", "off":
		return s, nil
	}
	d, err := time.ParseDuration(text)
	if err == nil && d > 0 {
		err = core.Every(d).Validate() // at least 1 ms, whole microseconds
	} else if err == nil {
		err = fmt.Errorf("want a positive duration")
	}
	if err == nil && d > guard.MaxDebounce {
		err = fmt.Errorf("at most %v", guard.MaxDebounce)
	}
	if err != nil {
		return GuardSettings{}, fmt.Errorf("setup: %w: %s: %q: %w (e.g. 2s, or off)", store.ErrInvalidConfig, envDebounce, text, err)
	}
	s.Debounce = d
	return s, nil
}
