package tgbotapilimit

import (
	"context"
	"errors"
	"log/slog"
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
func UpdateOf(u tgbotapi.Update) guard.Update {
	switch {
	case u.Message != nil:
		return messageUpdate(guard.KindMessage, u.Message)
	case u.EditedMessage != nil:
		return messageUpdate(guard.KindEditedMessage, u.EditedMessage)
	case u.ChannelPost != nil:
		return messageUpdate(guard.KindChannelPost, u.ChannelPost)
	case u.EditedChannelPost != nil:
		return messageUpdate(guard.KindEditedChannelPost, u.EditedChannelPost)
	case u.CallbackQuery != nil:
		cu := guard.Update{Kind: guard.KindCallbackQuery, UserID: userID(u.CallbackQuery.From), Payload: u.CallbackQuery.Data}
		if m := u.CallbackQuery.Message; m != nil { // nil for a button under an inline message
			cu.ChatID, cu.ChatType = chatOf(m.Chat)
		}
		return cu
	case u.InlineQuery != nil:
		return guard.Update{Kind: guard.KindInlineQuery, UserID: userID(u.InlineQuery.From)}
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

func messageUpdate(kind guard.Kind, m *tgbotapi.Message) guard.Update {
	cu := guard.Update{Kind: kind, UserID: userID(m.From), Command: guard.CommandOf(m.Text),
		Payload: guard.MessagePayload(m.Text, m.Caption, m.MediaGroupID)}
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
// bot's handlers. On a denial it first acts, synchronously, through bot:
// it answers a callback query (with the Verdict's CallbackText, possibly
// empty, so the button stops spinning), answers an inline query with no
// results (cache_time 0, is_personal true), and sends the Verdict's Notice,
// if any, to the update's chat (guard.Guard.Respond). A failed call is
// logged through g, token removed; Check never returns an error.
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
	cu := UpdateOf(u)
	v := g.Check(ctx, cu)
	if v.Pass {
		return true
	}
	token := ""
	if bot != nil {
		token = bot.Token
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

func (r responder) call(method string, p tgbotapi.Params) error {
	if r.bot == nil {
		return errNilBot
	}
	_, err := r.bot.MakeRequest(method, p)
	return err
}

func (r responder) AnswerCallback(_ context.Context, text string) error {
	p := tgbotapi.Params{"callback_query_id": r.u.CallbackQuery.ID}
	p.AddNonEmpty("text", text)
	return r.call("answerCallbackQuery", p)
}

func (r responder) AnswerInline(context.Context) error {
	// Not tgbotapi.InlineConfig: it drops cache_time 0, and Telegram would
	// then cache the empty answer for 300 s.
	return r.call("answerInlineQuery", tgbotapi.Params{"inline_query_id": r.u.InlineQuery.ID,
		"results": "[]", "cache_time": "0", "is_personal": "true"})
}

func (r responder) SendNotice(_ context.Context, chatID int64, text string) error {
	p := tgbotapi.Params{"text": text}
	p.AddNonZero64("chat_id", chatID)
	return r.call("sendMessage", p)
}

// Filter returns a channel of the updates from in that pass g, in order;
// Check handles the others. It checks one update at a time, in one
// goroutine. The channel is closed when in is closed or ctx is done; after
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
