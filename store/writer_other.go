//go:build !linux

package store

// yieldToCalls is Linux-only: elsewhere setpriority sets a whole process's.
func yieldToCalls() int { return 0 }
