// Package core decides whether an event may go through now, per user, chat
// or bot, the same way on every instance of a bot. It holds the model
// ([Limit], [Result], [Scope]), the [Limiter] bots call, the [Store]
// contract stores implement, and [Resilient], which keeps decisions going
// when a remote store fails.
//
// core imports only the standard library. Stores live in store/memorystore
// (one process) and store/redisstore (many); package store opens either
// from the environment. The Telegram side (updates, notices, penalties) is
// package guard, and adapters for the bot frameworks live under adapters/.
//
// # Model
//
// A [Limit] is "Rate events per Period, at most Burst at once", e.g.
// [PerSecond](1), [PerMinute](20) with [Limit.WithBurst](5),
// [Every](1500*time.Millisecond), or [ParseLimit]("100/h burst 10"). Any
// period from 1 ms up works, sub-second included, in whole microseconds.
// An invalid Limit is rejected when a [Limiter] is built ([New],
// [Limiter.Rule]) or the text is parsed, with an error wrapping
// [ErrInvalidLimit] that names the field, never at decision time.
//
// Decisions use GCRA, the generic cell rate algorithm: each event costs an
// interval T = Period/Rate ([Limit.Interval]); a key keeps one integer,
// the instant it would be fully replenished. In any window of length W,
// GCRA admits at most Burst + W/T events, and a denial writes nothing, so
// a spammer retrying cannot extend their own wait. [Window] limits ("20/m
// window") are sliding windows instead: at most Rate in ANY span of
// Period, exactly, at the cost of one timestamp per event. The arithmetic
// is package core/decide's; docs/algorithms.md walks through it.
//
// Each decision returns a [Result]: Allowed, Remaining, RetryAfter (0 when
// allowed), ResetAfter, the Limit and the [Source] that decided. Every
// store returns the same Result for the same history. Time comes from the
// store: the Redis store reads Redis' TIME, so all instances share one
// clock.
//
// # Keys
//
// A [Limiter] turns a [Scope] ([User], [Chat], [UserInChat], [SenderChat]
// or [Global]) into a store key laid out as
//
//	<prefix>:{<scope>}:<rule>
//
// for example floodgate:{u:123456789}:msg, floodgate:{c:-1001234567890}:msg
// or floodgate:{uc:42:-100123}:report; a sliding-window rule appends ":win"
// (see [Limiter.Key]). The prefix defaults to [DefaultPrefix] ([WithPrefix]
// sets it, e.g. "booking_bot:client1" per tenant); [New] names its rule
// "msg" and [Limiter.Rule] derives others. The braces are a Redis Cluster
// hash tag. Only numeric ids and fixed names enter a key; nothing a user
// typed does.
//
// # Failures
//
// A [Limiter] adds no policy of its own: it returns what its store
// returns. [Resilient] wraps a remote store so that it never fails a
// decision: one timeout, one circuit breaker and one failure policy
// ([FailLocal], [FailOpen], [FailClosed]) for every operation, and a deny
// cache that spares the store a flooding user's retries. It tells
// a store-wide outage, which opens the breaker, from the fault of one key
// ([ErrKeyFault]) or of the deployment ([ErrMisconfigured]), which never
// move other keys off the store. store.Open wraps Redis this way; an
// in-process store such as memorystore needs no wrapper.
//
// # Concurrency
//
// A [Limiter] is safe for concurrent use and keeps nothing of its own: two
// Limiters with the same store, prefix and rule share their budgets,
// which is how several bot instances share one limit. Atomicity is the
// store's job: 64 goroutines racing on a frozen clock admit exactly Burst
// events. Every method that may do I/O takes a [context.Context] first; a
// context that is already done is returned as its error without touching
// the store.
//
// # Writing a store
//
// Implement the five methods of [Store] with package core/decide's
// arithmetic, and run store/storetest's Run against it: the [Store]
// documentation states the whole contract.
package core
