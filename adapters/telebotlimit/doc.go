// Package telebotlimit puts a floodgate [guard.Guard] in front of a bot built
// with gopkg.in/telebot.v3 (v3.3.8, imported as tele). [Middleware] is
// telebot middleware for the whole bot, a group or one endpoint; [Poller]
// filters every update before telebot dispatches it; both describe updates
// to the Guard with [UpdateOf].
//
// The package has one option of its own, WithClient (see "Context and
// timeouts"): key choice, bypass list, per-command limits, notices,
// albums, penalties and the logger are set on the Guard (guard.New), with
// the same names for every framework; the failure policy is the store's
// (store.Open).
//
// # Usage
//
// Build a Guard once, then add one line before your handlers:
//
//	fg, err := setup.Open(ctx, setup.Options{}) // store, limiter and Guard from the environment
//	defer fg.Close()
//
//	b.Use(telebotlimit.Middleware(fg.Guard)) // before any b.Handle
//	b.Handle(tele.OnText, onText)
//
// b.Use must come before b.Handle: telebot copies the middleware list into
// each handler when it is registered, so handlers added earlier are not
// limited. The middleware also works on a group, or on one endpoint with
// a Guard of its own (e.g. a tighter limit under another rule name):
//
//	admin := b.Group()
//	admin.Use(telebotlimit.Middleware(fg.Guard))
//	b.Handle("/report", onReport, telebotlimit.Middleware(reportGuard))
//
// Or check every update the poller fetches, in place of the middleware
// (not in addition to it: each update would be counted twice):
//
//	b, err := tele.NewBot(tele.Settings{
//		Token:  token,
//		Poller: telebotlimit.Poller(fg.Guard, &tele.LongPoller{Timeout: 30 * time.Second}),
//		Client: &http.Client{Timeout: 40 * time.Second}, // longer than the poll
//	})
//
// # Which updates are checked
//
// telebot runs middleware only for updates that match a registered
// endpoint: a command ("/start"), a text or OnText, OnCallback or a
// button's unique, OnQuery, OnChannelPost, and so on. An update no handler
// matches is neither counted nor answered by Middleware; in particular a
// button press with no handler for it is not answered, so its spinner runs
// until Telegram gives up, exactly as without floodgate. telebot also has
// no endpoint for message_reaction updates. [Poller] (built on
// tele.NewMiddlewarePoller) sees every update the inner poller delivers,
// handled or not, and drops the throttled ones before telebot starts a
// goroutine for them.
//
// # What happens to throttled updates
//
// A throttled update never reaches your handler. Depending on its kind, the
// adapter also calls the Bot API so the user is not left waiting:
//
//	Update kind                      Keyed by (guard.ByUser)    On a denial
//	message, edited_message          sender (from.id)           dropped; the "slow down" notice is sent to the
//	                                                            chat once per cooldown per key (sendMessage,
//	                                                            plain text whatever the bot's ParseMode)
//	message from an anonymous admin  the group (sender_chat)    as message: notice to the group once per cooldown
//	channel_post, edited_channel_    the channel (sender_chat)  dropped silently (no notice into a channel)
//	post
//	callback_query                   sender                     dropped; answerCallbackQuery with the notice
//	                                                            text once per cooldown, else the Guard's
//	                                                            callback text ("" by default): the spinner stops
//	callback_query on an inline      sender                     as callback_query (no chat, no sendMessage)
//	message (no message)
//	inline_query                     sender                     dropped; answerInlineQuery with results [],
//	                                                            cache_time 0, is_personal true
//	chosen_inline_result             sender                     dropped silently
//	shipping_query,                  -                          never throttled (passed uncounted)
//	pre_checkout_query
//	poll_answer                      user, or voter_chat for    dropped silently
//	                                 an anonymous vote
//	my_chat_member, chat_member,     sender (from)              dropped silently
//	chat_join_request
//	message_reaction (Poller only)   user, or actor_chat        dropped silently
//	poll, message without from,      nothing: unkeyed           follow guard.WithUnkeyed (default: pass)
//	chat_boost, removed_chat_boost,
//	unknown update kinds
//
// With another key function (guard.ByChat, guard.ByUserInChat, ...) the
// middle column changes; the actions do not. An update denied while the
// store is out (the store's core.FailClosed policy) gets the same answers
// (a callback with the Guard's callback text), never a notice.
//
// The throttled inline query is answered with a raw answerInlineQuery,
// not c.Answer: tele.QueryResponse leaves out a cache_time of 0, and
// Telegram would then cache the empty answer for 300 s. Payment queries
// (pre_checkout_query, shipping_query) are never throttled: the Guard
// passes them, since Telegram cancels a payment whose query goes unanswered.
//
// A dropped update makes the middleware return nil, so Settings.OnError is
// not called for throttling. A Bot API call that fails is logged through
// the Guard's logger (guard.WithLogger) with the bot token removed, and
// never returned: the bot goes on.
//
// # Context and timeouts
//
// telebot handlers get no context.Context, so each decision runs under
// context.Background(). A slow or unreachable store is bounded by the
// store's timeout (FLOODGATE_TIMEOUT, core.Resilience.Timeout: 50 ms by
// default), and its failure policy (FLOODGATE_FAILURE_POLICY) then
// decides; set ContextTimeoutEnabled on a Redis client you build yourself
// so the deadline reaches its socket.
//
// The Bot API calls made on a denial run off the update's path, on a
// goroutine of the Guard's, each denial's within a deadline
// (guard.WithActions, 5 s by default). Pass the bot's client with
// WithClient (Middleware(g, WithClient(client)), the same *http.Client as
// tele.Settings.Client) so that the deadline reaches the request: an
// outbound throttle then refuses at once a notice a busy group's lane
// cannot take in time, and the Guard drops and counts it. Without
// WithClient the calls go through Bot.Raw, which takes no context: such a
// notice would wait in the throttle and arrive late.
//
// # Concurrency
//
// UpdateOf and the functions Middleware and Poller return are safe for
// concurrent use. telebot runs each handler, and so the middleware, in its
// own goroutine (unless Settings.Synchronous is set), so updates are
// decided concurrently. Poller decides one update at a time, in the order
// the inner poller delivers them, on the poller's goroutine; neither waits
// for the Bot API calls a denial makes.
// Several bot instances (processes) share one limit, and one notice per
// cooldown, when their Guards use the same Redis store and prefix.
//
// # Panics
//
// Middleware panics when given a nil Guard, and Poller when given a nil
// Guard or poller: a wiring mistake, reported when the bot is built rather
// than on the first update. Nothing else panics. A nil tele.Context is
// passed on to the handler unchecked; a context without a bot is still
// decided, and the answers it could not send are logged.
package telebotlimit
