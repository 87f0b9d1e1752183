package gotelegramlimit_test

import (
	"testing"

	"github.com/floodgate-go/floodgate/internal/adaptertest"
)

// TestAlbumsCommandsLanguages runs real go-telegram/bot updates through the
// middleware: an album counts once, the notice speaks the sender's
// language, and /report@OtherBot is not this bot's command (the username
// asked with getMe once: go-telegram/bot does not keep it).
func TestAlbumsCommandsLanguages(t *testing.T) {
	t.Parallel()
	adaptertest.RunAlbumsCommandsLanguages(t, process)
}
