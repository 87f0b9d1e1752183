package main

// These tests run the bot against telegramtest, floodgate's fake Bot API
// server: no token, no network. They need nothing from the floodgate
// repository but its public packages, so they keep working in a copy of
// this directory.

import (
	"testing"

	"github.com/floodgate-go/floodgate/telegramtest/startertest"
)

// TestStarter runs the starters' conformance suite: configuration errors,
// polling, webhook mode, a flood, a 409 Conflict (see startertest.Run).
func TestStarter(t *testing.T) {
	startertest.Run(t, startertest.Starter{Run: run, Framework: "gotgbot"})
}
