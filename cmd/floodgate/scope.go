package main

import (
	"strconv"
	"strings"

	"github.com/floodgate-go/floodgate/core"
)

// scopeSyntax is how the usage text and errors describe a scope argument.
const scopeSyntax = "user:42 (or 42), chat:-100123 (or -100123), user:42@chat:-100123, sender:-100123, global, " +
	"or a whole key such as floodgate:{u:42}:msg"

// target is what status and reset work on: a scope, and, when the
// argument was a whole key, that key (whose prefix, rule and algorithm
// must then be the ones the command uses).
type target struct {
	scope core.Scope
	key   string // "" unless given as a key
}

// parseTarget reads a scope argument (see scopeSyntax): a kind and an id
// in words or as a key writes it (u:42, c:-100123, uc:42:-100123,
// s:-100123, g, with or without braces), a bare id (positive: a user;
// negative: a chat, as Telegram numbers groups and channels), or a whole
// key, recognised by its braces after a prefix.
func parseTarget(s string) (target, error) {
	if i := strings.Index(s, "{"); i > 0 {
		j := strings.Index(s[i:], "}")
		if j < 0 {
			return target{}, usagef("bad key %s: no } closes the scope; want e.g. floodgate:{u:42}:msg", quote(s))
		}
		sc, err := parseScope(s[i+1 : i+j])
		if err != nil {
			return target{}, usagef("bad key %s: %v", quote(s), err)
		}
		return target{scope: sc, key: s}, nil
	}
	sc, err := parseScope(strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}"))
	return target{scope: sc}, err
}

// parseScope reads a scope without braces.
func parseScope(s string) (core.Scope, error) {
	bad := func() (core.Scope, error) {
		return core.Scope{}, usagef("bad scope %s: want %s", quote(s), scopeSyntax)
	}
	id := func(v string, what string, positive bool) (int64, error) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n == 0 || positive && n < 0 {
			want := "a non-zero chat id such as -100123"
			if positive {
				want = "a positive Telegram user id such as 123456789"
			}
			return 0, usagef("bad %s id %s: want %s", what, quote(v), want)
		}
		return n, nil
	}
	switch s {
	case "global", "g":
		return core.Global(), nil
	}
	if u, c, ok := strings.Cut(s, "@"); ok { // user:42@chat:-100123, 42@-100123
		u = strings.TrimPrefix(strings.TrimPrefix(u, "user:"), "u:")
		c = strings.TrimPrefix(strings.TrimPrefix(c, "chat:"), "c:")
		uid, err := id(u, "user", true)
		if err != nil {
			return core.Scope{}, err
		}
		cid, err := id(c, "chat", false)
		if err != nil {
			return core.Scope{}, err
		}
		return core.UserInChat(uid, cid), nil
	}
	kind, v, ok := strings.Cut(s, ":")
	if !ok { // a bare id
		if strings.HasPrefix(s, "-") {
			cid, err := id(s, "chat", false)
			return core.Chat(cid), err
		}
		uid, err := id(s, "user", true)
		return core.User(uid), err
	}
	switch kind {
	case "user", "u":
		uid, err := id(v, "user", true)
		return core.User(uid), err
	case "chat", "c":
		cid, err := id(v, "chat", false)
		return core.Chat(cid), err
	case "sender", "sender-chat", "s":
		cid, err := id(v, "sender chat", false)
		return core.SenderChat(cid), err
	case "uc":
		u, c, ok := strings.Cut(v, ":")
		if !ok {
			return bad()
		}
		return parseScope(u + "@" + c)
	}
	return bad()
}

// looksNegative reports whether arg is a negative id (or starts a
// user-in-chat id with one), an argument rather than a flag.
func looksNegative(arg string) bool {
	return len(arg) > 1 && arg[0] == '-' && '0' <= arg[1] && arg[1] <= '9'
}

// scopeKinds are the values of top's -scope and the SCAN pattern of each:
// what goes between the braces of a key.
var scopeKinds = map[string]string{
	"user": "u:*", "chat": "c:*", "user-in-chat": "uc:*", "sender": "s:*", "global": "g",
}

// quote returns s as it is when it is printable ASCII without spaces,
// and otherwise quoted with every other byte escaped, so a key name can
// neither hide in the output nor drive the operator's terminal.
func quote(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' || s[i] == '"' {
			return strconv.QuoteToASCII(s)
		}
	}
	if s == "" {
		return `""`
	}
	return s
}
