// Package gotgbotlimit puts a floodgate [guard.Guard] in front of a bot
// built with github.com/PaulSonOfLars/gotgbot/v2 (v2.0.0-rc.33) and its ext
// package. [Processor] is an ext.Processor, the dispatcher's extension point
// for logic around every update; [Handler] is an ext.Handler for a handler
// group, to guard some updates only; [UpdateOf] describes a *gotgbot.Update
// to the Guard.
//
// The package has no options of its own: key choice, bypass list,
// per-command limits, notices, penalties and the logger are set on the
// Guard (guard.New), with the same names for every framework; the failure
// policy is the store's (store.Open).
//
// # Usage
//
// Make the processor the dispatcher's. It sees every update once, whether
// or not a handler matches it:
//
//	fg, err := setup.Open(ctx, setup.Options{}) // store, limiter, Guard and throttle from the environment
//	defer fg.Close()
//	d := ext.NewDispatcher(&ext.DispatcherOpts{Processor: gotgbotlimit.Processor(fg.Guard, nil)})
//	d.AddHandler(...) // only updates within the limit get here
//
// Long polling (Updater.StartPolling) and webhooks (Updater.AddWebhook)
// are the same: both feed the dispatcher. To limit only some updates, add
// a Handler with a filter in a group numbered below the bot's handlers:
//
//	d.AddHandlerToGroup(gotgbotlimit.Handler(fg.Guard, isCommand), -1)
//
// It ends the handling of an update it drops (ext.EndGroups) and lets the
// next group run otherwise. Use the processor or the handler, not both: an
// update would be counted twice.
//
// # Outbound
//
// gotgbot sends through a net/http client, so the outbound throttle is
// wired as that client: BaseBotClient{Client: *fg.Throttle.Client(c)}
// (docs/outbound.md). gotgbot sends JSON bodies that net/http can replay,
// so a 429 is retried; uploads stream through the throttle, paced, and
// their 429 is returned. The request timeout (RequestOpts.Timeout) covers
// the wait in the throttle: keep it above outbound's maximum wait.
//
// # What happens to throttled updates
//
// A throttled update never reaches the handlers. Depending on its kind,
// the processor also calls the Bot API, so the user is not left waiting:
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
// cache_time is 1, not 0: gotgbot omits a zero cache_time, and Telegram
// then caches the empty answer for 300 s; one second, per user, is the
// least it can send.
//
// Payment queries are never throttled: Telegram cancels a payment whose
// pre_checkout_query goes unanswered.
//
// # Errors
//
// For a dropped update the processor returns nil (the handler returns
// ext.EndGroups), so the dispatcher's error handlers do not hear of it;
// for a passed update the processor returns what the next processor
// returns. A failed Bot API call of the processor (a 429, a network error)
// is logged through the Guard's logger (guard.WithLogger) by
// guard.Guard.Respond, with the bot token cut out. The update stays
// dropped.
//
// # Concurrency
//
// Processor, Handler and UpdateOf are safe for concurrent use. The
// dispatcher runs each update in its own goroutine (up to
// DispatcherOpts.MaxRoutines at once), so the processor decides several
// updates at once; the Guard is safe for concurrent use and the store
// decides atomically, so counts are exact whatever the order, though which
// updates of a burst pass depends on scheduling. gotgbot gives processors
// and handlers no context.Context, so each decision runs under
// context.Background(), bounded by the store's own timeouts (store.Open
// sets them). The Bot API calls a denial makes run off the update's path,
// on a goroutine of the Guard's, under a deadline of their own
// (guard.WithActions) that the processor hands to gotgbot's *WithContext
// methods (and so to an outbound throttle in the bot's http.Client): a
// notice a full lane would hold for a minute is dropped, and no other
// update waits for it. Call guard.Guard.Wait at shutdown, before closing
// the client's transport. Several bot instances (processes) share one
// limit, and one notice per cooldown, when their Guards use the same Redis
// store and prefix.
//
// # Albums, languages, commands
//
// The processor fills guard.Update's MediaGroupID (the items of an album
// are one event for the Guard), LanguageCode (from.language_code, for
// localized texts: guard.TextFunc) and Command, which is "" for a command
// addressed to another bot (/report@OtherBot; guard.CommandTo with
// b.Username, which gotgbot.NewBot fills from getMe; a bot built with
// DisableTokenCheck has its username asked once, the first time a command
// names a bot).
//
// # Panics
//
// Processor and Handler panic when given a nil Guard: a wiring mistake,
// reported when the bot is built rather than on the first update. Nothing
// else in the package panics: UpdateOf checks every pointer, and a nil bot
// only makes each action fail and be logged.
package gotgbotlimit
