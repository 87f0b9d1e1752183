// Package botname helps the adapters whose framework does not keep the
// bot's username (go-telegram/bot, gotgbot without getMe) tell a command
// addressed to another bot (/cmd@OtherBot) apart, asking getMe only when a
// command names a bot, once per bot.
package botname

import (
	"strings"
	"sync"

	"github.com/floodgate-go/floodgate/guard"
)

// NamesBot reports whether text is a command that names a bot
// ("/report@SomeBot now"): only then does the bot's username change what
// guard.CommandTo returns.
func NamesBot(text string) bool {
	if guard.CommandOf(text) == "" {
		return false
	}
	word := text
	if i := strings.IndexAny(word, " \t\n"); i >= 0 {
		word = word[:i]
	}
	return strings.Contains(word, "@")
}

// Cache remembers the username of each bot B it was asked about. Its zero
// value is ready to use; it is safe for concurrent use.
type Cache[B comparable] struct{ m sync.Map } // B → string

// Of returns b's username: the one remembered, or else ask's answer,
// remembered when ask succeeds. It returns "" (username not known: every
// @botname is accepted) when ask fails, and asks again next time.
// Concurrent first calls for one bot may each ask.
func (c *Cache[B]) Of(b B, ask func() (string, error)) string {
	if name, ok := c.m.Load(b); ok {
		return name.(string)
	}
	name, err := ask()
	if err != nil {
		return ""
	}
	c.m.Store(b, name)
	return name
}
