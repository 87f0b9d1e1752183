// Package gotelegramlimit puts a floodgate [guard.Guard] in front of a bot
// built with github.com/go-telegram/bot (v1.19.0). [Middleware] is a
// go-telegram/bot middleware; [UpdateOf] describes a *models.Update to the
// Guard. [Client] paces what the bot sends, through an outbound.Throttle,
// as the bot's HTTP client (docs/outbound.md).
//
// The package has no options of its own: key choice, bypass list,
// per-command limits, notices, penalties and the logger are set on the
// Guard (guard.New), with the same names for every framework; the failure
// policy is the store's (store.Open).
//
// # Usage
//
// Install the middleware when the bot is built. go-telegram/bot applies
// the bot's middlewares to every update, whichever handler (or the default
// handler) takes it:
//
//	fg, err := setup.Open(ctx, setup.Options{}) // store, limiter, Guard and throttle from the environment
//	defer fg.Close()
//	b, err := bot.New(token,
//		bot.WithMiddlewares(gotelegramlimit.Middleware(fg.Guard)),
//		bot.WithHTTPClient(pollTimeout, gotelegramlimit.Client(fg.Throttle, &http.Client{Timeout: ...})),
//		bot.WithDefaultHandler(...))
//	b.Start(ctx) // or b.StartWebhook(ctx) behind b.WebhookHandler()
//
// Long polling and webhooks are the same: both hand each update to the
// middlewares. To limit only some updates, pass the middleware to one
// handler instead (b.RegisterHandler(..., handler, gotelegramlimit.Middleware(g))):
// it then sees only the updates that handler matches. Put one Guard on an
// update's path once: a guarded handler inside a guarded bot counts its
// updates twice.
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
//	poll, message without from,      nothing: unkeyed           follow guard.WithUnkeyed (default: pass)
//	purchased_paid_media,
//	message_reaction_count,
//	chat_boost, removed_chat_boost,
//	business_connection, deleted_
//	business_messages, unknown kinds
//
// With another key function (guard.ByChat, guard.ByUserInChat, ...) the
// middle column changes; the actions do not. An update denied while the
// store is out (the store's core.FailClosed policy) gets the same actions
// (a callback is answered with the callback text), never a notice.
//
// cache_time is 1, not 0: go-telegram/bot's AnswerInlineQueryParams omits
// a zero cache_time, and Telegram then caches the empty answer for 300 s;
// one second, per user, is the least it can send.
//
// Payment queries are never throttled: Telegram cancels a payment whose
// pre_checkout_query goes unanswered.
//
// # Errors
//
// go-telegram/bot handlers return nothing, so neither does the middleware.
// A failed Bot API call of the middleware (a 429, a network error) is
// logged through the Guard's logger (guard.WithLogger) by
// guard.Guard.Respond, with the bot token cut out. The update stays
// dropped.
//
// # Outbound
//
// go-telegram/bot streams every request as multipart/form-data through a
// pipe, which net/http cannot replay. Give the bot [Client] rather than
// throttle.Client(c): it buffers request bodies of up to 1 MiB so that the
// throttle can retry a 429; larger uploads stream through it, paced, and
// their 429 is returned. Set the client with bot.WithHTTPClient, whose
// first argument is the long-poll length, and keep the client's Timeout
// above outbound's maximum wait plus that length.
//
// # Concurrency
//
// Middleware, UpdateOf and Client are safe for concurrent use.
// go-telegram/bot runs each update's handler chain in its own goroutine
// (unless bot.WithNotAsyncHandlers), so the middleware decides several
// updates at once; the Guard is safe for concurrent use and the store
// decides atomically, so counts are exact whatever the order, though which
// updates of a burst pass depends on scheduling. The middleware decides in
// the update's goroutine, under the handler's context, which is the one
// given to Start or StartWebhook: once it is cancelled an update in flight
// ends with context.Canceled and follows guard.WithErrorAction. The Bot API
// calls a denial makes run off that path, on a goroutine of the Guard's,
// with the context's values but a deadline of their own
// (guard.WithActions), which go-telegram/bot's methods hand to the HTTP
// client (and so to an outbound throttle): a notice a full lane would hold
// for a minute is dropped, and no other update waits for it. Call
// guard.Guard.Wait at shutdown, before closing the client's transport.
// Several bot instances (processes) share one limit, and one notice per
// cooldown, when their Guards use the same Redis store and prefix.
//
// # Albums, languages, commands
//
// The middleware fills guard.Update's MediaGroupID (the items of an album
// are one event for the Guard), LanguageCode (from.language_code, for
// localized texts: guard.TextFunc) and Command, which is "" for a command
// addressed to another bot (/report@OtherBot; guard.CommandTo). Since
// go-telegram/bot does not keep the bot's username, the middleware asks
// getMe once, the first time a command names a bot, and remembers it.
//
// # Panics
//
// Middleware panics when given a nil Guard, and Client a nil throttle:
// wiring mistakes, reported when the bot is built rather than on the first
// update. Nothing else in the package panics: UpdateOf checks every
// pointer, and a handler called with a nil bot only makes each action fail
// and be logged.
package gotelegramlimit
