package store

import (
	"runtime"
	"syscall"
)

// yieldToCalls moves the writer's goroutine onto a thread of its own at nice
// writerNice, so its commits give way to the threads serving calls. The goroutine
// never unlocks: when it ends, the runtime ends the thread instead of handing its
// lower priority to other goroutines.
func yieldToCalls() {
	runtime.LockOSThread()
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), writerNice)
}
