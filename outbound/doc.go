// Package outbound paces a bot's requests to the Telegram Bot API so that
// every instance of the bot, together, stays within Telegram's flood
// limits: about 30 messages per second overall, 1 per second to one
// private chat, 20 per minute to one group. Requests wait for their turn
// instead of failing; a 429 answer pauses the chat it concerns on every
// instance and is retried.
//
// # Use
//
// Build a Throttle over the store the bot's instances share (store.Open's,
// or setup.Open's Throttle, which does it for you), and hand the framework
// a client or caller that goes through it:
//
//	throttle, err := outbound.New(st, outbound.WithPrefix(prefix))
//	tele.Settings{Client: throttle.Client(&http.Client{Timeout: ...})}              // telebot
//	telego.WithHTTPClient(throttle.Client(&http.Client{...}))                       // telego, net/http
//	telego.WithAPICaller(telegolimit.Caller(throttle, nil))                         // telego, fasthttp
//	tgbotapi.NewBotAPIWithClient(token, endpoint, throttle.Client(&http.Client{...})) // tgbotapi
//
// # Lanes
//
// A throttled request (send* but sendChatAction, copy*, forward*,
// editMessage*, stopPoll, stopMessageLiveLocation) must pass the global
// lane and its chat's lane at once (SlidingWindow limits: at most N in any
// period). allow_paid_broadcast=true swaps the
// global lane for the paid lane. chat_id > 0 is a private chat, < 0 or
// @username a group or channel. Other methods (getUpdates, getMe,
// answerCallbackQuery, ...) are never delayed. Keys:
// "<prefix>:{bot:<id>}:out:global|paid|chat:<id>", one Redis Cluster slot
// per bot.
//
// # When a request is admitted
//
// At the end of its body (see Throttle.Do): the connection is made and an
// upload is sent first, the last byte is held until the lanes admit the
// request. Uploads stream through; their chat_id is found on the way,
// before or after the file, without holding the file in memory.
//
// # Waits, 429s and errors
//
// A request asks the store once for its slot (core.Store.Reserve: the
// earliest instant every lane admits it, recorded at once) and waits for
// it locally. One instance's requests ask in the order they asked the
// throttle; across instances, slots go in the order requests reach the
// store. Every request books its slot as it asks, however far ahead it
// lies, and a form or JSON request reaches the transport (and a
// connection) only a second before it, so a goroutine per recipient is
// fine: a Reserve reads a long lane at its two ends only, and costs the
// same for the ten-thousandth send as for the first. A request waits at
// most WithMaxWait (and its context's deadline) in
// total; a slot beyond that fails at once with an error wrapping
// ErrWaitTooLong, unsent. A 429 pauses the request's chat lane for
// retry_after through the store, then the request is sent again, up to
// WithRetries times, if its body can be replayed; a 429 on a request that
// names no chat pauses the global lane for at most a second, so no 429
// freezes the whole bot. Only 429s and failed dials are retried.
// Telegram's 429 answer reaches the caller when it is not retried.
//
// # Broadcasts
//
// Throttle.Broadcast sends one message to many chats: progress per
// recipient, 403s counted as Blocked, migrate_to_chat_id followed, a
// Cursor to persist and resume from, and a Summary.
//
// # Concurrency and failure
//
// A Throttle is safe for concurrent use. Store failures are the store's to
// handle: over a core.Resilient store (store.Open wraps Redis in one) its
// failure policy decides the lanes (FailLocal: each instance paces alone
// until the store is back, starting from the slots it was given;
// FailClosed: throttled requests are refused at once). See docs/outbound.md for the design and its
// limits.
package outbound
