package telebotlimit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/floodgate-go/floodgate/guard"
	tele "gopkg.in/telebot.v3"
)

// UpdateOf returns what a Guard needs to know about u. It reads the update's
// fields directly, checking every pointer, so it never panics: not on a nil
// u, a channel post (no sender), an inline query (no chat), a callback
// under an inline message (no Message), a poll (neither), or an update of a
// kind telebot v3.3.8 does not know (all fields nil: KindOther). It does
// not know the bot, so a command addressed to any bot counts as a command
// (guard.CommandOf); Middleware and Poller tell commands for other bots
// apart (guard.CommandTo with Bot.Me's username).
func UpdateOf(u *tele.Update) guard.Update { return updateOf(u, "") }

// updateOf is UpdateOf for the bot named me ("" if not known).
func updateOf(u *tele.Update, me string) guard.Update {
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
	case u.Callback != nil:
		cu := guard.Update{Kind: guard.KindCallbackQuery, UserID: userID(u.Callback.Sender), LanguageCode: language(u.Callback.Sender),
			Payload: callbackData(u.Callback)}
		if m := u.Callback.Message; m != nil { // nil for a button under an inline message
			cu.ChatID, cu.ChatType = chatOf(m.Chat)
		}
		return cu
	case u.Query != nil:
		return guard.Update{Kind: guard.KindInlineQuery, UserID: userID(u.Query.Sender), LanguageCode: language(u.Query.Sender)}
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

func messageUpdate(kind guard.Kind, m *tele.Message, me string) guard.Update {
	cu := guard.Update{Kind: kind, UserID: userID(m.Sender), Command: guard.CommandTo(m.Text, me),
		LanguageCode: language(m.Sender), MediaGroupID: m.AlbumID, Payload: guard.MessagePayload(m.Text, m.Caption, m.AlbumID)}
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

func language(u *tele.User) string {
	if u == nil {
		return ""
	}
	return u.LanguageCode
}

func chatOf(c *tele.Chat) (int64, string) {
	if c == nil {
		return 0, ""
	}
	return c.ID, string(c.Type)
}

// Option configures Middleware and Poller.
type Option func(*config)

type config struct {
	client *http.Client // nil: Bot.Raw
}

// WithClient makes the Bot API calls on denials (answers, notices) with c,
// which should be the client the bot was built with (tele.Settings.Client,
// e.g. an outbound.Throttle's). Through it each call carries its deadline
// (guard.WithActions), so a throttle refuses at once a notice its lane
// cannot admit in time. Without it the calls go through Bot.Raw, which
// takes no context: a throttle would hold a notice for a busy group up to
// its maximum wait and deliver it late, and the Guard cannot tell.
func WithClient(c *http.Client) Option { return func(cfg *config) { cfg.client = c } }

// Middleware returns telebot middleware that lets an update reach the
// handler only when g passes it (see the package documentation for what
// happens to the others). Register it with b.Use before any b.Handle, with
// a group's Use, or for one endpoint: b.Handle("/report", h, Middleware(g2)).
//
// telebot gives handlers no context.Context, so each decision runs under
// context.Background(): a slow store is bounded by the store's own
// timeouts (store.Open sets them). The handler's error is returned as is;
// a dropped update returns nil at once: its answers and notice are sent
// off the update's path (guard.Guard.Respond), and failed ones are logged
// through g, never returned.
//
// Middleware panics if g is nil: a wiring mistake, reported when the bot is
// built rather than on the first update. It never panics afterwards.
func Middleware(g *guard.Guard, opts ...Option) tele.MiddlewareFunc {
	if g == nil {
		panic("telebotlimit: Middleware needs a non-nil *guard.Guard")
	}
	cfg := newConfig(opts)
	return func(next tele.HandlerFunc) tele.HandlerFunc {
		return func(c tele.Context) error {
			if c != nil && !allow(g, c, cfg) {
				return nil
			}
			return next(c)
		}
	}
}

func newConfig(opts []Option) config {
	var c config
	for _, opt := range opts {
		if opt != nil {
			opt(&c)
		}
	}
	return c
}

// Poller returns a poller that checks every update p delivers with g before
// the bot sees it, including updates no handler matches; use it instead of
// Middleware, not with it (each update would be counted twice). It filters
// one update at a time, in order, on the poller's goroutine; the answers
// and notices for dropped updates are sent off it (guard.Guard.Respond).
//
// Poller panics if g or p is nil.
func Poller(g *guard.Guard, p tele.Poller, opts ...Option) tele.Poller {
	if g == nil || p == nil {
		panic("telebotlimit: Poller needs a non-nil *guard.Guard and tele.Poller")
	}
	return &poller{g: g, p: p, cfg: newConfig(opts)}
}

type poller struct {
	g   *guard.Guard
	p   tele.Poller
	cfg config
}

func (p *poller) Poll(b *tele.Bot, dest chan tele.Update, stop chan struct{}) {
	tele.NewMiddlewarePoller(p.p, func(u *tele.Update) bool {
		return allow(p.g, b.NewContext(*u), p.cfg)
	}).Poll(b, dest, stop)
}

// errNoBot is logged for each action that could not be taken because the
// context has no bot.
var errNoBot = errors.New("telebotlimit: context has no *tele.Bot, nothing was sent")

// allow decides c's update with g and, on a denial, has it answered
// through c's bot (see guard.Guard.Respond).
func allow(g *guard.Guard, c tele.Context, cfg config) bool {
	ctx := context.Background()
	u := c.Update()
	b := c.Bot()
	me := ""
	if b != nil && b.Me != nil {
		me = b.Me.Username
	}
	cu := updateOf(&u, me)
	v := g.Check(ctx, cu)
	if v.Pass {
		return true
	}
	r := responder{b: b, client: cfg.client, u: &u}
	token := ""
	if b != nil {
		token = b.Token
	}
	g.Respond(ctx, cu, v, r, token)
	return false
}

// responder makes the Bot API calls guard.Guard.Respond asks for, the
// telebot way, for the update u.
type responder struct {
	b      *tele.Bot    // nil: nothing can be sent
	client *http.Client // nil: b.Raw, without ctx
	u      *tele.Update
}

func (r responder) AnswerCallback(ctx context.Context, text string) error {
	params := map[string]any{"callback_query_id": r.u.Callback.ID}
	if text != "" {
		params["text"] = text
	}
	return r.call(ctx, "answerCallbackQuery", params)
}

func (r responder) AnswerInline(ctx context.Context) error {
	// Not c.Answer: tele.QueryResponse omits cache_time 0, and Telegram
	// would then cache the empty answer for 300 s.
	return r.call(ctx, "answerInlineQuery", map[string]any{"inline_query_id": r.u.Query.ID,
		"results": []any{}, "cache_time": 0, "is_personal": true})
}

func (r responder) SendNotice(ctx context.Context, chatID int64, text string) error {
	// No parse_mode: plain text, whatever the bot's default ParseMode.
	return r.call(ctx, "sendMessage", map[string]any{"chat_id": chatID, "text": text})
}

// call makes one Bot API call under ctx through r.client, or through
// Bot.Raw (which cannot take ctx) when there is none.
func (r responder) call(ctx context.Context, method string, params map[string]any) error {
	if r.b == nil {
		return errNoBot
	}
	if r.client == nil {
		_, err := r.b.Raw(method, params)
		return err
	}
	body, err := json.Marshal(params)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.b.URL+"/bot"+r.b.Token+"/"+method, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var reply struct {
		OK          bool   `json:"ok"`
		Code        int    `json:"error_code"`
		Description string `json:"description"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&reply); err != nil {
		return fmt.Errorf("telebotlimit: %s: HTTP %d: %w", method, resp.StatusCode, err)
	}
	if !reply.OK {
		return fmt.Errorf("telebotlimit: %s: telegram: %s (%d)", method, reply.Description, reply.Code)
	}
	return nil
}
