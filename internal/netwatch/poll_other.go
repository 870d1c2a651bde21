//go:build !linux

package netwatch

func watchPoll(*Watching) bool { return false }

func stopPoll(*Watching) bool { return true }
