//go:build race

package transform

// raceEnabled reports that the race detector is on; sync.Pool then drops
// pooled values on purpose, so code that pools (regexp) allocates more.
const raceEnabled = true
