// Package tgbotapilimit puts a floodgate [guard.Guard] in front of a bot
// built with github.com/go-telegram-bot-api/telegram-bot-api/v5 (v5.5.1,
// imported as tgbotapi). tgbotapi has no middleware, so the package offers
// a channel filter for long polling ([Filter]) and a one-update decision for
// webhooks ([Check]); both use [UpdateOf] to describe an update to the Guard.
//
// The package has no options of its own: key choice, bypass list, per-command
// limits, notices, penalties and the logger are set on the Guard
// (guard.New), with the same names for every framework; the failure policy
// is the store's (store.Open).
//
// # Usage
//
// Long polling: put Filter between the poller and your handler loop.
//
//	fg, err := setup.Open(ctx, setup.Options{}) // store, limiter and Guard from the environment
//	defer fg.Close()
//	updates := bot.GetUpdatesChan(tgbotapi.UpdateConfig{Timeout: 30})
//	for u := range tgbotapilimit.Filter(ctx, bot, fg.Guard, updates) {
//		handle(u) // only updates within the limit get here
//	}
//	bot.StopReceivingUpdates() // exactly once: a second call panics
//	for range updates {        // let the poller finish and close the channel
//	}
//
// Webhook: call Check in your own http.Handler after bot.HandleUpdate(r).
// (Use your own http.ServeMux and http.Server rather than
// bot.ListenForWebhook, which registers on http.DefaultServeMux: a second
// bot in the same process panics on the duplicate pattern.)
//
//	u, err := bot.HandleUpdate(r)
//	if err != nil {
//		http.Error(w, "bad update", http.StatusBadRequest)
//		return
//	}
//	if tgbotapilimit.Check(r.Context(), bot, fg.Guard, *u) {
//		handle(*u)
//	}
//	// answer 200 either way: a throttled update is dropped, not retried
//
// # What happens to throttled updates
//
// A throttled update never reaches your handlers. Depending on its kind,
// Check also calls the Bot API, so the user is not left waiting:
//
//	Update kind                      Keyed by (guard.ByUser)    On a denial
//	message, edited_message          sender (from.id)           dropped; the "slow down" notice is sent to the
//	                                                            chat once per cooldown per key (sendMessage)
//	message from an anonymous admin  the group (sender_chat)    as message: notice to the group once per cooldown
//	channel_post, edited_channel_    the channel (sender_chat)  dropped silently (no notice into a channel)
//	post
//	callback_query                   sender                     dropped; answerCallbackQuery with the notice
//	                                                            text once per cooldown, else the Guard's
//	                                                            callback text ("" by default): the spinner stops
//	callback_query on an inline      sender                     as callback_query (no chat, no sendMessage)
//	message (no Message)
//	inline_query                     sender                     dropped; answerInlineQuery with no results,
//	                                                            cache_time 0, is_personal true
//	chosen_inline_result             sender                     dropped silently
//	shipping_query,                  -                          never throttled (passed uncounted)
//	pre_checkout_query
//	poll_answer, my_chat_member,     sender (user / from)       dropped silently
//	chat_member, chat_join_request
//	poll, message without from,      nothing: unkeyed           follow guard.WithUnkeyed (default: pass)
//	unknown update kinds
//
// With another key function (guard.ByChat, guard.ByUserInChat, ...) the
// middle column changes; the actions do not. An update denied while the
// store is out (the store's core.FailClosed policy) gets the same actions
// (a callback is answered with the callback text), never a notice.
//
// Payment queries are never throttled: Telegram cancels a payment whose
// pre_checkout_query goes unanswered.
//
// # Concurrency
//
// UpdateOf, Check and Filter are safe for concurrent use. Check returns as
// soon as it has decided: the Bot API calls a denial makes run on a
// goroutine of the Guard's, each denial's within a deadline
// (guard.WithActions), which reaches bot.Client as the request's context
// (so an outbound throttle refuses at once a notice it cannot send in
// time). Filter
// checks updates one at a time in its own goroutine, in the order the
// poller delivers them, and its channel is unbuffered; to handle updates in
// parallel, read the channel from several goroutines. Several bot
// instances (processes) share one limit, and one notice per cooldown, when
// their Guards use the same Redis store and prefix.
//
// # Shutdown
//
// The channel Filter returns closes when in closes or ctx is done; after
// ctx is done Filter stops reading in. It does not stop the poller (it does
// not own it): the caller calls bot.StopReceivingUpdates exactly once and
// then drains in until it is closed. The poller closes in only after its
// current getUpdates returns (up to the poll timeout), and blocks for ever
// on a full channel nobody drains.
//
// # Panics
//
// Filter panics when given a nil bot or Guard, once, at start-up. Check
// never panics: a nil Guard lets every update through uncounted (warning
// once through slog.Default), so a wiring mistake does not silence the bot,
// matching the Guard's default guard.WithErrorAction(guard.Pass); a nil bot still
// decides, and logs each action it could not take.
package tgbotapilimit
