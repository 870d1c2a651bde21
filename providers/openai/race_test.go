//go:build race

package openai

// raceDetector is true in a -race build, whose instrumentation allocates on its own:
// allocation counts are checked only without it.
const raceDetector = true
