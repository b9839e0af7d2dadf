//go:build race

package main

// raceEnabled reports whether the test binary was built with -race, which
// makes the server several times slower: timeBound (bound_test.go) scales timing bounds.
const raceEnabled = true
