package telegolimit

import (
	"context"
	"errors"

	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/botname"
	"github.com/mymmrac/telego"
	th "github.com/mymmrac/telego/telegohandler"
	tu "github.com/mymmrac/telego/telegoutil"
)

// Middleware returns a telegohandler middleware that lets an update go on
// (ctx.Next) only when g passes it. A throttled update is dropped and the
// middleware returns nil at once, not an error, so telego's error handler
// never hears of it; its answers and notice go out through ctx.Bot() off
// the update's path, under their own deadline (guard.Guard.Respond,
// guard.WithActions), as the package documentation describes. Failed Bot
// API calls are logged by g, token removed. A command addressed to another
// bot (/cmd@OtherBot) is not this bot's command (guard.CommandTo with
// Bot.Username, which asks getMe once, the first time a command names a
// bot).
//
// Register it with Use before the handlers it guards: telegohandler
// matches routes in registration order.
//
// Middleware panics when g is nil: a wiring mistake, reported when the bot
// is built rather than on the first update.
func Middleware(g *guard.Guard) th.Handler {
	if g == nil {
		panic("telegolimit: Middleware needs a non-nil *guard.Guard (build one with guard.New)")
	}
	return func(ctx *th.Context, u telego.Update) error {
		if !allow(ctx, ctx.Bot(), g, u) {
			return nil
		}
		return ctx.Next(u)
	}
}

// UpdateOf returns what a Guard needs to know about u. It never panics: it
// checks every pointer, so a channel post (no From), an inline query (no
// chat), a callback under an inline message (no Message), a poll (neither)
// or an update of a kind telego does not know (every field nil) gives a
// partial guard.Update. Kinds core has no name for are KindOther; those with
// a sender (guest_message) keep it, the others (payments, boosts, business
// connections, ...) carry no ids, so guard.WithUnkeyed decides them. It
// does not know the bot, so a command addressed to any bot counts as a
// command (guard.CommandOf); Middleware tells commands for other bots apart.
func UpdateOf(u telego.Update) guard.Update { return updateOf(u, nil) }

// updateOf is UpdateOf for the bot me (nil if not known).
func updateOf(u telego.Update, me *telego.Bot) guard.Update {
	switch {
	case u.Message != nil:
		return messageUpdate(guard.KindMessage, u.Message, me)
	case u.EditedMessage != nil:
		return messageUpdate(guard.KindEditedMessage, u.EditedMessage, me)
	case u.ChannelPost != nil:
		return messageUpdate(guard.KindChannelPost, u.ChannelPost, me)
	case u.EditedChannelPost != nil:
		return messageUpdate(guard.KindEditedChannelPost, u.EditedChannelPost, me)
	case u.BusinessMessage != nil:
		return messageUpdate(guard.KindBusinessMessage, u.BusinessMessage, me)
	case u.EditedBusinessMessage != nil:
		// An edit, not a new message: not part of an album's one event.
		cu := messageUpdate(guard.KindBusinessMessage, u.EditedBusinessMessage, me)
		cu.MediaGroupID = ""
		return cu
	case u.GuestMessage != nil:
		return messageUpdate(guard.KindOther, u.GuestMessage, me)
	case u.CallbackQuery != nil:
		cu := guard.Update{Kind: guard.KindCallbackQuery, UserID: u.CallbackQuery.From.ID,
			LanguageCode: u.CallbackQuery.From.LanguageCode, Payload: u.CallbackQuery.Data}
		switch m := u.CallbackQuery.Message.(type) { // nil under an inline message
		case *telego.Message:
			if m != nil {
				cu.ChatID, cu.ChatType = m.Chat.ID, m.Chat.Type
			}
		case *telego.InaccessibleMessage:
			if m != nil {
				cu.ChatID, cu.ChatType = m.Chat.ID, m.Chat.Type
			}
		}
		return cu
	case u.InlineQuery != nil:
		return guard.Update{Kind: guard.KindInlineQuery, UserID: u.InlineQuery.From.ID,
			LanguageCode: u.InlineQuery.From.LanguageCode}
	case u.ChosenInlineResult != nil:
		return guard.Update{Kind: guard.KindChosenInlineResult, UserID: u.ChosenInlineResult.From.ID}
	case u.ShippingQuery != nil:
		return guard.Update{Kind: guard.KindShippingQuery, UserID: u.ShippingQuery.From.ID}
	case u.PreCheckoutQuery != nil:
		return guard.Update{Kind: guard.KindPreCheckoutQuery, UserID: u.PreCheckoutQuery.From.ID}
	case u.Poll != nil:
		return guard.Update{Kind: guard.KindPoll}
	case u.PollAnswer != nil: // from a user, or from a chat voting anonymously
		return guard.Update{Kind: guard.KindPollAnswer, UserID: userID(u.PollAnswer.User), SenderChatID: chatID(u.PollAnswer.VoterChat)}
	case u.MyChatMember != nil:
		return memberUpdate(guard.KindMyChatMember, u.MyChatMember.From, u.MyChatMember.Chat)
	case u.ChatMember != nil:
		return memberUpdate(guard.KindChatMember, u.ChatMember.From, u.ChatMember.Chat)
	case u.ChatJoinRequest != nil:
		return memberUpdate(guard.KindChatJoinRequest, u.ChatJoinRequest.From, u.ChatJoinRequest.Chat)
	case u.MessageReaction != nil:
		r := u.MessageReaction
		return guard.Update{Kind: guard.KindMessageReaction, UserID: userID(r.User), ChatID: r.Chat.ID,
			ChatType: r.Chat.Type, SenderChatID: chatID(r.ActorChat)}
	}
	return guard.Update{Kind: guard.KindOther}
}

func messageUpdate(kind guard.Kind, m *telego.Message, me *telego.Bot) guard.Update {
	cu := guard.Update{Kind: kind, UserID: userID(m.From), ChatID: m.Chat.ID, ChatType: m.Chat.Type,
		SenderChatID: chatID(m.SenderChat), Command: guard.CommandOf(m.Text), MediaGroupID: m.MediaGroupID,
		Payload: guard.MessagePayload(m.Text, m.Caption, m.MediaGroupID)}
	if m.From != nil {
		cu.LanguageCode = m.From.LanguageCode
	}
	// Ask for the bot's username (getMe, once) only when it matters.
	if me != nil && botname.NamesBot(m.Text) {
		cu.Command = guard.CommandTo(m.Text, me.Username())
	}
	return cu
}

func memberUpdate(kind guard.Kind, from telego.User, chat telego.Chat) guard.Update {
	return guard.Update{Kind: kind, UserID: from.ID, ChatID: chat.ID, ChatType: chat.Type}
}

func userID(u *telego.User) int64 {
	if u == nil {
		return 0
	}
	return u.ID
}

func chatID(c *telego.Chat) int64 {
	if c == nil {
		return 0
	}
	return c.ID
}

// errNilBot is reported for each action that could not be taken because
// the handler context had no bot (HandlerGroup.HandleUpdate with a nil bot).
var errNilBot = errors.New("telegolimit: the handler context has no bot, nothing was sent")

// allow decides u with g and, on a denial, answers it through bot (see
// guard.Guard.Respond).
func allow(ctx context.Context, bot *telego.Bot, g *guard.Guard, u telego.Update) bool {
	cu := updateOf(u, bot)
	v := g.Check(ctx, cu)
	if v.Pass {
		return true
	}
	token := ""
	if bot != nil {
		token = bot.Token()
	}
	g.Respond(ctx, cu, v, responder{bot: bot, u: &u}, token)
	return false
}

// responder makes the Bot API calls guard.Guard.Respond asks for, the
// telego way, for the update u.
type responder struct {
	bot *telego.Bot // nil: nothing can be sent
	u   *telego.Update
}

func (r responder) AnswerCallback(ctx context.Context, text string) error {
	if r.bot == nil {
		return errNilBot
	}
	return r.bot.AnswerCallbackQuery(ctx, tu.CallbackQuery(r.u.CallbackQuery.ID).WithText(text))
}

func (r responder) AnswerInline(ctx context.Context) error {
	if r.bot == nil {
		return errNilBot
	}
	// telego drops cache_time 0 (omitempty) and Telegram would then cache
	// the empty answer for 300 s; 1 s is the least telego can send.
	return r.bot.AnswerInlineQuery(ctx, &telego.AnswerInlineQueryParams{InlineQueryID: r.u.InlineQuery.ID,
		Results: []telego.InlineQueryResult{}, CacheTime: 1, IsPersonal: true})
}

func (r responder) SendNotice(ctx context.Context, chatID int64, text string) error {
	if r.bot == nil {
		return errNilBot
	}
	p := tu.Message(tu.ID(chatID), text)
	// Answer a business message on behalf of the business account.
	if m := r.u.BusinessMessage; m != nil {
		p.BusinessConnectionID = m.BusinessConnectionID
	} else if m := r.u.EditedBusinessMessage; m != nil {
		p.BusinessConnectionID = m.BusinessConnectionID
	}
	_, err := r.bot.SendMessage(ctx, p)
	return err
}
