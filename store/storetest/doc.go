// Package storetest checks a [core.Store] against the contract documented
// on core.Store, in the style of testing/fstest and testing/slogtest. A
// store author calls [Run] from a test, in one line:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, now func() time.Time) core.Store {
//			return mystore.New(mystore.WithClock(now))
//		})
//	}
//
// floodgate's own stores (store/memorystore, store/redisstore) run it,
// and a third-party store should too. The file example_store_test.go in
// this package is a complete store in about a hundred lines, a mutex over
// a map calling package core/decide, that passes the suite with the TTL
// checks on: start from it.
//
// # What the suite checks
//
// Each case runs as a parallel subtest named after one behaviour, and its
// failure message says why the behaviour matters. The cases cover GCRA
// decisions (bursts, refill, sub-second periods, costs above one, a Limit
// that changes), sliding windows and lanes (all or nothing), Peek and
// denials writing nothing, Reset, Block under both algorithms (never
// shortened, shared by two store values over one backend, lifted by
// Reset), a key that switches algorithm through a [core.Limiter], state
// left by the other algorithm (healed, or an error wrapping
// core.ErrKeyFault), extreme ids and the longest limits and blocks, and
// exact counts under concurrency.
//
// Every call a case makes, except in the concurrency cases, is also
// checked against a model: the suite keeps each key's state as package
// core/decide computes it and requires the store's [core.Result] to be
// equal, field for field, step by step. The cases run on a frozen clock
// that only the case moves (the factory's now), so a store passes or fails
// the same way on every run. The suite itself needs no Redis.
//
// # Time to live
//
// The suite cannot see a store's time to live by itself. Give [RunWith] an
// [Options] with a TTL function and it checks, after every call, that the
// key's time to live covers its state (at least what the state needs, at
// most one TTLUnit more), that no key it wrote lives without one, and that
// Peek, a denial and Reset leave no key behind.
package storetest
