package guard

import "strings"

// Kind is the kind of a Telegram update: which optional field of the Update
// object is set. The zero Kind is KindOther.
type Kind uint8

// The update kinds adapters tell apart. Anything else is KindOther.
const (
	KindOther Kind = iota
	KindMessage
	KindEditedMessage
	KindChannelPost
	KindEditedChannelPost
	KindBusinessMessage
	KindCallbackQuery
	KindInlineQuery
	KindChosenInlineResult
	KindShippingQuery
	KindPreCheckoutQuery
	KindPoll
	KindPollAnswer
	KindMyChatMember
	KindChatMember
	KindChatJoinRequest
	KindMessageReaction
)

var kindNames = [...]string{
	KindOther: "other", KindMessage: "message", KindEditedMessage: "edited_message",
	KindChannelPost: "channel_post", KindEditedChannelPost: "edited_channel_post",
	KindBusinessMessage: "business_message", KindCallbackQuery: "callback_query",
	KindInlineQuery: "inline_query", KindChosenInlineResult: "chosen_inline_result",
	KindShippingQuery: "shipping_query", KindPreCheckoutQuery: "pre_checkout_query",
	KindPoll: "poll", KindPollAnswer: "poll_answer", KindMyChatMember: "my_chat_member",
	KindChatMember: "chat_member", KindChatJoinRequest: "chat_join_request",
	KindMessageReaction: "message_reaction",
}

// String returns the Bot API field name of the kind, e.g. "callback_query".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "other"
}

// carriesMessage reports whether updates of this kind are messages a bot
// may answer in their chat (so a "slow down" notice makes sense there).
func (k Kind) carriesMessage() bool {
	return k == KindMessage || k == KindEditedMessage || k == KindBusinessMessage
}

// Update is the little an adapter tells a Guard about a framework's update.
// Every field may be absent (zero): channel posts have no user, inline
// queries have no chat, polls have neither. Telegram never uses 0 as an id.
type Update struct {
	// Kind is which kind of update this is.
	Kind Kind
	// UserID is the sender's user id (from.id), 0 if none.
	UserID int64
	// ChatID is the id of the chat the update belongs to, 0 if none.
	ChatID int64
	// ChatType is "private", "group", "supergroup" or "channel"; "" if
	// there is no chat.
	ChatType string
	// SenderChatID is the chat a message was sent on behalf of (channel
	// posts, anonymous group admins, linked-channel forwards), 0 if none.
	// Such messages come from shared service accounts, so ByUser keys them
	// by this id instead of UserID.
	SenderChatID int64
	// Command is the bot command the message starts with, lower case,
	// without "@botname" (see CommandTo); "" if none, and "" for a command
	// addressed to another bot.
	Command string
	// LanguageCode is the sender's IETF language tag as Telegram reports
	// it (from.language_code, e.g. "en", "ru", "pt-br"); "" if unknown. The
	// notice and callback texts can use it (WithNotice, WithCallbackText).
	LanguageCode string
	// MediaGroupID is the media_group_id of a message that is one item of
	// an album; "" otherwise. The items of one album from one sender are
	// one event for the Guard (see WithAlbums).
	MediaGroupID string
	// Payload is what WithDebounce compares: a message's text or caption
	// (see MessagePayload), or a callback query's data; "" if none, and
	// then the update is never debounced.
	Payload string
}

// MessagePayload returns the Payload of a message with this text, caption
// and media_group_id: the text, or else the caption. An item of an album
// (a media_group_id) has none: the album's items are parts of one message,
// and taking a resent album's captioned item for a duplicate would hand
// the bot the album without it.
func MessagePayload(text, caption, mediaGroupID string) string {
	switch {
	case mediaGroupID != "":
		return ""
	case text != "":
		return text
	}
	return caption
}

// CommandOf returns the bot command a message text starts with, as a Guard
// matches it, addressed to any bot: "/Report@MyBot now" gives "/report".
// It returns "" when the text is not a command. It is CommandTo(text, "").
func CommandOf(text string) string { return CommandTo(text, "") }

// CommandTo returns the bot command a message text starts with, lower
// case and without "@botname", when the command is addressed to the bot
// whose username is botUsername: "/Report now" and "/report@MyBot now"
// give "/report" for botUsername "MyBot" (the comparison ignores case and
// a leading "@"). A command for another bot, "/report@OtherBot", gives "":
// in a group it is that bot's command, not this one's. With botUsername ""
// (not known) every "@botname" is accepted. It returns "" when the text is
// not a command.
func CommandTo(text, botUsername string) string {
	if len(text) < 2 || text[0] != '/' {
		return ""
	}
	end := strings.IndexAny(text, " \t\n@")
	if end < 0 {
		end = len(text)
	}
	if end < 2 {
		return ""
	}
	if end < len(text) && text[end] == '@' && botUsername != "" {
		to := text[end+1:]
		if i := strings.IndexAny(to, " \t\n"); i >= 0 {
			to = to[:i]
		}
		if !strings.EqualFold(to, strings.TrimPrefix(botUsername, "@")) {
			return ""
		}
	}
	return strings.ToLower(text[:end])
}
