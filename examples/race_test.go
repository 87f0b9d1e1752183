//go:build race

package examples_test

// raceEnabled: the starters are built with -race when the tests are.
const raceEnabled = true
