package outbound

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
)

// throttledMethod reports whether the throttle paces method (case-insensitive, as
// Telegram's method names are): the methods that put a message in a chat or
// change one there. They are every send* method except sendChatAction,
// copyMessage(s) and forwardMessage(s), the editMessage* methods,
// stopMessageLiveLocation and stopPoll. Everything else (getUpdates,
// getMe, answerCallbackQuery, answerInlineQuery, setWebhook, deleteMessage,
// get*, set*, ...) passes without delay; a 429 on it is still retried.
func throttledMethod(method string) bool {
	m := strings.ToLower(method)
	switch m {
	case "sendchataction":
		return false
	case "copymessage", "copymessages", "forwardmessage", "forwardmessages",
		"stopmessagelivelocation", "stoppoll":
		return true
	}
	return strings.HasPrefix(m, "send") || strings.HasPrefix(m, "editmessage")
}

// chatKind is the lane a chat_id falls in.
type chatKind uint8

const (
	// noChat: the request names no chat (an inline message edit, a missing
	// or malformed chat_id). Only the global (or paid) lane applies.
	noChat chatKind = iota
	// privateChat: a positive chat_id, a user's private chat with the bot.
	privateChat
	// groupChat: a negative chat_id (a group, supergroup or channel) or a
	// public @username (which only groups and channels have as a chat_id).
	groupChat
)

// chatOf classifies a chat_id as Telegram receives it (JSON numbers and
// strings alike) and returns the key part for its lane: the decimal id,
// or "@" and the lower-cased username. Usernames are 4 to 32 characters
// from [A-Za-z0-9_]; anything else is noChat, so no text a user could type
// reaches a key unchecked.
func chatOf(raw string) (chatKind, string) {
	if raw == "" {
		return noChat, ""
	}
	if id, err := strconv.ParseInt(raw, 10, 64); err == nil {
		switch {
		case id > 0:
			return privateChat, strconv.FormatInt(id, 10)
		case id < 0:
			return groupChat, strconv.FormatInt(id, 10)
		}
		return noChat, ""
	}
	name, ok := strings.CutPrefix(raw, "@")
	if !ok || len(name) < 4 || len(name) > 32 {
		return noChat, ""
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return noChat, ""
		}
	}
	return groupChat, "@" + strings.ToLower(name)
}

// endpoint is what a Bot API URL says: the bot id and the method.
type endpoint struct {
	bot    string // decimal bot id, "" when the URL carries no token
	method string
	api    bool // a /bot<token>/<method> call (not a /file/bot<token>/ download)
}

// parseEndpoint reads https://host[/base]/bot<id>:<secret>[/test]/<method>.
// The token never leaves this function except for the id before the colon.
func parseEndpoint(path string) endpoint {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i, s := range segs {
		tok, ok := strings.CutPrefix(s, "bot")
		if !ok {
			continue
		}
		id, _, hasColon := strings.Cut(tok, ":")
		if !hasColon || id == "" || strings.Trim(id, "0123456789") != "" {
			continue
		}
		if i > 0 && segs[i-1] == "file" || i == len(segs)-1 {
			return endpoint{}
		}
		return endpoint{bot: strings.TrimLeft(id, "0"), method: segs[len(segs)-1], api: true}
	}
	return endpoint{}
}

// params are the parameters the throttle reads from a request.
type params struct {
	chat string // chat_id as text, "" when absent
	paid bool   // allow_paid_broadcast
}

func (p *params) set(name, value string) {
	switch name {
	case "chat_id":
		p.chat = value
	case "allow_paid_broadcast":
		p.paid, _ = strconv.ParseBool(value)
	}
}

// fromQuery fills p from URL query or form values; present values win.
func (p *params) fromValues(v url.Values) {
	for _, name := range []string{"chat_id", "allow_paid_broadcast"} {
		if vs, ok := v[name]; ok && len(vs) > 0 {
			p.set(name, vs[0])
		}
	}
}

// fromJSON fills p from a JSON object body. A body that is not a JSON
// object (telebot sends null for no parameters) leaves p unchanged.
func (p *params) fromJSON(b []byte) {
	var obj struct {
		Chat json.RawMessage `json:"chat_id"`
		Paid json.RawMessage `json:"allow_paid_broadcast"`
	}
	if json.Unmarshal(b, &obj) != nil {
		return
	}
	for name, raw := range map[string]json.RawMessage{"chat_id": obj.Chat, "allow_paid_broadcast": obj.Paid} {
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		if raw[0] == '"' {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				p.set(name, s)
			}
			continue
		}
		p.set(name, string(raw))
	}
}
