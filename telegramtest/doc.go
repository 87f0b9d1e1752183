// Package telegramtest provides a fake Telegram Bot API server for testing
// bots, in the spirit of net/http/httptest: start one on a loopback port,
// point the bot's framework at its URL instead of https://api.telegram.org,
// push updates, and check which Bot API calls the bot made.
//
//	api := telegramtest.Start(t) // closed when the test ends
//	bot := newBot(token, api.URL()) // your bot, on any framework
//	api.Push(telegramtest.Message(42, 42, "private", "/ping"))
//	calls, err := api.WaitCalls(ctx, "sendMessage", 1)
//	// calls[0].Params["text"] == "pong"
//
// The server works with any framework that lets the API base URL be set
// (telebot's Settings.URL, telego's WithAPIServer, tgbotapi's
// NewBotAPIWithAPIEndpoint, go-telegram/bot's WithServerURL, gotgbot's
// BotClient DefaultRequestOpts.APIURL) and with plain net/http. It accepts
// any token, over GET and POST, with query, form, JSON or multipart
// parameters, and answers as Telegram does: {"ok":true,"result":...} or
// {"ok":false,"error_code":...,"description":...}.
//
// # Updates
//
// Push queues an update (a map built by the helpers of this package, such
// as Message, CallbackQuery or InlineQuery, raw JSON, or a framework's own
// Update value). EveryKind builds one update of each kind the Bot API has,
// to check that a bot survives them all; UnknownUpdate builds one of a kind
// no framework knows yet. Like Telegram, the server drops chat_member,
// message_reaction and message_reaction_count updates unless the bot lists
// them in allowed_updates.
//
// Queued updates reach the bot by long polling (getUpdates, with offset,
// limit, timeout and allowed_updates honoured; a push wakes a pending poll
// at once) or, after DeliverToWebhooks, by webhook: POSTed as JSON to the
// bot's URLs (round-robin over several, to test instances behind a load
// balancer), with the secret token header, concurrently, retried on
// failure; WaitDelivered waits for them. While webhook delivery is on,
// getUpdates answers 409 Conflict, as Telegram does.
//
// # Calls
//
// Every request is recorded as a Call (method, parameters as strings,
// uploaded file names, time, and whether it was refused). Calls, CallsTo
// and WaitCalls read them; WaitCalls wakes on each new call, so tests wait
// for the bot without sleeping. Reset forgets them.
//
// The methods a bot needs most have real behaviour: getMe, getUpdates,
// sendMessage (a new message with the chat, echoing an inline keyboard),
// editMessageText, editMessageReplyMarkup, answerCallbackQuery,
// answerInlineQuery (its results are checked), setWebhook, deleteWebhook,
// getWebhookInfo, setMyCommands; sendChatAction, deleteMessage and
// deleteMyCommands answer true. Any other method answers 404 "Not Found:
// method not found" until SetResult gives it a canned result.
//
// # Errors and flood limits
//
// FailNext makes the next calls of a method answer 429 Too Many Requests
// with a retry_after; FailNextError injects any other error (400, 502...).
// WithFloodLimits(TelegramLimits()) makes the server enforce Telegram's
// sending limits (30 messages a second per bot, 1 a second per private
// chat, 20 a minute per group) and answer 429 with an honest retry_after
// when a bot sends faster; such calls are recorded as Flooded.
//
// # Scope
//
// The server is a fake, not an emulator: it keeps no chats or messages,
// so getChat, forwardMessage and the like need SetResult. It is safe for
// concurrent use, listens on 127.0.0.1 only, and leaves no goroutine
// behind after Close.
package telegramtest
