//go:build !linux

package netwatch

func pollerWorks() bool { return false }

func watchPoll(*Watching) bool { return false }

func stopPoll(*Watching) bool { return true }
