// Package redisstore is a [core.Store] over Redis, for a bot that runs as
// several instances (processes, containers, hosts) sharing one limit.
//
// Build the go-redis client yourself (standalone [redis.Client], Sentinel
// failover client or [redis.ClusterClient]) and hand it to [New]; New
// neither dials nor pings, and you Close the client. Then build a
// [core.Limiter] over the store:
//
//	client := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
//	lim, err := core.New(redisstore.New(client), core.PerMinute(20))
//
// # Model
//
// Each decision is one Lua script (gcra.lua: [core.Decide] line for line)
// run with one EVALSHA, so reading the key's TAT, deciding and writing the
// new TAT are one atomic step on the server. The script is sent by digest:
// Redis answers NOSCRIPT only when its script cache lacks it (a fresh or
// restarted server, SCRIPT FLUSH, a failover to a replica that never saw
// it), and then, and only then, that decision is retried once as EVAL,
// which runs the script and caches it again. A NOSCRIPT reply runs nothing,
// so the retry never counts an event twice. [ScriptSHA] is the digest, for
// SCRIPT EXISTS in health checks, and [WindowScriptSHA] the sliding-window
// script's.
//
// A Store is safe for concurrent use, and any number of Stores in any
// number of processes over the same server and key prefix enforce one
// limit together.
//
// # Coalescing
//
// Decisions made at the same time on one Store share network round trips.
// A decision that finds fewer than two round trips in flight is sent at
// once, alone, as before: a lone caller waits for nothing. The others queue,
// and as soon as a round trip ends, everything queued (up to 128 decisions)
// goes out as one pipeline, on a goroutine of the Store's. Under load this
// multiplies throughput (one round trip and one system call pair for many
// decisions) without timers or lingering. Every decision in a pipeline is
// its own script run, atomic and exact; its error (WRONGTYPE on a key that
// is not a TAT, NOSCRIPT) is its own. On a Cluster, go-redis splits each
// pipeline by master, one round trip per master.
//
// With [WithMergedScripts], for a client that talks to one server directly
// (standalone or the Sentinel-managed primary), the GCRA decisions of one
// pipeline go further: they run as ONE script run over all their keys
// (gcra.lua takes any number of keys), which spares Redis a script
// invocation and a TIME call per decision. Decisions still run one after
// another inside that run, each exact, in queue order, and a WRONGTYPE key
// fails only its own decision. It is opt-in because a proxy that routes a
// script by its first key would send the other keys to the wrong shard.
//
// Each caller keeps its own context: if it ends while the decision waits,
// Take returns at once with an error wrapping ctx.Err(), and the others
// sharing its pipeline carry on. As with any timed-out EVALSHA, the
// decision may still have been applied (the pipeline may already be on the
// wire); it is removed from the queue if it was not yet sent. A pipeline is
// bounded by the latest deadline among its callers (by the client's read
// and write timeouts if one has none), so a hung server holds it no longer
// than its slowest caller would wait. A pipeline does not carry the
// callers' context values, so go-redis hooks see context.Background.
// [WithoutCoalescing] sends every decision alone.
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
// Bound each decision with a context deadline, and build the client so that
// it honours it: go-redis ignores a context's deadline on socket reads unless
// [redis.Options].ContextTimeoutEnabled is true (a hung server then blocks a
// decision for ReadTimeout, 5 s by default), and it retries failed dials
// (DialerRetries, 5 by default). Set ContextTimeoutEnabled, DialTimeout,
// ReadTimeout, WriteTimeout and DialerRetries deliberately.
package redisstore
