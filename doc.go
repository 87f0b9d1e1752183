// Package floodgate protects Telegram bots from floods: it decides, the same
// way on every instance of a bot, whether each user's update may go through
// now. This package holds no code; it says which package to import for
// what.
//
// # For a bot
//
//   - setup: from the environment to everything below in one call
//     (setup.Open). Start here.
//   - adapters/telebotlimit, adapters/telegolimit, adapters/tgbotapilimit,
//     adapters/gotelegramlimit, adapters/gotgbotlimit: one line in a
//     telebot v3, telego v1, tgbotapi v5, go-telegram/bot v1 or gotgbot v2
//     bot.
//   - guard: what the adapters apply to each update: keys by user, chat or
//     user-in-chat, a bypass list, limits per command, notices, penalties.
//   - outbound: paces the bot's own requests to Telegram's limits, shared
//     across instances.
//   - metrics: Prometheus metrics, with no per-user label.
//
// # For the limit itself
//
//   - core: Limit, Scope, Result, the Limiter, the Store contract, and
//     Resilient, which keeps deciding when Redis fails.
//   - store: chooses and opens a store from configuration (FLOODGATE_STORE,
//     REDIS_URL, ...).
//   - store/memorystore: one process. store/redisstore: many, over Redis
//     (standalone, Sentinel, Cluster).
//
// # For a store author
//
//   - core/decide: the arithmetic every store runs, written once.
//   - store/storetest: the conformance suite a store must pass.
//
// The ops CLI is cmd/floodgate; the token-free demo is examples/demo. The
// README and docs/ on https://github.com/floodgate-go/floodgate explain the
// design, the algorithms, operations and monitoring.
package floodgate
