package core

import "strconv"

// Scope is what a limit counts against: one user, one chat, one user within
// one chat, or the whole bot. It is a small comparable value; build it with
// User, Chat, UserInChat or Global. The zero Scope is Global.
//
// A Scope becomes the hash-tagged middle of a store key, e.g. {u:123456789},
// so all rules of one scope land on the same Redis Cluster slot. Only numeric
// ids and fixed letters enter a key; nothing a user typed does.
type Scope struct {
	kind       scopeKind
	user, chat int64
}

type scopeKind uint8

const (
	scopeGlobal scopeKind = iota
	scopeUser
	scopeChat
	scopeUserInChat
	scopeSenderChat
)

// User returns the scope of one Telegram user.
func User(id int64) Scope { return Scope{kind: scopeUser, user: id} }

// Chat returns the scope of one chat: everyone in it shares the limit.
func Chat(id int64) Scope { return Scope{kind: scopeChat, chat: id} }

// UserInChat returns the scope of one user within one chat: the same user
// has separate budgets in different groups.
func UserInChat(userID, chatID int64) Scope {
	return Scope{kind: scopeUserInChat, user: userID, chat: chatID}
}

// SenderChat returns the scope of a chat that posts on its own behalf: a
// channel, or a group whose admins post anonymously. It is kept apart from
// Chat, which counts everything in a chat.
func SenderChat(id int64) Scope { return Scope{kind: scopeSenderChat, chat: id} }

// Global returns the scope shared by every update the bot receives.
func Global() Scope { return Scope{} }

// String returns the scope as it appears inside a key: "u:42", "c:-100123",
// "uc:42:-100123", "s:-100123" or "g".
func (s Scope) String() string { return string(s.appendTo(nil)) }

func (s Scope) appendTo(b []byte) []byte {
	switch s.kind {
	case scopeUser:
		b = append(b, "u:"...)
		return strconv.AppendInt(b, s.user, 10)
	case scopeChat:
		b = append(b, "c:"...)
		return strconv.AppendInt(b, s.chat, 10)
	case scopeUserInChat:
		b = append(b, "uc:"...)
		b = strconv.AppendInt(b, s.user, 10)
		b = append(b, ':')
		return strconv.AppendInt(b, s.chat, 10)
	case scopeSenderChat:
		b = append(b, "s:"...)
		return strconv.AppendInt(b, s.chat, 10)
	default:
		return append(b, 'g')
	}
}
