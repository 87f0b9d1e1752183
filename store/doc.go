// Package store picks and opens a floodgate store from configuration, so a
// bot swaps the in-process memory store for Redis (and back) by changing its
// environment, not its code:
//
//	cfg, err := store.FromEnv()
//	if err != nil {
//		log.Fatal(err) // names the variable at fault, never a password
//	}
//	log.Printf("floodgate: %v", cfg) // one line, password masked
//	st, err := store.Open(ctx, cfg, store.WithLogger(logger))
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
//	                  Sentinel: redis+sentinel://[[user]:password@]host:port[,host:port...]/master[/db]
//	                  Cluster:  redis+cluster://[[user]:password@]host:port[,host:port...]
//	                  (rediss+sentinel://, rediss+cluster:// for TLS; see Sentinel and Cluster)
//	REDIS_HOST        host name or IP address                  localhost                RedisURL
//	REDIS_PORT        1..65535                                 6379                     RedisURL
//	REDIS_DB          integer ≥ 0                              0                        RedisURL
//	REDIS_PASSWORD    any text (kept verbatim, never printed)  none                     RedisURL
//	REDIS_TLS_CA_FILE PEM file of the CAs that sign the server system roots             TLSCAFile
//	REDIS_TLS_CERT_FILE, REDIS_TLS_KEY_FILE  PEM client certificate and key  none         TLSCertFile, TLSKeyFile
//	REDIS_TLS_SERVER_NAME  name the server's certificate carries  the host dialled      TLSServerName
//	FLOODGATE_PREFIX  1-128 printable ASCII, no spaces/braces  floodgate                Prefix
//	REDIS_KEY_PREFIX  same as FLOODGATE_PREFIX                 floodgate                Prefix
//	FLOODGATE_LIMIT   core.ParseLimit text: 1/s, 20/m burst 5  1/s                      Limit
//	FLOODGATE_FAILURE_POLICY  local | open | closed (any case) local                    Policy
//	FLOODGATE_TIMEOUT a positive Go duration: 50ms, 1s         50ms                     Timeout
//
// # Precedence
//
// One rule, for the environment and a Config literal alike: a setting is
// used or refused, never silently ignored.
//
//   - FLOODGATE_STORE and REDIS_ENABLED select the backend; set to
//     different stores, they are an error naming both.
//   - With neither set, any variable that describes a Redis (REDIS_URL,
//     REDIS_HOST, REDIS_PORT, REDIS_DB, REDIS_PASSWORD, REDIS_TLS_*) selects
//     redis: whoever sets one wants Redis, and silently limiting per
//     instance instead would split the limit. Otherwise the backend is
//     memory.
//   - With memory selected, such a variable is an error naming it (as a
//     RedisURL or a TLS field with Backend memory is).
//   - REDIS_URL with REDIS_HOST, REDIS_PORT or REDIS_DB is an error naming
//     both: the URL names the address and the database. REDIS_URL and
//     REDIS_PASSWORD combine: the password is added to the URL (keeping
//     its user name); a URL that holds a password too is an error naming
//     both. Without REDIS_URL, REDIS_HOST, REDIS_PORT, REDIS_DB and
//     REDIS_PASSWORD build redis://[:password@]host:port/db with the
//     defaults above (the password escaped with url.UserPassword); with
//     none of them the URL is redis://localhost:6379/0, the replaced
//     middleware's default host.
//   - FLOODGATE_PREFIX and REDIS_KEY_PREFIX set to different prefixes is an
//     error; set alike, or one of them, they give the prefix.
//   - The TLS variables need a TLS URL (rediss://, rediss+sentinel://,
//     rediss+cluster://); their files are read when the Config is
//     validated. The query option skip_verify is refused.
//
// Every error starts with "store: ", wraps [ErrInvalidConfig] and names the
// variable at fault; an invalid FLOODGATE_LIMIT also wraps
// core.ErrInvalidLimit. No error repeats the value of REDIS_URL or
// REDIS_PASSWORD.
//
// # Sentinel and Cluster
//
// REDIS_URL (Config.RedisURL) names the topology by its scheme; nothing
// else selects it, and REDIS_HOST, REDIS_PORT, REDIS_DB and REDIS_PASSWORD
// only ever describe one server.
//
//	redis+sentinel://[[user]:password@]host:port[,host:port...]/master[/db][?option=value&...]
//	redis+cluster://[[user]:password@]host:port[,host:port...][?option=value&...]
//
// For example redis+sentinel://:s3cret@10.0.0.1:26379,10.0.0.2:26379/mymaster/0
// or redis+cluster://10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000.
//
//   - The addresses are the Sentinels (redis+sentinel) or any cluster nodes
//     to start from (redis+cluster: the client discovers the rest). Every
//     address needs its port; IPv6 addresses go in brackets.
//   - Sentinel: the path is the master name Sentinel monitors, then an
//     optional database number (default 0). The client asks the Sentinels
//     for the master and follows failovers.
//   - Cluster: no path; Redis Cluster has only database 0. floodgate's keys
//     carry the hash tag {scope}, so every key of a user is in one slot.
//   - The user and password (percent-encoded like in redis:// URLs)
//     authenticate to the Redis servers: the master and replicas, or the
//     cluster nodes. Sentinels are asked without credentials; if yours
//     require a password, build the client yourself from
//     [Config.FailoverOptions] and set SentinelPassword.
//   - rediss+sentinel:// and rediss+cluster:// use TLS (1.2 or later) on
//     every connection, each verified against the name it dials.
//   - Query options are go-redis' names, as for redis:// URLs:
//     dial_timeout, read_timeout, write_timeout, max_retries,
//     min_retry_backoff, max_retry_backoff, pool_size, pool_timeout,
//     pool_fifo, min_idle_conns, max_idle_conns, max_active_conns,
//     max_concurrent_dials, conn_max_idle_time, conn_max_lifetime,
//     conn_max_lifetime_jitter, client_name, protocol, and for a cluster
//     max_redirects. Any other option is an error: the addresses, master
//     name, database and credentials come from the URL itself, and options
//     that route commands to replicas do not suit a limiter, whose every
//     decision writes.
//
// Errors name REDIS_URL (or RedisURL) and say which address, path or
// option is at fault, never the password. [Config.FailoverOptions] and
// [Config.ClusterOptions] return the go-redis options Open uses, with the
// same fail-fast settings as a single server; [Config.RedisOptions] is for
// one server only.
//
// A Sentinel failover is not free for a limiter: replication is
// asynchronous, and from the replica's promotion until the client learns of
// it (under a second in store/redisstore's TestSentinelFailover, which
// measures it) decisions still go to the old master and are not replicated.
// The new master does not know them, so those users may be admitted again,
// up to one extra burst each.
//
// # Secrets
//
// Config.RedisURL may carry a password. [Config.String] (used by every fmt
// verb, %#v included, and by log/slog) prints the address with the password
// replaced by "xxxxx"; [Config.Redacted] returns a copy safe to marshal. A
// user name standing alone (redis://SECRET@host) is masked the same way:
// it is usually a password that lost its colon.
//
// # Opening
//
// [Open] builds the store the Config names. For memory it calls
// memorystore.New. For redis it parses the URL, builds a *redis.Client (one
// server), a failover client (Sentinel) or a *redis.ClusterClient (Cluster)
// with fail-fast settings ([Config.RedisOptions]: a dial timeout of
// max(500 ms, Timeout), read and write timeouts of max(250 ms, Timeout), no
// command retries, a single dial attempt per connection, and context
// deadlines honoured) and, under ctx, sends one PING, opens four
// connections at once (dial, TLS handshake, AUTH) so the first decisions do
// not pay for them, checks that the Redis user may run every command the
// store needs on its keys (an error naming each one refused, see
// redisstore.ACLRule), and logs a warning when the server's
// maxmemory-policy would evict the limiter's keys. So a wrong address, a
// wrong CA or a missing permission fails at start-up, not at the first
// update. [WithoutChecks] skips the permission and eviction checks.
// [Opened.RedisClient] returns that client as a redis.UniversalClient.
// The returned [Opened] is a core.Store; [Opened.NewLimiter] applies the
// Config's limit and prefix, and [Opened.Close] closes the client or stops
// the memory store's janitor. [WithObserver] and [WithLogger] say where
// the store's faults, breaker transitions and decisions are reported.
//
// Open is a convenience. To share a client with the rest of the bot, build
// the client yourself (starting from [Config.RedisOptions],
// [Config.FailoverOptions] or [Config.ClusterOptions] if you like) and pass
// it to redisstore.New, which neither dials nor pings; you then own its
// lifecycle, and wrap the store with core.Resilient yourself.
//
// # Failure policy
//
// Open wraps the Redis store, and only it, in core.Resilient: every call
// then runs under Config.Timeout (FLOODGATE_TIMEOUT, default 50 ms) and a
// circuit breaker, and what Redis cannot decide in time is decided by
// Config.Policy (FLOODGATE_FAILURE_POLICY, parsed here): FailLocal, the
// default, with an in-process memorystore as the fallback; FailOpen; or
// FailClosed. Result.Source says who decided, and [WithObserver] hears of
// every fault and breaker transition. The memory store is returned as it
// is: it cannot fail, so a timeout and a breaker would only cost time.
//
// The wrapping happens here, where the store is opened, rather than inside
// the Limiter, so that whether a store is protected is visible where it is
// opened. A Redis store built by hand (redisstore.New) is protected only
// if you wrap it the same way.
package store
