// Package store picks and opens a floodgate store from configuration, so a
// bot swaps the in-process memory store for Redis (and back) by changing its
// environment, not its code:
//
//	cfg, err := store.FromEnv()
//	if err != nil {
//		log.Fatal(err) // names the variable at fault, never a password
//	}
//	log.Printf("floodgate: %v", cfg) // one line, password masked
//	st, err := store.Open(ctx, cfg)
//	if err != nil {
//		log.Fatal(err) // e.g. Redis unreachable: says where, without the password
//	}
//	defer st.Close()
//	limiter, err := st.NewLimiter()
//
// A [Config] can also be written in code; its zero value is valid and means
// a memory store, the default prefix and one event per second.
//
// # Environment
//
// [FromEnv] reads the process environment and [FromLookup] reads any lookup
// function (a map in tests). The variables below include those of the Python
// aiogram middleware floodgate replaces (REDIS_ENABLED, REDIS_HOST,
// REDIS_PORT, REDIS_DB, REDIS_PASSWORD, REDIS_KEY_PREFIX), so its .env files
// keep working. A variable that is unset or empty (after trimming spaces)
// counts as unset; values other than REDIS_PASSWORD are trimmed.
//
//	Variable          Values                                   Default                  Sets
//	FLOODGATE_STORE   memory | redis (any case)                memory                   Backend
//	REDIS_ENABLED     true false 1 0 yes no (any case)         false                    Backend
//	REDIS_URL         redis://[user:password@]host:port/db     redis://localhost:6379/0 RedisURL
//	                  rediss://... (TLS), unix:///path.sock?db=N
//	REDIS_HOST        host name or IP address                  localhost                RedisURL
//	REDIS_PORT        1..65535                                 6379                     RedisURL
//	REDIS_DB          integer ≥ 0                              0                        RedisURL
//	REDIS_PASSWORD    any text (kept verbatim, never printed)  none                     RedisURL
//	FLOODGATE_PREFIX  1-128 printable ASCII, no spaces/braces  floodgate                Prefix
//	REDIS_KEY_PREFIX  same as FLOODGATE_PREFIX                 floodgate                Prefix
//	FLOODGATE_LIMIT   core.ParseLimit text: 1/s, 20/m burst 5  1/s                      Limit
//
// # Precedence
//
//   - FLOODGATE_STORE wins over REDIS_ENABLED. REDIS_ENABLED is read only
//     when FLOODGATE_STORE is unset: true selects redis, false selects memory.
//   - With neither set, a REDIS_URL selects redis: whoever sets it wants
//     Redis, and silently limiting per instance instead would split the
//     limit. Otherwise the backend is memory.
//   - REDIS_HOST alone does not select redis (in the replaced middleware
//     REDIS_ENABLED was the switch and REDIS_HOST was always present). Log
//     the Config at start-up: its String says which backend was chosen.
//   - With redis selected, REDIS_URL wins over REDIS_HOST, REDIS_PORT,
//     REDIS_DB and REDIS_PASSWORD: when both are set, REDIS_URL is used
//     (this is not an error). Otherwise, if any of those four is set, they
//     build redis://[:password@]host:port/db with the defaults above (the
//     password escaped with url.UserPassword). With none of them set the URL
//     is redis://localhost:6379/0, the replaced middleware's default host.
//   - FLOODGATE_PREFIX wins over REDIS_KEY_PREFIX.
//   - A variable that loses, or that the chosen backend does not use (the
//     REDIS_* variables for memory), is ignored and not validated.
//
// Every error starts with "store: ", wraps [ErrInvalidConfig] and names the
// variable at fault; an invalid FLOODGATE_LIMIT also wraps
// core.ErrInvalidLimit. No error repeats the value of REDIS_URL or
// REDIS_PASSWORD.
//
// # Secrets
//
// Config.RedisURL may carry a password. [Config.String] (used by every fmt
// verb, %#v included, and by log/slog) prints the address with the password
// replaced by "xxxxx"; [Config.Redacted] returns a copy safe to marshal.
//
// # Opening
//
// [Open] builds the store the Config names. For memory it calls
// memorystore.New. For redis it parses the URL with redis.ParseURL, builds a
// *redis.Client with fail-fast settings ([Config.RedisOptions]: 500 ms dial
// timeout, 250 ms read and write timeouts, one command retry, a single dial
// attempt per connection, and context deadlines honoured) and sends one PING
// under ctx, so a wrong address fails at start-up, not at the first update.
// The returned [Opened] is a core.Store; [Opened.NewLimiter] applies the
// Config's limit and prefix, and [Opened.Close] closes the client or stops
// the memory store's janitor.
//
// Open is a convenience. To share a client with the rest of the bot, or to
// use Sentinel or Cluster, build the client yourself (starting from
// [Config.RedisOptions] if you like) and pass it to redisstore.New, which
// neither dials nor pings; you then own its lifecycle.
//
// # Failure policy
//
// Open decides nothing about failures after start-up: a Redis outage later
// makes the store's methods return errors, quickly thanks to the settings
// above. What the bot then does (fail open, fail closed, fall back to
// memory) is chosen explicitly elsewhere, never here by default.
package store
