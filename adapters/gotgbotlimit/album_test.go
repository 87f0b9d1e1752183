package gotgbotlimit_test

import (
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/adaptertest"
	"github.com/floodgate-go/floodgate/internal/testutil"
	"github.com/floodgate-go/floodgate/store/memorystore"
	"github.com/floodgate-go/floodgate/telegramtest"
)

// TestAlbumsCommandsLanguages runs real gotgbot updates through the
// processor: an album counts once, the notice speaks the sender's
// language, and /report@OtherBot is not this bot's command (a bot built
// with DisableTokenCheck has its username asked with getMe once).
func TestAlbumsCommandsLanguages(t *testing.T) {
	t.Parallel()
	adaptertest.RunAlbumsCommandsLanguages(t, process)
}

// TestKnownUsername: a bot whose username NewBot's getMe filled is not
// asked again, and its username tells commands for other bots apart.
func TestKnownUsername(t *testing.T) {
	t.Parallel()
	api := telegramtest.Start(t)
	st := memorystore.New(memorystore.WithClock(testutil.NewClock().Now))
	t.Cleanup(func() { _ = st.Close() })
	g := newGuard(t, st, core.PerMinute(100), guard.WithCommandLimit("/report", core.Every(time.Hour)))
	b := newBot(t, api.URL())
	b.Username = telegramtest.DefaultBotUsername // as NewBot's getMe would
	process := processBot(t, g, b)
	passed := 0
	for _, text := range []string{"/report@OtherBot", "/report@OtherBot", "/report@" + telegramtest.DefaultBotUsername, "/report"} {
		if process(telegramtest.Message(6, -100, "supergroup", text)) {
			passed++
		}
	}
	settle(t, g)
	if passed != 3 {
		t.Errorf("passed %d of /report@OtherBot ×2, /report@%s, /report; want 3 (the last one over the command's limit)",
			passed, telegramtest.DefaultBotUsername)
	}
	if n := len(api.CallsTo("getMe")); n != 0 {
		t.Errorf("getMe called %d times for a bot whose username is known, want none", n)
	}
}
