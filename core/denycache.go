package core

import "time"

// denyCache remembers, per key, until when the store's last denial holds,
// so repeated requests of a flooding user are denied in-process without a
// store call. GCRA writes nothing on a denial and other instances can only
// move a key's TAT later, so a cached denial is never wrong: at worst (a
// Reset made elsewhere) it lasts until the RetryAfter the store gave. The
// Result it returns is exact for the history this instance has seen (an
// admission here drops the entry); admissions on other instances can only
// make the true wait longer, which the store reports once the entry ends.
type denyCache struct {
	entries shardMap[denial]
}

// denial is what the store said, on the local monotonic clock.
type denial struct {
	limit   Limit
	allowAt time.Time // when a cost-1 request would first pass
	resetAt time.Time // when the key would be fully replenished
}

// expiry implements expiring: past allowAt the store decides again, so the
// entry is useless.
func (d denial) expiry() time.Time { return d.allowAt }

func newDenyCache() *denyCache {
	c := &denyCache{}
	c.entries.init()
	return c
}

// remember records a store denial of cost n made at now. Only GCRA
// denials are cached: their arithmetic above is GCRA's.
func (c *denyCache) remember(key string, res Result, n int, now time.Time) {
	if res.Allowed || res.RetryAfter <= 0 || res.Limit.Algorithm != GCRA {
		return
	}
	d := denial{
		limit:   res.Limit,
		allowAt: now.Add(res.RetryAfter - time.Duration(n-1)*res.Limit.Interval()),
		resetAt: now.Add(res.ResetAfter),
	}
	c.entries.store(key, d, now)
}

// check returns the cached denial for a request of cost n under l at now,
// or false when the store must decide.
func (c *denyCache) check(key string, l Limit, n int, now time.Time) (Result, bool) {
	d, ok := c.entries.load(key)
	if !ok || d.limit != l {
		return Result{}, false
	}
	t := l.Interval()
	allowAt := d.allowAt.Add(time.Duration(n-1) * t)
	if !now.Before(allowAt) {
		return Result{}, false
	}
	reset := max(d.resetAt.Sub(now), 0)
	tolerance := time.Duration(l.Burst) * t
	return Result{
		Remaining:  int(max(tolerance-reset, 0) / t),
		RetryAfter: allowAt.Sub(now),
		ResetAfter: reset,
		Limit:      l,
		Source:     SourceCache,
	}, true
}

// forget drops key, after a Reset.
func (c *denyCache) forget(key string) { c.entries.delete(key) }
