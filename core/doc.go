// Package core decides whether an update to a Telegram bot may go through
// now, the same way on every instance of the bot. It holds the model
// ([Limit], [Result], [Scope]), the decision ([Decide]), the interface stores
// implement ([Store]) and the type bots call ([Limiter]).
//
// core imports only the standard library: no bot framework, no Redis client,
// no store. Stores live in store/memorystore and store/redisstore; adapters
// for the bot frameworks live under adapters/.
//
// # Model
//
// A [Limit] is "Rate events per Period, at most Burst at once", e.g.
// [PerSecond](1), [PerMinute](20) with [Limit.WithBurst](5), [Every](1500 *
// time.Millisecond), or [ParseLimit]("100/h burst 10"). Any period of at
// least [MinPeriod] (1 ms) works, sub-second included. An invalid Limit is
// rejected when the [Limiter] is built ([New], [Limiter.Rule]) or the text is
// parsed, with an error wrapping [ErrInvalidLimit], never at decision time.
// A Limit is a plain comparable value passed to the store on every call, so
// one key may be decided under different limits over time.
//
// Decisions use GCRA, the generic cell rate algorithm. Each event costs one
// emission interval T = Period/Rate ([Limit.Interval], rounded up to a whole
// microsecond so the limiter never admits more than the Limit states). A key
// keeps a single integer, its theoretical arrival time (TAT): the instant the
// key would be fully replenished. An event of cost n arriving at now is
// admitted when max(TAT, now) + n·T − Burst·T ≤ now, and the TAT then moves
// to max(TAT, now) + n·T. A denial writes nothing, so a spammer retrying
// cannot extend their own wait. In any window of length W, GCRA admits at
// most Burst + W/T events: unlike a fixed window, there is no edge where
// twice the limit gets through.
//
// Each decision returns a [Result]: Allowed, Remaining, RetryAfter (0 when
// allowed), ResetAfter, the Limit it was made under and its Source. Every store returns
// the same Result for the same history, because every store computes
// [Decide] (the Redis store runs the same integer arithmetic in Lua).
//
// Time for decisions comes from the store, not from the caller's machine:
// the Redis store reads Redis' TIME, so all bot instances share one clock;
// the memory store reads the process clock (or one injected for tests).
// [Decide] takes now as an argument. The [Limiter] does read the local
// clock ([WithClock], default time.Now) for what it keeps in process: the
// deny cache's expiry, the circuit breaker's probe schedule, the default
// fallback store while the store is out, and the penalty blocks an
// instance has seen; and it times decisions for the [Observer]. None of
// these changes what the store decides.
//
// # Keys
//
// A [Limiter] turns a [Scope] ([User], [Chat], [UserInChat] or [Global]) into
// a store key laid out as
//
//	<prefix>:{<scope>}:<rule>
//
// for example floodgate:{u:123456789}:msg, floodgate:{c:-1001234567890}:msg,
// floodgate:{uc:42:-100123}:report or floodgate:{g}:msg (see [Limiter.Key]).
// The prefix defaults to [DefaultPrefix] and can be set with [WithPrefix]
// (e.g. "booking_bot:client1" for one tenant); the rule defaults to
// [DefaultRule] and can be set with [WithRule] or [Limiter.Rule]. The braces
// are a Redis Cluster hash tag: every rule of one scope lands on the same
// slot. Only numeric ids and fixed names enter a key; nothing a user typed
// does.
//
// # Concurrency
//
// A [Limiter] is safe for concurrent use and its budgets live in the
// store: two Limiters with the same store, prefix and rule share them,
// which is how several bot instances share one limit (the deny cache and
// the penalty blocks an instance remembers only save store calls). Atomicity is the store's
// job: concurrent decisions on one key are linearizable, so 64 goroutines
// racing on a frozen clock admit exactly Burst events. Every method that may
// do I/O takes a [context.Context] first; a context that is already done is
// returned as its error without touching the store.
//
// # Writing a store
//
// Implement the three methods of [Store]. Take reads the key's TAT, calls
// [Decide] with the store's own clock in microseconds, and writes the new
// TAT only when the result is Allowed, with a time to live of at least
// newTAT−now, all atomically. Peek answers as Take would for a cost of 1 and
// writes nothing; Reset forgets the key. The [Store] documentation spells
// out the full contract, and internal/testutil.RunStoreSuite checks it:
// run it against your store.
package core
