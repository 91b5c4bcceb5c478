//go:build !race

package lens

const raceEnabled = false
