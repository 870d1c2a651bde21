package netwatch

import (
	"math"
	"sync"
	"syscall"
)

func pollerWorks() bool { return getPoller() != nil }

// poller is the process's one epoll instance for watched connections. It is
// separate from the Go runtime's own: a descriptor may sit in both, and events here
// never read, they only call the watch's function.
type poller struct {
	epfd    int
	mu      sync.Mutex
	watches map[int32]*Watching
}

var (
	thePoller   *poller
	pollerReady sync.Once
)

func getPoller() *poller {
	pollerReady.Do(func() {
		epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			return // every watch falls back
		}
		thePoller = &poller{epfd: epfd, watches: make(map[int32]*Watching)}
		go thePoller.run()
	})
	return thePoller
}

// Hang-up watches want RDHUP (the peer shut its side) and IN, which handle tells
// apart from a close by peeking; readable watches want either. Both are one-shot:
// handle re-arms a hang-up watch that saw nothing.
const events = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

func watchPoll(w *Watching) bool {
	p := getPoller()
	sc, ok := w.conn.(syscall.Conn)
	if p == nil || !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	registered := false
	cerr := rc.Control(func(fd uintptr) {
		if fd > math.MaxInt32 {
			return // not a descriptor epoll can name
		}
		w.fd = int32(fd) // #nosec G115 -- checked just above
		p.mu.Lock()
		defer p.mu.Unlock()
		ev := syscall.EpollEvent{Events: events, Fd: w.fd}
		if syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(w.fd), &ev) == nil {
			p.watches[w.fd] = w
			registered = true
		}
	})
	return cerr == nil && registered
}

// stopPoll removes the watch before its descriptor can be closed and reused. It
// reports false when the watch had fired.
func stopPoll(w *Watching) bool {
	p := thePoller
	p.mu.Lock()
	defer p.mu.Unlock()
	if w.fired {
		return false
	}
	p.end(w)
	return true
}

func (p *poller) run() {
	events := make([]syscall.EpollEvent, 128)
	var due []func()
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			return // cannot happen with a valid descriptor; watches made stay silent
		}
		p.mu.Lock()
		for _, ev := range events[:n] {
			if w := p.watches[ev.Fd]; w != nil && p.fire(w, ev.Events) {
				due = append(due, w.f)
			}
		}
		p.mu.Unlock()
		// Called without the lock: a function may start a watch of its own.
		for i, f := range due {
			f()
			due[i] = nil
		}
		due = due[:0]
	}
}

// fire decides whether an event means the watch's function is due, and if so ends
// the watch. p.mu is held, so the descriptor is still the watched connection's
// (Stop removes it first).
func (p *poller) fire(w *Watching, evs uint32) bool {
	if !w.once && evs&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) == 0 {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(w.fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case err == syscall.EAGAIN || err == syscall.EINTR:
			ev := syscall.EpollEvent{Events: events, Fd: w.fd}
			_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, int(w.fd), &ev) // nothing there after all
			return false
		case err == nil && n > 0:
			// The client's next request, early: left for the server. The watch ends
			// without a call; the stream learns of a hang-up when a write fails.
			p.end(w)
			return false
		}
	}
	p.end(w)
	w.fired = true
	return true
}

// end takes the watch out of the poller; no call follows.
func (p *poller) end(w *Watching) {
	if w.ended {
		return
	}
	w.ended = true
	delete(p.watches, w.fd)
	_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(w.fd), nil)
}
