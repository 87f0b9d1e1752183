package memorystore

import (
	"testing"
	"time"

	"github.com/floodgate-go/floodgate/core"
)

// TTL is storetest's TTL hook (storetest.Options.TTL) for a *Store: how
// much longer st keeps key's state, on the store clock, and false when no
// live entry holds it. The janitor evicts an entry the grace (WithGrace)
// after that; the grace is the same for every key and changes no
// decision, so it is left out, and the suite checks the rest exactly. An
// entry past its state but not yet evicted reads as 0.
func TTL(t *testing.T, st core.Store, key string) (time.Duration, bool) {
	s := st.(*Store)
	v, ok := s.shard(key).items.Get(key)
	if !ok {
		return 0, false
	}
	var expiry int64
	switch e := v.(type) {
	case *gcraEntry:
		if expiry = e.tat.Load(); expiry == dead {
			return 0, false
		}
	case *windowEntry:
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.dead.Load() {
			return 0, false
		}
		expiry = e.expires
	default:
		t.Fatalf("key %q holds a %T", key, v)
	}
	return time.Duration(max(expiry-s.now(), 0)) * time.Microsecond, true
}
