package gotgbotlimit

import (
	"context"
	"errors"

	"github.com/PaulSonOfLars/gotgbot/v2"
	"github.com/PaulSonOfLars/gotgbot/v2/ext"
	"github.com/floodgate-go/floodgate/guard"
	"github.com/floodgate-go/floodgate/internal/botname"
)

// Processor returns an ext.Processor that hands an update to next only when
// g passes it. Set it as the dispatcher's processor, the extension point
// gotgbot provides for logic around every update:
//
//	d := ext.NewDispatcher(&ext.DispatcherOpts{Processor: gotgbotlimit.Processor(g, nil)})
//
// It sees every update, whether or not a handler matches it. next nil
// means ext.BaseProcessor{} (run the handler groups). A throttled update
// is dropped and ProcessUpdate returns nil at once; its answers and notice
// go out through b off the update's path, under their own deadline
// (guard.Guard.Respond, guard.WithActions), as the package documentation
// describes. The error of a passed update is next's (your handlers'). A
// command addressed to another bot (/cmd@OtherBot) is not this bot's
// command (guard.CommandTo with the bot's username: b.Username, filled by
// gotgbot.NewBot; with DisableTokenCheck, which leaves it "<missing>", it
// is asked with getMe the first time a command names a bot).
//
// Processor panics when g is nil: a wiring mistake, reported when the bot
// is built rather than on the first update.
func Processor(g *guard.Guard, next ext.Processor) ext.Processor {
	if g == nil {
		panic("gotgbotlimit: Processor needs a non-nil *guard.Guard (build one with guard.New)")
	}
	if next == nil {
		next = ext.BaseProcessor{}
	}
	return processor{g: g, next: next, names: &usernames{}}
}

type processor struct {
	g     *guard.Guard
	next  ext.Processor
	names *usernames
}

func (p processor) ProcessUpdate(d *ext.Dispatcher, b *gotgbot.Bot, ctx *ext.Context) error {
	if ctx == nil || !allow(b, p.g, ctx.Update, p.names) {
		return nil
	}
	return p.next.ProcessUpdate(d, b, ctx)
}

// Handler returns an ext.Handler that guards the handler groups after its
// own: add it to a group numbered below theirs, and it ends the update's
// handling (ext.EndGroups) when g drops it, or lets the next group run
// when g passes it:
//
//	d.AddHandlerToGroup(gotgbotlimit.Handler(g), -1)
//
// Give it a filter to guard only some updates (filter nil: every update):
// only the updates it matches are counted, the others go on unguarded.
// Use Handler or Processor, not both: an update would be counted twice.
//
// Handler tells commands for other bots apart as Processor does. It
// panics when g is nil.
func Handler(g *guard.Guard, filter func(*ext.Context) bool) ext.Handler {
	if g == nil {
		panic("gotgbotlimit: Handler needs a non-nil *guard.Guard (build one with guard.New)")
	}
	return handler{g: g, filter: filter, names: &usernames{}}
}

type handler struct {
	g      *guard.Guard
	filter func(*ext.Context) bool
	names  *usernames
}

func (h handler) CheckUpdate(_ *gotgbot.Bot, ctx *ext.Context) bool {
	return ctx != nil && (h.filter == nil || h.filter(ctx))
}

func (h handler) HandleUpdate(b *gotgbot.Bot, ctx *ext.Context) error {
	if allow(b, h.g, ctx.Update, h.names) {
		return nil // matched: the dispatcher moves on to the next group
	}
	return ext.EndGroups
}

func (h handler) Name() string { return "floodgate" }

// UpdateOf returns what a Guard needs to know about u. It never panics: it
// checks every pointer, so a nil u, a channel post (no From), an inline
// query (no chat), a callback under an inline message (no Message), a poll
// (neither) or an update of a kind gotgbot does not know (every field nil)
// gives a partial guard.Update. Kinds guard has no name for
// (business_connection, deleted_business_messages, message_reaction_count,
// purchased_paid_media, chat_boost, removed_chat_boost) are KindOther with
// no ids, so guard.WithUnkeyed decides them, as in the other adapters. It
// does not know the bot, so a command addressed to any bot counts as a
// command (guard.CommandOf); Processor and Handler tell commands for
// other bots apart.
func UpdateOf(u *gotgbot.Update) guard.Update { return updateOf(u, nil) }

// updateOf is UpdateOf for the bot whose username me returns ("" if not
// known; me nil: not known), called only for a command that names a bot.
func updateOf(u *gotgbot.Update, me func() string) guard.Update {
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
		cu := guard.Update{Kind: guard.KindCallbackQuery, UserID: u.CallbackQuery.From.Id, Payload: u.CallbackQuery.Data,
			LanguageCode: u.CallbackQuery.From.LanguageCode}
		var chat *gotgbot.Chat
		switch m := u.CallbackQuery.Message.(type) { // nil under an inline message
		case gotgbot.Message:
			chat = &m.Chat
		case gotgbot.InaccessibleMessage:
			chat = &m.Chat
		case *gotgbot.Message:
			if m != nil {
				chat = &m.Chat
			}
		case *gotgbot.InaccessibleMessage:
			if m != nil {
				chat = &m.Chat
			}
		}
		if chat != nil {
			cu.ChatID, cu.ChatType = chat.Id, chat.Type
		}
		return cu
	case u.InlineQuery != nil:
		return guard.Update{Kind: guard.KindInlineQuery, UserID: u.InlineQuery.From.Id,
			LanguageCode: u.InlineQuery.From.LanguageCode}
	case u.ChosenInlineResult != nil:
		return guard.Update{Kind: guard.KindChosenInlineResult, UserID: u.ChosenInlineResult.From.Id}
	case u.ShippingQuery != nil:
		return guard.Update{Kind: guard.KindShippingQuery, UserID: u.ShippingQuery.From.Id}
	case u.PreCheckoutQuery != nil:
		return guard.Update{Kind: guard.KindPreCheckoutQuery, UserID: u.PreCheckoutQuery.From.Id}
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
		return guard.Update{Kind: guard.KindMessageReaction, UserID: userID(r.User), ChatID: r.Chat.Id,
			ChatType: r.Chat.Type, SenderChatID: chatID(r.ActorChat)}
	}
	return guard.Update{Kind: guard.KindOther}
}

func messageUpdate(kind guard.Kind, m *gotgbot.Message, me func() string) guard.Update {
	cu := guard.Update{Kind: kind, UserID: userID(m.From), ChatID: m.Chat.Id, ChatType: m.Chat.Type,
		SenderChatID: chatID(m.SenderChat), Command: guard.CommandOf(m.Text), MediaGroupID: m.MediaGroupId,
		Payload: guard.MessagePayload(m.Text, m.Caption, m.MediaGroupId)}
	if m.From != nil {
		cu.LanguageCode = m.From.LanguageCode
	}
	if me != nil && botname.NamesBot(m.Text) { // ask for the username (getMe, once) only when it matters
		cu.Command = guard.CommandTo(m.Text, me())
	}
	return cu
}

func memberUpdate(kind guard.Kind, from gotgbot.User, chat gotgbot.Chat) guard.Update {
	return guard.Update{Kind: kind, UserID: from.Id, ChatID: chat.Id, ChatType: chat.Type}
}

func userID(u *gotgbot.User) int64 {
	if u == nil {
		return 0
	}
	return u.Id
}

func chatID(c *gotgbot.Chat) int64 {
	if c == nil {
		return 0
	}
	return c.Id
}

// errNilBot is reported for each action that could not be taken because
// the dispatcher was given no bot.
var errNilBot = errors.New("gotgbotlimit: the dispatcher was given a nil *gotgbot.Bot, nothing was sent")

// usernames asks getMe for the username of a bot built without it
// (BotOpts.DisableTokenCheck), once per bot (see Processor).
type usernames struct{ c botname.Cache[*gotgbot.Bot] }

// missing is the username gotgbot.NewBot gives a bot it did not ask getMe
// about (BotOpts.DisableTokenCheck).
const missing = "<missing>"

// of returns b's username, "" when it cannot be known (no bot, or getMe
// failed: then it is asked again next time).
func (n *usernames) of(ctx context.Context, b *gotgbot.Bot) string {
	switch {
	case b == nil:
		return ""
	case b.Username != "" && b.Username != missing:
		return b.Username
	}
	return n.c.Of(b, func() (string, error) {
		me, err := b.GetMeWithContext(ctx, nil)
		if err != nil {
			return "", err
		}
		return me.Username, nil
	})
}

// allow decides u with g and, on a denial, answers it through b (see
// guard.Guard.Respond). gotgbot gives handlers no context.Context, so it
// decides under context.Background(): the store's own timeouts (store.Open
// sets them) bound it; the calls on a denial get their own deadline
// (guard.WithActions), which the *WithContext methods honour.
func allow(b *gotgbot.Bot, g *guard.Guard, u *gotgbot.Update, names *usernames) bool {
	ctx := context.Background()
	cu := updateOf(u, func() string { return names.of(ctx, b) })
	v := g.Check(ctx, cu)
	if v.Pass {
		return true
	}
	token := ""
	if b != nil {
		token = b.Token
	}
	g.Respond(ctx, cu, v, responder{b: b, u: u}, token)
	return false
}

// responder makes the Bot API calls guard.Guard.Respond asks for, the
// gotgbot way, for the update u. Respond calls AnswerCallback only for a
// callback query and AnswerInline only for an inline query, so the
// pointers they read are set.
type responder struct {
	b *gotgbot.Bot // nil: nothing can be sent
	u *gotgbot.Update
}

func (r responder) AnswerCallback(ctx context.Context, text string) error {
	if r.b == nil {
		return errNilBot
	}
	_, err := r.b.AnswerCallbackQueryWithContext(ctx, r.u.CallbackQuery.Id, &gotgbot.AnswerCallbackQueryOpts{Text: text})
	return err
}

func (r responder) AnswerInline(ctx context.Context) error {
	if r.b == nil {
		return errNilBot
	}
	// gotgbot omits a zero cache_time, and Telegram would then cache the
	// empty answer for 300 s: 1 s is the least it can send.
	_, err := r.b.AnswerInlineQueryWithContext(ctx, r.u.InlineQuery.Id, []gotgbot.InlineQueryResult{},
		&gotgbot.AnswerInlineQueryOpts{CacheTime: 1, IsPersonal: true})
	return err
}

func (r responder) SendNotice(ctx context.Context, chatID int64, text string) error {
	if r.b == nil {
		return errNilBot
	}
	opts := &gotgbot.SendMessageOpts{}
	// Answer a business message on behalf of the business account.
	if m := r.u.BusinessMessage; m != nil {
		opts.BusinessConnectionId = m.BusinessConnectionId
	} else if m := r.u.EditedBusinessMessage; m != nil {
		opts.BusinessConnectionId = m.BusinessConnectionId
	}
	_, err := r.b.SendMessageWithContext(ctx, chatID, text, opts)
	return err
}
