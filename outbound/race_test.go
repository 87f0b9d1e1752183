//go:build race

package outbound_test

// raceOn: the race detector slows code 2-20× and lengthens scheduling
// delays; see floodLimits.
const raceOn = true
