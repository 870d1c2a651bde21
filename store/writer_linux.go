package store

import (
	"runtime"
	"syscall"
)

// yieldToCalls moves the writer's goroutine onto a thread of its own at nice
// writerNice, so its commits give way to the threads serving calls. The goroutine
// never unlocks, so no other goroutine ever runs on that thread at its lower
// priority. It returns the thread's id.
func yieldToCalls() int {
	runtime.LockOSThread()
	tid := syscall.Gettid()
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, tid, writerNice)
	return tid
}
