// Package redisstore is a [core.Store] over Redis, for a bot that runs as
// several instances (processes, containers, hosts) sharing one limit.
//
// Build the go-redis client yourself (standalone [redis.Client], Sentinel
// failover client or [redis.ClusterClient]) and hand it to [New]; New
// neither dials nor pings, and you Close the client. Then build a
// [core.Limiter] over the store:
//
//	client := redis.NewClient(&redis.Options{
//		Addr:                  "localhost:6379",
//		ContextTimeoutEnabled: true, // the Limiter's per-decision deadline reaches the socket
//		DialTimeout:           500 * time.Millisecond,
//		ReadTimeout:           250 * time.Millisecond,
//		WriteTimeout:          250 * time.Millisecond,
//		DialerRetries:         1,  // one dial attempt per connection
//		MaxRetries:            -1, // a retried EVALSHA whose first attempt ran counts twice
//	})
//	lim, err := core.New(redisstore.New(client), core.PerMinute(20))
//
// ContextTimeoutEnabled is the one that matters most: without it go-redis
// ignores the context's deadline on socket reads, so a hung (not dead)
// Redis holds every decision for the client's ReadTimeout (5 s by default)
// whatever [core.WithTimeout] says. store.Open builds a client with all of
// these settings from a URL.
//
// # Model
//
// Each decision is one Lua script (gcra.lua: [core.Decide] line for line)
// run with one EVALSHA, so reading the key's TAT, deciding and writing the
// new TAT are one atomic step on the server and one network round trip. The
// script is sent by digest (go-redis' Script.Run): Redis answers NOSCRIPT only
// when its script cache lacks it (a fresh or restarted server, SCRIPT FLUSH,
// a failover to a replica that never saw it), and then, and only then, the
// same call is retried once as EVAL, which runs the script and caches it
// again. A NOSCRIPT reply runs nothing, so the retry never counts an event
// twice. [ScriptSHA] is the digest, for SCRIPT EXISTS in health checks, and
// [WindowScriptSHA] the sliding-window script's.
//
// A Store holds no state besides the client: it is safe for concurrent use,
// and any number of Stores in any number of processes over the same server
// and key prefix enforce one limit together.
//
// # Time
//
// The script reads the server's TIME and works in integer microseconds, so
// every instance of the bot decides on one clock, whatever the skew between
// the hosts the instances run on. Every value stays below 2^53, so Lua's
// numbers (float64) compute exactly what the Go code computes. [WithClock]
// passes an explicit "now" instead, for tests that freeze and move time; it
// is not meant for production.
//
// # TTLs
//
// Every write is a SET with PX set to the time from now to the new TAT,
// rounded up to a whole millisecond: the key lives exactly as long as it
// carries information (after its TAT it means "fully replenished", the same
// as no key at all), and no key ever lives without a TTL, so Redis never
// fills with idle users and no clean-up job is needed.
//
// A denial writes nothing: neither the value nor the TTL changes, so a
// spammer who keeps retrying does not extend their own wait, and a denial
// costs no replication or AOF traffic. [Store.Peek] runs the same script in
// a mode that never writes.
//
// # Cluster
//
// The script touches exactly one key, the one it is given in KEYS, so it is
// Cluster-safe: go-redis routes the EVALSHA to the node that owns the key's
// slot. Keys built by [core.Limiter] look like floodgate:{u:123456789}:msg;
// the braces are a hash tag, so every rule of one scope (one user, one chat)
// lands on the same slot.
//
// # Errors
//
// Every error is prefixed "redisstore:" and wraps the cause with %w, so
// errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded)
// and go-redis' own errors still match.
//
// Bound each decision with a context deadline ([core.Limiter] does, with
// [core.WithTimeout]), and build the client so that it honours it: go-redis
// ignores a context's deadline on socket reads unless
// [redis.Options].ContextTimeoutEnabled is true (a hung server then blocks a
// decision for ReadTimeout, 5 s by default), and it retries failed dials
// (DialerRetries, 5 by default). Set ContextTimeoutEnabled, DialTimeout,
// ReadTimeout, WriteTimeout, DialerRetries and MaxRetries deliberately, as
// the example above does.
package redisstore
