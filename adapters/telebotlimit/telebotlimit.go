package telebotlimit

import (
	"context"
	"errors"

	"github.com/floodgate-go/floodgate/guard"
	tele "gopkg.in/telebot.v3"
)

// UpdateOf returns what a Guard needs to know about u. It reads the update's
// fields directly, checking every pointer, so it never panics: not on a nil
// u, a channel post (no sender), an inline query (no chat), a callback
// under an inline message (no Message), a poll (neither), or an update of a
// kind telebot v3.3.8 does not know (all fields nil: KindOther).
func UpdateOf(u *tele.Update) guard.Update {
	switch {
	case u == nil:
	case u.Message != nil:
		return messageUpdate(guard.KindMessage, u.Message)
	case u.EditedMessage != nil:
		return messageUpdate(guard.KindEditedMessage, u.EditedMessage)
	case u.ChannelPost != nil:
		return messageUpdate(guard.KindChannelPost, u.ChannelPost)
	case u.EditedChannelPost != nil:
		return messageUpdate(guard.KindEditedChannelPost, u.EditedChannelPost)
	case u.Callback != nil:
		cu := guard.Update{Kind: guard.KindCallbackQuery, UserID: userID(u.Callback.Sender), Payload: callbackData(u.Callback)}
		if m := u.Callback.Message; m != nil { // nil for a button under an inline message
			cu.ChatID, cu.ChatType = chatOf(m.Chat)
		}
		return cu
	case u.Query != nil:
		return guard.Update{Kind: guard.KindInlineQuery, UserID: userID(u.Query.Sender)}
	case u.InlineResult != nil:
		return guard.Update{Kind: guard.KindChosenInlineResult, UserID: userID(u.InlineResult.Sender)}
	case u.ShippingQuery != nil:
		return guard.Update{Kind: guard.KindShippingQuery, UserID: userID(u.ShippingQuery.Sender)}
	case u.PreCheckoutQuery != nil:
		return guard.Update{Kind: guard.KindPreCheckoutQuery, UserID: userID(u.PreCheckoutQuery.Sender)}
	case u.Poll != nil:
		return guard.Update{Kind: guard.KindPoll}
	case u.PollAnswer != nil: // an anonymous vote comes from voter_chat
		cu := guard.Update{Kind: guard.KindPollAnswer, UserID: userID(u.PollAnswer.Sender)}
		cu.SenderChatID, _ = chatOf(u.PollAnswer.Chat)
		return cu
	case u.MyChatMember != nil:
		return memberUpdate(guard.KindMyChatMember, u.MyChatMember.Sender, u.MyChatMember.Chat)
	case u.ChatMember != nil:
		return memberUpdate(guard.KindChatMember, u.ChatMember.Sender, u.ChatMember.Chat)
	case u.ChatJoinRequest != nil:
		return memberUpdate(guard.KindChatJoinRequest, u.ChatJoinRequest.Sender, u.ChatJoinRequest.Chat)
	case u.MessageReaction != nil: // an anonymous admin reacts as actor_chat
		cu := memberUpdate(guard.KindMessageReaction, u.MessageReaction.User, u.MessageReaction.Chat)
		cu.SenderChatID, _ = chatOf(u.MessageReaction.ActorChat)
		return cu
	}
	return guard.Update{Kind: guard.KindOther}
}

func messageUpdate(kind guard.Kind, m *tele.Message) guard.Update {
	cu := guard.Update{Kind: kind, UserID: userID(m.Sender), Command: guard.CommandOf(m.Text),
		Payload: guard.MessagePayload(m.Text, m.Caption, m.AlbumID)}
	cu.ChatID, cu.ChatType = chatOf(m.Chat)
	cu.SenderChatID, _ = chatOf(m.SenderChat)
	return cu
}

// callbackData is the data of a callback query's button as the bot sent
// it. telebot splits "\f<unique>|<data>" into Unique and Data when it
// processes an update (Middleware sees that; Poller sees the raw data):
// both forms of one button give the same text.
func callbackData(c *tele.Callback) string {
	if c.Unique == "" {
		return c.Data
	}
	return "\f" + c.Unique + "|" + c.Data
}

func memberUpdate(kind guard.Kind, from *tele.User, chat *tele.Chat) guard.Update {
	cu := guard.Update{Kind: kind, UserID: userID(from)}
	cu.ChatID, cu.ChatType = chatOf(chat)
	return cu
}

func userID(u *tele.User) int64 {
	if u == nil {
		return 0
	}
	return u.ID
}

func chatOf(c *tele.Chat) (int64, string) {
	if c == nil {
		return 0, ""
	}
	return c.ID, string(c.Type)
}

// Middleware returns telebot middleware that lets an update reach the
// handler only when g passes it (see the package documentation for what
// happens to the others). Register it with b.Use before any b.Handle, with
// a group's Use, or for one endpoint: b.Handle("/report", h, Middleware(g2)).
//
// telebot gives handlers no context.Context, so each decision runs under
// context.Background(): a slow store is bounded by the store's own
// timeouts (store.Open sets them). The handler's error is returned as is;
// a dropped update returns nil, and failed Bot API calls are logged
// through g, never returned.
//
// Middleware panics if g is nil: a wiring mistake, reported when the bot is
// built rather than on the first update. It never panics afterwards.
func Middleware(g *guard.Guard) tele.MiddlewareFunc {
	if g == nil {
		panic("telebotlimit: Middleware needs a non-nil *guard.Guard")
	}
	return func(next tele.HandlerFunc) tele.HandlerFunc {
		return func(c tele.Context) error {
			if c != nil && !allow(g, c) {
				return nil
			}
			return next(c)
		}
	}
}

// Poller returns a poller that checks every update p delivers with g before
// the bot sees it, including updates no handler matches; use it instead of
// Middleware, not with it (each update would be counted twice). It filters
// one update at a time, in order, on the poller's goroutine.
//
// Poller panics if g or p is nil.
func Poller(g *guard.Guard, p tele.Poller) tele.Poller {
	if g == nil || p == nil {
		panic("telebotlimit: Poller needs a non-nil *guard.Guard and tele.Poller")
	}
	return &poller{g: g, p: p}
}

type poller struct {
	g *guard.Guard
	p tele.Poller
}

func (p *poller) Poll(b *tele.Bot, dest chan tele.Update, stop chan struct{}) {
	tele.NewMiddlewarePoller(p.p, func(u *tele.Update) bool {
		return allow(p.g, b.NewContext(*u))
	}).Poll(b, dest, stop)
}

// errNoBot is logged for each action that could not be taken because the
// context has no bot.
var errNoBot = errors.New("telebotlimit: context has no *tele.Bot, nothing was sent")

// allow decides c's update with g and, on a denial, answers it through c's
// bot (see guard.Guard.Respond).
func allow(g *guard.Guard, c tele.Context) bool {
	ctx := context.Background()
	u := c.Update()
	cu := UpdateOf(&u)
	v := g.Check(ctx, cu)
	if v.Pass {
		return true
	}
	r := responder{c: c, b: c.Bot(), u: &u}
	token := ""
	if r.b != nil {
		token = r.b.Token
	}
	g.Respond(ctx, cu, v, r, token)
	return false
}

// responder makes the Bot API calls guard.Guard.Respond asks for, the
// telebot way, for the update u of c.
type responder struct {
	c tele.Context
	b *tele.Bot // nil: nothing can be sent
	u *tele.Update
}

func (r responder) AnswerCallback(_ context.Context, text string) error {
	if r.b == nil {
		return errNoBot
	}
	return r.c.Respond(&tele.CallbackResponse{Text: text})
}

func (r responder) AnswerInline(context.Context) error {
	if r.b == nil {
		return errNoBot
	}
	// Not c.Answer: tele.QueryResponse omits cache_time 0, and Telegram
	// would then cache the empty answer for 300 s.
	_, err := r.b.Raw("answerInlineQuery", map[string]any{"inline_query_id": r.u.Query.ID,
		"results": []any{}, "cache_time": 0, "is_personal": true})
	return err
}

func (r responder) SendNotice(_ context.Context, chatID int64, text string) error {
	if r.b == nil {
		return errNoBot
	}
	// ModeDefault: plain text, whatever the bot's default ParseMode.
	_, err := r.b.Send(&tele.Chat{ID: chatID}, text, tele.ModeDefault)
	return err
}
