package guard

import (
	"context"
	"log/slog"
)

// Responder makes, in one framework's own way, the Bot API calls with which
// Guard.Respond answers a dropped update. An adapter implements it for the
// update at hand; Respond decides which calls to make. Each method returns
// the call's error, which Respond reports and does not return.
type Responder interface {
	// AnswerCallback answers the update's callback query with text, which
	// may be empty: the answer still stops the button's spinner.
	AnswerCallback(ctx context.Context, text string) error
	// AnswerInline answers the update's inline query with no results,
	// personal, cached as briefly as the framework can ask (cache_time 0
	// where it can send it: Telegram caches an omitted one for 300 s).
	AnswerInline(ctx context.Context) error
	// SendNotice sends text, as plain text, to the chat chatID (the
	// update's).
	SendNotice(ctx context.Context, chatID int64, text string) error
}

// Respond acts on a Verdict that dropped u, through r, so that the user is
// not left waiting: it answers a callback query with v.CallbackText (the
// button stops spinning), answers an inline query with no results, and
// then sends v.Notice, if any, to u's chat. It makes the calls
// synchronously, under ctx, and does nothing when v passes u.
//
// Each call is reported to the Observer (WithObserver) by its Bot API
// method name ("answerCallbackQuery", "answerInlineQuery", "sendMessage");
// a failed one is also logged at warn level with token, the bot token, cut
// out of the error text (HTTP clients put the request URL, token included,
// in their errors). Respond returns nothing: a failed answer leaves the
// update dropped. It never panics on a partial Update.
func (g *Guard) Respond(ctx context.Context, u Update, v Verdict, r Responder, token string) {
	if v.Pass {
		return
	}
	switch u.Kind {
	case KindCallbackQuery:
		g.report(ctx, "answerCallbackQuery", u, token, r.AnswerCallback(ctx, v.CallbackText))
	case KindInlineQuery:
		g.report(ctx, "answerInlineQuery", u, token, r.AnswerInline(ctx))
	}
	if v.Notice != "" {
		g.report(ctx, "sendMessage", u, token, r.SendNotice(ctx, u.ChatID, v.Notice))
	}
}

// report tells the Observer of one call made on a denial, and logs it at
// warn level, token cut out, when it failed.
func (g *Guard) report(ctx context.Context, action string, u Update, token string, err error) {
	if o := g.cfg.observer; o != nil {
		o.Action(ActionEvent{Action: action, Kind: u.Kind, Err: err})
	}
	if err == nil {
		return
	}
	g.cfg.logger.LogAttrs(ctx, slog.LevelWarn, "floodgate: could not act on a throttled update",
		slog.String("action", action), slog.String("kind", u.Kind.String()),
		slog.String("error", Redact(err.Error(), token)))
}
