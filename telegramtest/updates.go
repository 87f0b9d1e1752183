package telegramtest

import (
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf16"
)

// builtIDs numbers the message ids, query ids and dates of built updates.
var builtIDs atomic.Int64

func nextBuiltID() int64 { return builtIDs.Add(1) }

func userJSON(id int64) map[string]any {
	return map[string]any{"id": id, "is_bot": false, "first_name": "User" + strconv.FormatInt(id, 10),
		"username": "user" + strconv.FormatInt(id, 10), "language_code": "en"}
}

func chatJSON(id int64, typ string) map[string]any {
	if typ == "" {
		typ = chatTypeOf(id)
	}
	c := map[string]any{"id": id, "type": typ}
	if typ == "private" {
		c["first_name"] = "User" + strconv.FormatInt(id, 10)
	} else {
		c["title"] = "Chat " + strconv.FormatInt(id, 10)
	}
	return c
}

// messageJSON is a message in chat with text; a leading /command gets its
// bot_command entity, which frameworks use to detect commands.
func messageJSON(chat map[string]any, text string) map[string]any {
	m := map[string]any{"message_id": nextBuiltID(), "date": time.Now().Unix(), "chat": chat, "text": text}
	if strings.HasPrefix(text, "/") {
		cmd, _, _ := strings.Cut(text, " ")
		m["entities"] = []map[string]any{{"type": "bot_command", "offset": 0,
			"length": len(utf16.Encode([]rune(cmd)))}}
	}
	return m
}

// Message builds a "message" update from user userID in chat chatID of
// type chatType ("private", "group", "supergroup"; "" guesses from the id:
// positive private, -100… with 13 digits (≤ -1000000000000) supergroup,
// other negative group). A text
// starting with "/" carries a bot_command entity, as Telegram sends it.
func Message(userID, chatID int64, chatType, text string) map[string]any {
	m := messageJSON(chatJSON(chatID, chatType), text)
	m["from"] = userJSON(userID)
	return map[string]any{"message": m}
}

// MessageWithoutFrom builds a "message" update in chatID with neither
// "from" nor "sender_chat", a shape adapters must survive.
func MessageWithoutFrom(chatID int64, text string) map[string]any {
	return map[string]any{"message": messageJSON(chatJSON(chatID, ""), text)}
}

// CallbackQuery builds a "callback_query" update: user userID pressed a
// button carrying data under a message the bot sent in chatID (type
// guessed from the id, see Message; the message's "from" is the default bot
// identity, DefaultBotID).
func CallbackQuery(userID, chatID int64, data string) map[string]any {
	msg := messageJSON(chatJSON(chatID, ""), "Choose:")
	msg["from"] = map[string]any{"id": DefaultBotID, "is_bot": true, "first_name": DefaultBotFirstName,
		"username": DefaultBotUsername}
	id := nextBuiltID()
	return map[string]any{"callback_query": map[string]any{
		"id": strconv.FormatInt(id, 10), "from": userJSON(userID), "message": msg,
		"chat_instance": strconv.FormatInt(chatID, 10) + "-" + strconv.FormatInt(id, 10), "data": data,
	}}
}

// InlineQuery builds an "inline_query" update: user userID typed query
// after the bot's name. An inline query has no chat.
func InlineQuery(userID int64, query string) map[string]any {
	return map[string]any{"inline_query": map[string]any{
		"id": strconv.FormatInt(nextBuiltID(), 10), "from": userJSON(userID), "query": query, "offset": "",
	}}
}

// ChannelPost builds a "channel_post" update in channel chatID: it has no
// "from"; sender_chat is the channel itself.
func ChannelPost(chatID int64, text string) map[string]any {
	ch := chatJSON(chatID, "channel")
	m := messageJSON(ch, text)
	m["sender_chat"] = ch
	return map[string]any{"channel_post": m}
}

// AnonymousAdminMessage builds a "message" update posted by an anonymous
// administrator of supergroup groupID: "from" is GroupAnonymousBot
// (GroupAnonymousBotID) and "sender_chat" is the group.
func AnonymousAdminMessage(groupID int64, text string) map[string]any {
	g := chatJSON(groupID, "supergroup")
	m := messageJSON(g, text)
	m["from"] = map[string]any{"id": GroupAnonymousBotID, "is_bot": true, "first_name": "Group",
		"username": "GroupAnonymousBot"}
	m["sender_chat"] = g
	return map[string]any{"message": m}
}

// UnknownUpdate builds an update of a kind no framework knows (kind, e.g.
// "future_kind"), with a small object as its payload.
func UnknownUpdate(kind string) map[string]any {
	return map[string]any{kind: map[string]any{"id": nextBuiltID()}}
}

// EditedMessage builds an "edited_message" update: user userID edited a
// message in chat chatID (chatType as in Message) to text.
func EditedMessage(userID, chatID int64, chatType, text string) map[string]any {
	m := Message(userID, chatID, chatType, text)["message"].(map[string]any)
	m["edit_date"] = time.Now().Unix()
	return map[string]any{"edited_message": m}
}

// EditedChannelPost builds an "edited_channel_post" update in channel
// chatID (no "from"; sender_chat is the channel).
func EditedChannelPost(chatID int64, text string) map[string]any {
	m := ChannelPost(chatID, text)["channel_post"].(map[string]any)
	m["edit_date"] = time.Now().Unix()
	return map[string]any{"edited_channel_post": m}
}

// BusinessMessage builds a "business_message" update: user userID wrote
// text in the private chat chatID of a business account connected to the
// bot through connectionID.
func BusinessMessage(connectionID string, userID, chatID int64, text string) map[string]any {
	m := Message(userID, chatID, "private", text)["message"].(map[string]any)
	m["business_connection_id"] = connectionID
	return map[string]any{"business_message": m}
}

// EditedBusinessMessage builds an "edited_business_message" update, the
// edit of a BusinessMessage.
func EditedBusinessMessage(connectionID string, userID, chatID int64, text string) map[string]any {
	m := BusinessMessage(connectionID, userID, chatID, text)["business_message"].(map[string]any)
	m["edit_date"] = time.Now().Unix()
	return map[string]any{"edited_business_message": m}
}

// BusinessConnection builds a "business_connection" update: business
// account userID connected the bot (connection connectionID). It has no
// chat, and Telegram sends no "from" (the account is in "user").
func BusinessConnection(userID int64, connectionID string) map[string]any {
	return map[string]any{"business_connection": map[string]any{
		"id": connectionID, "user": userJSON(userID), "user_chat_id": userID, "date": time.Now().Unix(),
		"is_enabled": true,
	}}
}

// DeletedBusinessMessages builds a "deleted_business_messages" update:
// messages were deleted from chatID of the business account connected
// through connectionID. It has no sender.
func DeletedBusinessMessages(connectionID string, chatID int64, messageIDs ...int64) map[string]any {
	if messageIDs == nil {
		messageIDs = []int64{}
	}
	return map[string]any{"deleted_business_messages": map[string]any{
		"business_connection_id": connectionID, "chat": chatJSON(chatID, "private"), "message_ids": messageIDs,
	}}
}

// ChosenInlineResult builds a "chosen_inline_result" update: user userID
// picked result resultID of an inline query. It has no chat.
func ChosenInlineResult(userID int64, resultID, query string) map[string]any {
	return map[string]any{"chosen_inline_result": map[string]any{
		"result_id": resultID, "from": userJSON(userID), "query": query,
	}}
}

// ShippingQuery builds a "shipping_query" update from user userID for an
// invoice with payload.
func ShippingQuery(userID int64, payload string) map[string]any {
	return map[string]any{"shipping_query": map[string]any{
		"id": strconv.FormatInt(nextBuiltID(), 10), "from": userJSON(userID), "invoice_payload": payload,
		"shipping_address": map[string]any{"country_code": "NL", "state": "", "city": "Amsterdam",
			"street_line1": "Dam 1", "street_line2": "", "post_code": "1012"},
	}}
}

// PreCheckoutQuery builds a "pre_checkout_query" update: user userID is
// about to pay 100 XTR for an invoice with payload. A bot must answer it
// within 10 seconds or Telegram cancels the payment.
func PreCheckoutQuery(userID int64, payload string) map[string]any {
	return map[string]any{"pre_checkout_query": map[string]any{
		"id": strconv.FormatInt(nextBuiltID(), 10), "from": userJSON(userID), "currency": "XTR",
		"total_amount": 100, "invoice_payload": payload,
	}}
}

// PurchasedPaidMedia builds a "purchased_paid_media" update: user userID
// bought paid media with payload. It has no chat.
func PurchasedPaidMedia(userID int64, payload string) map[string]any {
	return map[string]any{"purchased_paid_media": map[string]any{"from": userJSON(userID), "paid_media_payload": payload}}
}

// Poll builds a "poll" update: the state of poll pollID (two options, no
// votes) changed. A poll update has neither a sender nor a chat.
func Poll(pollID, question string) map[string]any {
	return map[string]any{"poll": map[string]any{
		"id": pollID, "question": question,
		"options":           []map[string]any{{"text": "yes", "voter_count": 0}, {"text": "no", "voter_count": 0}},
		"total_voter_count": 0, "is_closed": false, "is_anonymous": false, "type": "regular",
		"allows_multiple_answers": false,
	}}
}

// PollAnswer builds a "poll_answer" update: user userID chose options of
// the non-anonymous poll pollID (no options: the vote was retracted).
func PollAnswer(userID int64, pollID string, options ...int) map[string]any {
	if options == nil {
		options = []int{}
	}
	return map[string]any{"poll_answer": map[string]any{"poll_id": pollID, "user": userJSON(userID), "option_ids": options}}
}

// PollAnswerByChat builds a "poll_answer" update cast on behalf of chat
// voterChatID (an anonymous admin or a channel): "voter_chat" is set and
// "user" is GroupAnonymousBot or the channel bot, as Telegram sends it.
func PollAnswerByChat(voterChatID int64, pollID string, options ...int) map[string]any {
	u := PollAnswer(GroupAnonymousBotID, pollID, options...)
	a := u["poll_answer"].(map[string]any)
	a["voter_chat"] = chatJSON(voterChatID, "")
	a["user"] = map[string]any{"id": GroupAnonymousBotID, "is_bot": true, "first_name": "Group", "username": "GroupAnonymousBot"}
	return u
}

func memberJSON(userID int64, status string) map[string]any {
	m := map[string]any{"status": status, "user": userJSON(userID)}
	if status == "restricted" || status == "kicked" {
		m["until_date"] = 0
	}
	return m
}

// MyChatMember builds a "my_chat_member" update: user userID changed the
// bot's status in chat chatID from oldStatus to newStatus ("member",
// "left", "kicked", "administrator", ...).
func MyChatMember(userID, chatID int64, oldStatus, newStatus string) map[string]any {
	bot := map[string]any{"id": DefaultBotID, "is_bot": true, "first_name": DefaultBotFirstName, "username": DefaultBotUsername}
	old, cur := map[string]any{"status": oldStatus, "user": bot}, map[string]any{"status": newStatus, "user": bot}
	return map[string]any{"my_chat_member": map[string]any{
		"chat": chatJSON(chatID, ""), "from": userJSON(userID), "date": time.Now().Unix(),
		"old_chat_member": old, "new_chat_member": cur,
	}}
}

// ChatMember builds a "chat_member" update: user actorID changed member
// memberID's status in chat chatID from oldStatus to newStatus. Telegram
// sends it only to bots that ask for it in allowed_updates (and are
// administrators); the Server, like Telegram, drops it otherwise.
func ChatMember(actorID, chatID, memberID int64, oldStatus, newStatus string) map[string]any {
	return map[string]any{"chat_member": map[string]any{
		"chat": chatJSON(chatID, ""), "from": userJSON(actorID), "date": time.Now().Unix(),
		"old_chat_member": memberJSON(memberID, oldStatus), "new_chat_member": memberJSON(memberID, newStatus),
	}}
}

// ChatJoinRequest builds a "chat_join_request" update: user userID asked
// to join chat chatID.
func ChatJoinRequest(userID, chatID int64) map[string]any {
	return map[string]any{"chat_join_request": map[string]any{
		"chat": chatJSON(chatID, ""), "from": userJSON(userID), "user_chat_id": userID, "date": time.Now().Unix(),
	}}
}

// MessageReaction builds a "message_reaction" update: user userID set
// emoji (none when "") as their reaction to message messageID in chatID.
// Telegram sends it only to bots that ask for it in allowed_updates.
func MessageReaction(userID, chatID, messageID int64, emoji string) map[string]any {
	reaction := []map[string]any{}
	if emoji != "" {
		reaction = append(reaction, map[string]any{"type": "emoji", "emoji": emoji})
	}
	return map[string]any{"message_reaction": map[string]any{
		"chat": chatJSON(chatID, ""), "message_id": messageID, "user": userJSON(userID), "date": time.Now().Unix(),
		"old_reaction": []map[string]any{}, "new_reaction": reaction,
	}}
}

// MessageReactionCount builds a "message_reaction_count" update: the
// anonymous reactions to message messageID in chatID are now count times
// emoji. It has no sender. Telegram sends it only to bots that ask for it.
func MessageReactionCount(chatID, messageID int64, emoji string, count int) map[string]any {
	return map[string]any{"message_reaction_count": map[string]any{
		"chat": chatJSON(chatID, ""), "message_id": messageID, "date": time.Now().Unix(),
		"reactions": []map[string]any{{"type": map[string]any{"type": "emoji", "emoji": emoji}, "total_count": count}},
	}}
}

// ChatBoost builds a "chat_boost" update: user userID boosted chat chatID.
// It has no "from": the booster is in the boost's source.
func ChatBoost(chatID, userID int64) map[string]any {
	now := time.Now().Unix()
	return map[string]any{"chat_boost": map[string]any{
		"chat": chatJSON(chatID, ""),
		"boost": map[string]any{"boost_id": strconv.FormatInt(nextBuiltID(), 10), "add_date": now,
			"expiration_date": now + 30*86400, "source": map[string]any{"source": "premium", "user": userJSON(userID)}},
	}}
}

// RemovedChatBoost builds a "removed_chat_boost" update: user userID's
// boost of chat chatID was removed.
func RemovedChatBoost(chatID, userID int64) map[string]any {
	return map[string]any{"removed_chat_boost": map[string]any{
		"chat": chatJSON(chatID, ""), "boost_id": strconv.FormatInt(nextBuiltID(), 10), "remove_date": time.Now().Unix(),
		"source": map[string]any{"source": "premium", "user": userJSON(userID)},
	}}
}

// EveryKind returns one update of each kind the Bot API sends, keyed by
// kind ("message", "callback_query", ...), from user userID in chat chatID
// where the kind has a user or a chat (channel kinds use chatID as the
// channel, inline kinds have no chat; poll and boost kinds have no user).
// Each call builds fresh updates (new ids). Use it to check that a bot, or
// an adapter, handles every kind without a panic; the map holds no kind a
// framework could not know of (see UnknownUpdate for that).
func EveryKind(userID, chatID int64) map[string]map[string]any {
	const conn = "bc-1"
	return map[string]map[string]any{
		"message":                   Message(userID, chatID, "", "hello"),
		"edited_message":            EditedMessage(userID, chatID, "", "hello, edited"),
		"channel_post":              ChannelPost(chatID, "news"),
		"edited_channel_post":       EditedChannelPost(chatID, "news, edited"),
		"business_connection":       BusinessConnection(userID, conn),
		"business_message":          BusinessMessage(conn, userID, userID, "hi"),
		"edited_business_message":   EditedBusinessMessage(conn, userID, userID, "hi, edited"),
		"deleted_business_messages": DeletedBusinessMessages(conn, userID, 1, 2),
		"message_reaction":          MessageReaction(userID, chatID, 1, "👍"),
		"message_reaction_count":    MessageReactionCount(chatID, 1, "👍", 3),
		"inline_query":              InlineQuery(userID, "q"),
		"chosen_inline_result":      ChosenInlineResult(userID, "r1", "q"),
		"callback_query":            CallbackQuery(userID, chatID, "data"),
		"shipping_query":            ShippingQuery(userID, "order-1"),
		"pre_checkout_query":        PreCheckoutQuery(userID, "order-1"),
		"purchased_paid_media":      PurchasedPaidMedia(userID, "media-1"),
		"poll":                      Poll("poll-1", "Yes or no?"),
		"poll_answer":               PollAnswer(userID, "poll-1", 0),
		"my_chat_member":            MyChatMember(userID, chatID, "left", "member"),
		"chat_member":               ChatMember(userID, chatID, userID+1, "left", "member"),
		"chat_join_request":         ChatJoinRequest(userID, chatID),
		"chat_boost":                ChatBoost(chatID, userID),
		"removed_chat_boost":        RemovedChatBoost(chatID, userID),
	}
}

// AllowedEveryKind is the allowed_updates list that lets every kind of
// EveryKind through, including the ones Telegram (and the Server) leave
// out by default: chat_member, message_reaction, message_reaction_count.
func AllowedEveryKind() []string {
	kinds := make([]string, 0, 23)
	for k := range EveryKind(1, 1) {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	return kinds
}
