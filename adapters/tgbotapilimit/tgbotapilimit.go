package tgbotapilimit

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"

	"github.com/floodgate-go/floodgate/guard"
	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// UpdateOf returns what a Guard needs to know about u. It reads the update's
// fields directly, checking each pointer, so it never panics: not on a
// callback query under an inline message (no Message, where u.FromChat
// panics), a channel post (no From), an inline query (no chat), a poll
// (neither), or an update of a kind tgbotapi v5.5.1 does not know (all
// fields nil: KindOther). Unlike u.SentFrom, it also finds the user of
// poll_answer, my_chat_member, chat_member and chat_join_request updates.
// It does not know the bot, so a command addressed to any bot counts as a
// command (guard.CommandOf); Check and Filter tell commands for other bots
// apart (guard.CommandTo with bot.Self's username).
func UpdateOf(u tgbotapi.Update) guard.Update { return updateOf(u, "") }

// updateOf is UpdateOf for the bot named me ("" if not known).
func updateOf(u tgbotapi.Update, me string) guard.Update {
	switch {
	case u.Message != nil:
		return messageUpdate(guard.KindMessage, u.Message, me)
	case u.EditedMessage != nil:
		return messageUpdate(guard.KindEditedMessage, u.EditedMessage, me)
	case u.ChannelPost != nil:
		return messageUpdate(guard.KindChannelPost, u.ChannelPost, me)
	case u.EditedChannelPost != nil:
		return messageUpdate(guard.KindEditedChannelPost, u.EditedChannelPost, me)
	case u.CallbackQuery != nil:
		q := u.CallbackQuery
		cu := guard.Update{Kind: guard.KindCallbackQuery, UserID: userID(q.From), LanguageCode: language(q.From), Payload: q.Data}
		if m := q.Message; m != nil { // nil for a button under an inline message
			cu.ChatID, cu.ChatType = chatOf(m.Chat)
		}
		return cu
	case u.InlineQuery != nil:
		q := u.InlineQuery
		return guard.Update{Kind: guard.KindInlineQuery, UserID: userID(q.From), LanguageCode: language(q.From)}
	case u.ChosenInlineResult != nil:
		return guard.Update{Kind: guard.KindChosenInlineResult, UserID: userID(u.ChosenInlineResult.From)}
	case u.ShippingQuery != nil:
		return guard.Update{Kind: guard.KindShippingQuery, UserID: userID(u.ShippingQuery.From)}
	case u.PreCheckoutQuery != nil:
		return guard.Update{Kind: guard.KindPreCheckoutQuery, UserID: userID(u.PreCheckoutQuery.From)}
	case u.Poll != nil:
		return guard.Update{Kind: guard.KindPoll}
	case u.PollAnswer != nil:
		return guard.Update{Kind: guard.KindPollAnswer, UserID: u.PollAnswer.User.ID}
	case u.MyChatMember != nil:
		return memberUpdate(guard.KindMyChatMember, u.MyChatMember.From, u.MyChatMember.Chat)
	case u.ChatMember != nil:
		return memberUpdate(guard.KindChatMember, u.ChatMember.From, u.ChatMember.Chat)
	case u.ChatJoinRequest != nil:
		return memberUpdate(guard.KindChatJoinRequest, u.ChatJoinRequest.From, u.ChatJoinRequest.Chat)
	}
	return guard.Update{Kind: guard.KindOther}
}

func messageUpdate(kind guard.Kind, m *tgbotapi.Message, me string) guard.Update {
	cu := guard.Update{Kind: kind, UserID: userID(m.From), Command: guard.CommandTo(m.Text, me),
		LanguageCode: language(m.From), MediaGroupID: m.MediaGroupID, Payload: guard.MessagePayload(m.Text, m.Caption, m.MediaGroupID)}
	cu.ChatID, cu.ChatType = chatOf(m.Chat)
	if m.SenderChat != nil {
		cu.SenderChatID = m.SenderChat.ID
	}
	return cu
}

func memberUpdate(kind guard.Kind, from tgbotapi.User, chat tgbotapi.Chat) guard.Update {
	return guard.Update{Kind: kind, UserID: from.ID, ChatID: chat.ID, ChatType: chat.Type}
}

func userID(u *tgbotapi.User) int64 {
	if u == nil {
		return 0
	}
	return u.ID
}

func language(u *tgbotapi.User) string {
	if u == nil {
		return ""
	}
	return u.LanguageCode
}

func chatOf(c *tgbotapi.Chat) (int64, string) {
	if c == nil {
		return 0, ""
	}
	return c.ID, c.Type
}

// errNilBot is reported (through the Guard's logger) for each action Check
// could not take because it was given a nil bot.
var errNilBot = errors.New("tgbotapilimit: bot is nil, nothing was sent")

var nilGuardOnce sync.Once

// Check decides one update with g and reports whether it may go on to the
// bot's handlers. On a denial it has the update answered through bot, off
// the caller's path (guard.Guard.Respond: the calls run on their own
// goroutine, under their own deadline, guard.WithActions): a callback
// query with the Verdict's CallbackText (possibly empty, so the button
// stops spinning), an inline query with no results (cache_time 0,
// is_personal true), and the Verdict's Notice, if any, to the update's
// chat. A failed call is logged through g, token removed; Check never
// returns an error. Commands addressed to another bot (/cmd@OtherBot) are
// not this bot's commands (guard.CommandTo with bot.Self.UserName).
//
// Use it in a webhook handler after bot.HandleUpdate(r). It never panics:
// with a nil g it lets every update through, counting nothing (and logs a
// warning once with slog.Default); with a nil bot it decides as usual and
// logs each action it could not take.
func Check(ctx context.Context, bot *tgbotapi.BotAPI, g *guard.Guard, u tgbotapi.Update) bool {
	if g == nil {
		nilGuardOnce.Do(func() {
			slog.Warn("tgbotapilimit: Check was given a nil *guard.Guard: updates pass unlimited")
		})
		return true
	}
	token, me := "", ""
	if bot != nil {
		token, me = bot.Token, bot.Self.UserName
	}
	cu := updateOf(u, me)
	v := g.Check(ctx, cu)
	if v.Pass {
		return true
	}
	g.Respond(ctx, cu, v, responder{bot: bot, u: &u}, token)
	return false
}

// responder makes the Bot API calls guard.Guard.Respond asks for, the
// tgbotapi way, for the update u.
type responder struct {
	bot *tgbotapi.BotAPI // nil: nothing can be sent
	u   *tgbotapi.Update
}

// call makes one Bot API call under ctx. tgbotapi's MakeRequest takes no
// context, so it runs on a copy of the bot whose client puts ctx on the
// request: its deadline reaches the HTTP client and an outbound throttle.
func (r responder) call(ctx context.Context, method string, p tgbotapi.Params) error {
	if r.bot == nil {
		return errNilBot
	}
	bot := *r.bot
	bot.Client = ctxClient{ctx: ctx, c: r.bot.Client}
	_, err := bot.MakeRequest(method, p)
	return err
}

// ctxClient sends each request under ctx.
type ctxClient struct {
	ctx context.Context
	c   tgbotapi.HTTPClient
}

func (c ctxClient) Do(req *http.Request) (*http.Response, error) {
	return c.c.Do(req.WithContext(c.ctx))
}

func (r responder) AnswerCallback(ctx context.Context, text string) error {
	p := tgbotapi.Params{"callback_query_id": r.u.CallbackQuery.ID}
	p.AddNonEmpty("text", text)
	return r.call(ctx, "answerCallbackQuery", p)
}

func (r responder) AnswerInline(ctx context.Context) error {
	// Not tgbotapi.InlineConfig: it drops cache_time 0, and Telegram would
	// then cache the empty answer for 300 s.
	return r.call(ctx, "answerInlineQuery", tgbotapi.Params{"inline_query_id": r.u.InlineQuery.ID,
		"results": "[]", "cache_time": "0", "is_personal": "true"})
}

func (r responder) SendNotice(ctx context.Context, chatID int64, text string) error {
	p := tgbotapi.Params{"text": text}
	p.AddNonZero64("chat_id", chatID)
	return r.call(ctx, "sendMessage", p)
}

// Filter returns a channel of the updates from in that pass g, in order;
// Check handles the others. It checks one update at a time, in one
// goroutine; the answers and notices for the dropped ones are sent off it,
// so a notice waiting for a busy group's outbound lane holds up no other
// update. The channel is closed when in is closed or ctx is done; after
// ctx is done Filter reads nothing more from in.
//
// Filter does not stop the poller: call bot.StopReceivingUpdates exactly
// once (twice panics), then drain in until it is closed, as the poller
// blocks on a full channel and finishes its current long poll before it
// closes in.
//
// Filter panics when bot or g is nil: a wiring mistake, reported when the
// bot starts rather than on the first update.
func Filter(ctx context.Context, bot *tgbotapi.BotAPI, g *guard.Guard, in tgbotapi.UpdatesChannel) <-chan tgbotapi.Update {
	if bot == nil || g == nil {
		panic("tgbotapilimit: Filter needs a non-nil *tgbotapi.BotAPI and *guard.Guard")
	}
	out := make(chan tgbotapi.Update)
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case u, ok := <-in:
				if !ok {
					return
				}
				if !Check(ctx, bot, g, u) {
					continue
				}
				select {
				case out <- u:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}
