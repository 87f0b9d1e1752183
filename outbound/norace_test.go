//go:build !race

package outbound_test

const raceOn = false
