package botname

import (
	"errors"
	"testing"
)

func TestNamesBot(t *testing.T) {
	for text, want := range map[string]bool{
		"/report@OtherBot":      true,
		"/report@MyBot now":     true,
		"/report@MyBot\nnow":    true,
		"/report now @someone":  false, // the @ is in the arguments
		"/report\t@someone":     false,
		"/report":               false,
		"hello @OtherBot":       false, // not a command
		"/@OtherBot":            false, // no command word
		"":                      false,
		"/Report@Other_Bot xyz": true,
	} {
		if got := NamesBot(text); got != want {
			t.Errorf("NamesBot(%q) = %v, want %v", text, got, want)
		}
	}
}

func TestCache(t *testing.T) {
	var c Cache[int]
	asked := 0
	fail := func() (string, error) { asked++; return "", errors.New("getMe failed") }
	ok := func() (string, error) { asked++; return "my_bot", nil }
	if got := c.Of(1, fail); got != "" {
		t.Errorf("after a failed ask: %q, want \"\"", got)
	}
	if got := c.Of(1, ok); got != "my_bot" { // asked again: the failure was not remembered
		t.Errorf("Of = %q, want my_bot", got)
	}
	if got := c.Of(1, fail); got != "my_bot" || asked != 2 {
		t.Errorf("Of = %q after %d asks, want my_bot remembered after 2", got, asked)
	}
	if got := c.Of(2, func() (string, error) { return "other_bot", nil }); got != "other_bot" {
		t.Errorf("another bot: %q, want other_bot", got)
	}
}
