//go:build race

package core

// raceEnabled: the race detector slows every memory access several times,
// so the flood tests send fewer ids under it.
const raceEnabled = true
