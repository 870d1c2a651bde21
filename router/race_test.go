//go:build race

package router

// raceDetector is true in a -race build, whose instrumentation allocates on its own:
// allocation budgets are checked only without it.
const raceDetector = true
