// Package telegolimit puts a floodgate [guard.Guard] in front of a bot built
// with github.com/mymmrac/telego v1 (v1.11.1) and its handler package
// telegohandler (imported as th). [Middleware] is a telegohandler
// middleware; [UpdateOf] describes a telego.Update to the Guard. [Caller] paces
// what the bot sends, through an outbound.Throttle, on telego's default
// fasthttp transport (docs/outbound.md).
//
// The package has no options of its own: key choice, bypass list,
// per-command limits, notices, penalties and the logger are set on the
// Guard (guard.New), with the same names for every framework; the failure
// policy is the store's (store.Open).
//
// # Usage
//
// Add the middleware to the bot handler before any handler: telegohandler
// tries routes in registration order, and a middleware registered after a
// handler never sees the updates that handler took.
//
//	fg, err := setup.Open(ctx, setup.Options{}) // store, limiter and Guard from the environment
//	defer fg.Close()
//	bh, err := th.NewBotHandler(bot, updates)
//	bh.Use(telegolimit.Middleware(fg.Guard))
//	bh.HandleMessage(...) // only updates within the limit get here
//
// Long polling and webhooks are the same: both feed bh through the updates
// channel. To limit only some updates, use the middleware in a group; it
// then sees only the updates that match the group's predicates:
//
//	commands := bh.Group(th.AnyCommand())
//	commands.Use(telegolimit.Middleware(fg.Guard))
//
// A middleware registered with Use sees every update that reaches its group,
// whether or not a handler matches it. Put one Guard on an update's path
// once: a guarded group inside a guarded bot handler counts its updates
// twice. The middleware has no predicates, so telegohandler does not clone
// the update for it (predicate routes clone each update through JSON).
//
// Use net/http for the bot (telego.WithHTTPClient), not telego's default
// fasthttp: fasthttp ignores context cancellation, so neither a stopping
// bot handler nor a deadline could cut short the guard's Bot API calls.
//
// # What happens to throttled updates
//
// A throttled update never reaches the next middleware or handler.
// Depending on its kind, the middleware also calls the Bot API, so the user
// is not left waiting:
//
//	Update kind                      Keyed by (guard.ByUser)    On a denial
//	message, edited_message          sender (from.id)           dropped; the "slow down" notice is sent to the
//	                                                            chat once per cooldown per key (sendMessage)
//	message from an anonymous admin  the group (sender_chat)    as message: notice to the group once per cooldown
//	business_message, edited_        sender                     as message; the notice carries the update's
//	business_message                                            business_connection_id
//	channel_post, edited_channel_    the channel (sender_chat)  dropped silently (no notice into a channel)
//	post
//	callback_query                   sender                     dropped; answerCallbackQuery with the notice
//	                                                            text once per cooldown, else the Guard's
//	                                                            callback text ("" by default): the spinner stops
//	callback_query on an inline      sender                     as callback_query (no chat, no sendMessage)
//	message (no message)
//	inline_query                     sender                     dropped; answerInlineQuery with no results
//	                                                            (results []), is_personal true, cache_time 1
//	chosen_inline_result             sender                     dropped silently
//	shipping_query,                  -                          never throttled (passed uncounted)
//	pre_checkout_query
//	poll_answer                      the voter, or voter_chat   dropped silently
//	my_chat_member, chat_member,     sender (from)              dropped silently
//	chat_join_request
//	message_reaction                 the user, or actor_chat    dropped silently
//	guest_message                    sender (kind "other")      dropped silently (answerGuestQuery is yours)
//	poll, message without from,      nothing: unkeyed           follow guard.WithUnkeyed (default: pass)
//	purchased_paid_media,
//	subscription, chat_boost,
//	business_connection, ...,
//	unknown update kinds
//
// With another key function (guard.ByChat, guard.ByUserInChat, ...) the
// middle column changes; the actions do not. An update denied while the
// store is out (the store's core.FailClosed policy) gets the same actions
// (a callback is answered with the callback text), never a notice.
//
// cache_time is 1, not 0: telego's AnswerInlineQueryParams omits a zero
// cache_time, and Telegram then caches the empty answer for 300 s; one
// second, per user, is the least telego can send.
//
// Payment queries are never throttled: Telegram cancels a payment whose
// pre_checkout_query goes unanswered.
//
// # Errors
//
// For a dropped update the middleware returns nil, so telegohandler's error
// handler does not hear of it; for a passed update it returns what
// ctx.Next returns (your handlers' errors). In telegohandler v1.11.1 an
// error returned from a middleware or handler is not fatal and is not
// retried: BotHandler passes it to the handler set with th.WithErrorHandler,
// or by default logs it with the bot's logger ("Error processing update N,
// err: ..."), and goes on; HandlerGroup.HandleUpdate returns it to its
// caller.
//
// A failed Bot API call of the middleware (a 429, a network error) is
// logged through the Guard's logger (guard.WithLogger) by
// guard.Guard.Respond, with the bot token cut out; telego's own
// logger reports it too ("Execution error ..."; its default logger hides
// the token). The update stays dropped.
//
// # Concurrency
//
// Middleware and UpdateOf are safe for concurrent use. telegohandler runs
// each update in its own goroutine, so the middleware decides several
// updates at once; the Guard is safe for concurrent use and the store
// decides atomically, so counts are exact whatever the order, though which
// updates of a burst pass depends on scheduling. The middleware decides in
// the update's goroutine, under the handler context (*th.Context is a
// context.Context); the Bot API calls a denial makes run off it, on a
// goroutine of the Guard's, with the context's values but a deadline of
// their own (guard.WithActions), which telego hands to its HTTP client or
// Caller (and so to an outbound throttle). telegohandler cancels the
// handler context when the
// bot handler stops (BotHandler.Stop, StopWithContext): an update in flight
// then ends with its context (context.Canceled) and follows
// guard.WithErrorAction. Several bot instances (processes) share one limit,
// and one notice per cooldown, when their Guards use the same Redis store
// and prefix.
//
// # Panics
//
// Middleware panics when given a nil Guard: a wiring mistake, reported when
// the bot is built rather than on the first update. Nothing else in the
// package panics: UpdateOf checks every pointer, and a handler context
// without a bot (HandlerGroup.HandleUpdate with a nil bot) only makes each
// action fail and be logged.
package telegolimit
