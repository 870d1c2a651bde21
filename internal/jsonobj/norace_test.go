//go:build !race

package jsonobj

const raceDetector = false
