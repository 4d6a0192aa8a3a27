//go:build !race

package plugin_test

// raceEnabled is whether the race detector is on.
const raceEnabled = false
