package core

import (
	"strconv"
	"testing"
	"time"
)

// A sweep drops ended entries only: live ones survive any number of
// sweeps, and the map stays within about twice its live entries.
func TestShardMapSweepsEndedEntriesOnly(t *testing.T) {
	t.Parallel()
	var m shardMap[denial]
	m.init()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const live = 500
	for i := range live { // live for an hour
		m.store("live"+strconv.Itoa(i), denial{allowAt: now.Add(time.Hour)}, now)
	}
	for i := range 100_000 { // each ends a millisecond after it is stored
		m.store("gone"+strconv.Itoa(i), denial{allowAt: now.Add(time.Millisecond)}, now)
		now = now.Add(time.Millisecond)
	}
	for i := range live {
		if _, ok := m.load("live"+strconv.Itoa(i), now); !ok {
			t.Fatalf("live entry %d was swept", i)
		}
	}
	if n, most := m.len(), len(m.shards)*minSweepAt+2*live; n > most {
		t.Fatalf("%d entries held, %d live; want at most %d", n, live, most)
	}
}
