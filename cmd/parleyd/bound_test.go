package main

import "time"

// raceTimeScale is how much longer a timing bound is under -race: the race
// detector slows the server and the attacker alike (typically 2 to 10 times,
// more on a loaded machine). Bounds on sizes and counts never scale.
const raceTimeScale = 5

// timeBound is the bound d, scaled under -race. Tests that assert how long
// something took compare against timeBound(d) and log both.
func timeBound(d time.Duration) time.Duration {
	if raceEnabled {
		return d * raceTimeScale
	}
	return d
}
