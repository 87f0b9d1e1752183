//go:build !race

package memorystore

const raceEnabled = false
