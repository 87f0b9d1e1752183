// Package redisstore is a [core.Store] over Redis, for a bot that runs as
// several instances (processes, containers, hosts) sharing one limit.
//
// Build the go-redis client yourself (standalone [redis.Client], Sentinel
// failover client or [redis.ClusterClient]) with deliberate timeouts (the
// options of store.Config.RedisOptions are the safe start), hand it to
// [New], and wrap the store with [core.Resilient] for a timeout, a circuit
// breaker and a failure policy. New neither dials nor pings, and you Close
// the client:
//
//	opt, err := store.Config{Backend: store.BackendRedis, RedisURL: url}.RedisOptions()
//	client := redis.NewClient(opt)
//	st, err := core.Resilient(redisstore.New(client), core.Resilience{Fallback: memorystore.New()})
//	lim, err := core.New(st, core.PerMinute(20))
//
// store.Open does all of this from the environment.
//
// # Model
//
// Each decision is one Lua script run with one EVALSHA, so reading the key,
// deciding and writing are one atomic step on the server: gcra.lua is
// decide.GCRA line for line, window.lua decide.Lanes (TakeAll, and Take and
// Peek under a SlidingWindow Limit), block.lua decide.BlockGCRA and
// decide.BlockWindow. The script is sent by digest: Redis answers NOSCRIPT
// only when its script cache lacks it (a fresh or restarted server, SCRIPT
// FLUSH, a failover to a replica that never saw it), and then, and only
// then, that decision is retried once as EVAL, which runs the script and
// caches it again. A NOSCRIPT reply runs nothing, so the retry never counts
// an event twice. [ScriptSHA] and [WindowScriptSHA] are the digests, for
// SCRIPT EXISTS in health checks.
//
// A Store is safe for concurrent use, and any number of Stores in any
// number of processes over the same server and key prefix enforce one
// limit together.
//
// # Healing
//
// A key may hold something the scripts cannot read: another type
// (WRONGTYPE), a value written by hand, corrupted, out of range. The
// scripts read such a value as absent, a fresh key, and never fail for it:
// a GCRA value must be a decimal integer below 2^53 and at most 2^51 µs
// ahead of the clock (decide.ValidTAT); a sliding-window lane a list of
// such integers, newest first, in order (decide.ValidTimes). The next
// admitted Take, or a Block, overwrites the value (SET replaces any type; a
// lane is deleted first) with a TTL. A Peek reads it as absent and writes
// nothing. A denial writes nothing either, except a TTL on a key that has
// none (planted by hand without one), so no key lives forever.
// [Store.Inspect] reports such a value as Foreign.
//
// # Coalescing
//
// Decisions made at the same time on one Store share network round trips.
// A decision that finds fewer than two round trips in flight is sent at
// once, alone: a lone caller waits for nothing. The others queue, and as
// soon as a round trip ends, everything queued (up to 128 decisions) goes
// out as one pipeline, on a goroutine of the Store's. Under load this
// multiplies throughput (one round trip and one system call pair for many
// decisions) without timers or lingering. Every decision in a pipeline is
// its own script run, atomic and exact, and its error is its own. On a
// Cluster, go-redis splits each pipeline by master, one round trip per
// master.
//
// With [WithMergedScripts], for a client that talks to one server directly
// (standalone or the Sentinel-managed primary), the GCRA decisions of one
// pipeline go further: they run as ONE script run over all their keys,
// which spares Redis a script invocation and a TIME call per decision.
// Decisions still run one after another inside that run, each exact, in
// queue order, and each gets its own reply. If Redis refuses the whole run
// because of one key (a key the ACL user may not touch: NOPERM; a
// cluster-mode endpoint: CROSSSLOT), nothing has run, and the decisions are
// sent again one by one, so none fails for another's key. It is opt-in
// because a proxy that routes a script by its first key would send the
// other keys to the wrong shard.
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
// The scripts read the server's TIME and work in integer microseconds, so
// every instance of the bot decides on one clock, whatever the skew between
// the hosts the instances run on. Every value stays below 2^53, so Lua's
// numbers (float64) compute exactly what the Go code computes. [WithClock]
// passes an explicit "now" instead, for tests that freeze and move time; it
// is not meant for production.
//
// # TTLs
//
// Every write sets a TTL (PX, rounded up to a whole millisecond) that lasts
// exactly as long as the key carries information: to a GCRA key's TAT, to
// the end of a lane's newest event's stay in the window, to the end of a
// block. After that a key means "fully replenished", the same as no key at
// all, so Redis never fills with idle users and no clean-up job is needed.
//
// A denial writes nothing: neither the value nor the TTL changes, so a
// spammer who keeps retrying does not extend their own wait, and a denial
// costs no replication or AOF traffic. [Store.Peek] never writes.
//
// # Cluster
//
// Take, Peek and Block touch one key, so they are Cluster-safe: go-redis
// routes the EVALSHA to the node that owns the key's slot. Keys built by
// [core.Limiter] look like floodgate:{u:123456789}:msg; the braces are a
// hash tag, so every rule of one scope (one user, one chat) lands on the
// same slot. The lanes of one TakeAll must share a hash tag.
//
// # Errors
//
// Every error is prefixed "redisstore:" and wraps its cause with %w, so
// go-redis' errors still match, and an error after the caller's context
// ended wraps ctx.Err() (errors.Is(err, context.DeadlineExceeded) holds
// even when go-redis saw the deadline as a socket i/o timeout). Errors have
// the kinds [core.Resilient] needs to keep its circuit breaker honest:
//
//   - core.ErrMisconfigured: the deployment is wrong, retrying will not
//     help: the Redis user lacks a permission (NOPERM; inside a script,
//     Redis 7.0 says "ERR The user executing the script can't ..."), is
//     not or wrongly authenticated (NOAUTH, WRONGPASS), or a command is
//     renamed away (ERR unknown command). The store's user needs EVALSHA,
//     EVAL, TIME, GET, SET, PTTL, PEXPIRE, DEL, LRANGE, LTRIM, LPUSH and
//     RPUSH on the key prefix; Inspect needs GET, LRANGE, PTTL and TIME.
//   - core.ErrKeyFault: one request's problem: the lanes of a TakeAll in
//     different Cluster slots (CROSSSLOT), a reply the store cannot read.
//     Values the scripts cannot read are healed, not errors.
//   - anything else is an outage: refused, reset or timed-out connections,
//     a closed client, the caller's context, and the server's LOADING,
//     READONLY (a failed-over primary), OOM, BUSY, MASTERDOWN, CLUSTERDOWN
//     and TRYAGAIN replies.
//
// Bound each decision with a context deadline, and build the client so that
// it honours it: go-redis ignores a context's deadline on socket reads unless
// [redis.Options].ContextTimeoutEnabled is true (a hung server then blocks a
// decision for ReadTimeout, 5 s by default), and it retries failed dials
// (DialerRetries, 5 by default) and commands (MaxRetries, 3 by default: a
// retried EVALSHA whose first attempt ran counts the event twice).
// store.Config.RedisOptions sets all of these deliberately.
//
// # Inspect
//
// [Store.Inspect] reads any number of keys without writing, one pipeline
// per node, and returns what each holds (a TAT, a lane's times, its TTL,
// whether the value is foreign) and what Peek would answer, by the same
// rules as the scripts. It is for ops tools such as cmd/floodgate; bots
// never need it.
package redisstore
