package gotelegramlimit

import (
	"context"
	"errors"

	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/botname"
	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// Middleware returns a go-telegram/bot middleware that calls the next
// handler only when g passes the update. Install it with
// bot.WithMiddlewares when the bot is built: the bot applies its
// middlewares to every update, whichever handler (or the default handler)
// matched it. A throttled update is dropped; before that the middleware
// acts through the bot, synchronously and under the handler's ctx, as the
// package documentation describes. Failed Bot API calls are logged by g
// (guard.Guard.Respond), token removed.
//
// Middleware panics when g is nil: a wiring mistake, reported when the bot
// is built rather than on the first update.
func Middleware(g *guard.Guard) bot.Middleware {
	if g == nil {
		panic("gotelegramlimit: Middleware needs a non-nil *guard.Guard (build one with guard.New)")
	}
	names := &usernames{}
	return func(next bot.HandlerFunc) bot.HandlerFunc {
		return func(ctx context.Context, b *bot.Bot, u *models.Update) {
			if allow(ctx, b, g, u, names) {
				next(ctx, b, u)
			}
		}
	}
}

// UpdateOf returns what a Guard needs to know about u. It never panics: it
// checks every pointer, so a nil u, a channel post (no From), an inline
// query (no chat), a callback under an inline message (no Message), a poll
// (neither) or an update of a kind go-telegram/bot does not know (every
// field nil) gives a partial guard.Update. Kinds guard has no name for
// (business_connection, deleted_business_messages, message_reaction_count,
// purchased_paid_media, chat_boost, removed_chat_boost) are KindOther with
// no ids, so guard.WithUnkeyed decides them, as in the other adapters. It
// does not know the bot, so a command addressed to any bot counts as a
// command (guard.CommandOf); Middleware tells commands for other bots
// apart.
func UpdateOf(u *models.Update) guard.Update { return updateOf(u, nil) }

// updateOf is UpdateOf for the bot whose username me returns ("" if not
// known; me nil: not known), called only for a command that names a bot.
func updateOf(u *models.Update, me func() string) guard.Update {
	switch {
	case u == nil:
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
	case u.CallbackQuery != nil:
		q := u.CallbackQuery
		cu := guard.Update{Kind: guard.KindCallbackQuery, UserID: q.From.ID, Payload: q.Data, LanguageCode: q.From.LanguageCode}
		// Neither is set under an inline message.
		if m := q.Message.Message; m != nil {
			cu.ChatID, cu.ChatType = m.Chat.ID, string(m.Chat.Type)
		} else if m := q.Message.InaccessibleMessage; m != nil {
			cu.ChatID, cu.ChatType = m.Chat.ID, string(m.Chat.Type)
		}
		return cu
	case u.InlineQuery != nil:
		return guard.Update{Kind: guard.KindInlineQuery, UserID: userID(u.InlineQuery.From),
			LanguageCode: language(u.InlineQuery.From)}
	case u.ChosenInlineResult != nil:
		return guard.Update{Kind: guard.KindChosenInlineResult, UserID: u.ChosenInlineResult.From.ID}
	case u.ShippingQuery != nil:
		return guard.Update{Kind: guard.KindShippingQuery, UserID: userID(u.ShippingQuery.From)}
	case u.PreCheckoutQuery != nil:
		return guard.Update{Kind: guard.KindPreCheckoutQuery, UserID: userID(u.PreCheckoutQuery.From)}
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
			ChatType: string(r.Chat.Type), SenderChatID: chatID(r.ActorChat)}
	}
	return guard.Update{Kind: guard.KindOther}
}

func messageUpdate(kind guard.Kind, m *models.Message, me func() string) guard.Update {
	cu := guard.Update{Kind: kind, UserID: userID(m.From), ChatID: m.Chat.ID, ChatType: string(m.Chat.Type),
		SenderChatID: chatID(m.SenderChat), Command: guard.CommandOf(m.Text),
		LanguageCode: language(m.From), MediaGroupID: m.MediaGroupID,
		Payload: guard.MessagePayload(m.Text, m.Caption, m.MediaGroupID)}
	if me != nil && botname.NamesBot(m.Text) { // ask for the username (getMe, once) only when it matters
		cu.Command = guard.CommandTo(m.Text, me())
	}
	return cu
}

func memberUpdate(kind guard.Kind, from models.User, chat models.Chat) guard.Update {
	return guard.Update{Kind: kind, UserID: from.ID, ChatID: chat.ID, ChatType: string(chat.Type)}
}

func userID(u *models.User) int64 {
	if u == nil {
		return 0
	}
	return u.ID
}

func language(u *models.User) string {
	if u == nil {
		return ""
	}
	return u.LanguageCode
}

func chatID(c *models.Chat) int64 {
	if c == nil {
		return 0
	}
	return c.ID
}

// errNilBot is reported for each action that could not be taken because
// the handler was called without a bot.
var errNilBot = errors.New("gotelegramlimit: the handler was called with a nil *bot.Bot, nothing was sent")

// usernames asks getMe for a bot's username, once per bot (see Middleware).
type usernames struct{ c botname.Cache[*bot.Bot] }

// of returns b's username, "" when it cannot be known (no bot, or getMe
// failed: then it is asked again next time).
func (n *usernames) of(ctx context.Context, b *bot.Bot) string {
	if b == nil {
		return ""
	}
	return n.c.Of(b, func() (string, error) {
		me, err := b.GetMe(ctx)
		if err != nil {
			return "", err
		}
		return me.Username, nil
	})
}

// allow decides u with g and, on a denial, answers it through b (see
// guard.Guard.Respond).
func allow(ctx context.Context, b *bot.Bot, g *guard.Guard, u *models.Update, names *usernames) bool {
	cu := updateOf(u, func() string { return names.of(ctx, b) })
	v := g.Check(ctx, cu)
	if v.Pass {
		return true
	}
	token := ""
	if b != nil {
		token = b.Token()
	}
	g.Respond(ctx, cu, v, responder{b: b, u: u}, token)
	return false
}

// responder makes the Bot API calls guard.Guard.Respond asks for, the
// go-telegram/bot way, for the update u. Respond calls AnswerCallback only
// for a callback query and AnswerInline only for an inline query, so the
// pointers they read are set.
type responder struct {
	b *bot.Bot // nil: nothing can be sent
	u *models.Update
}

func (r responder) AnswerCallback(ctx context.Context, text string) error {
	if r.b == nil {
		return errNilBot
	}
	_, err := r.b.AnswerCallbackQuery(ctx, &bot.AnswerCallbackQueryParams{CallbackQueryID: r.u.CallbackQuery.ID, Text: text})
	return err
}

func (r responder) AnswerInline(ctx context.Context) error {
	if r.b == nil {
		return errNilBot
	}
	// AnswerInlineQueryParams omits a zero cache_time (omitempty), and
	// Telegram would then cache the empty answer for 300 s: 1 s is the
	// least it can send.
	_, err := r.b.AnswerInlineQuery(ctx, &bot.AnswerInlineQueryParams{InlineQueryID: r.u.InlineQuery.ID,
		Results: []models.InlineQueryResult{}, CacheTime: 1, IsPersonal: true})
	return err
}

func (r responder) SendNotice(ctx context.Context, chatID int64, text string) error {
	if r.b == nil {
		return errNilBot
	}
	p := &bot.SendMessageParams{ChatID: chatID, Text: text}
	// Answer a business message on behalf of the business account.
	if m := r.u.BusinessMessage; m != nil {
		p.BusinessConnectionID = m.BusinessConnectionID
	} else if m := r.u.EditedBusinessMessage; m != nil {
		p.BusinessConnectionID = m.BusinessConnectionID
	}
	_, err := r.b.SendMessage(ctx, p)
	return err
}
