package h1

import (
	"net"
	"sync"
	"time"
)

// watchAfter is how long a call runs before the server watches its client for a
// hang-up. A call that ends sooner costs a lock and a list link; one that runs
// longer is noticed within 2×watchAfter of its client leaving (net/http's server
// notices at once, at the price of a wake-up and a read on every request).
const watchAfter = 100 * time.Millisecond

// inflight is the list of calls being served. While it is not empty a ticker walks
// it every watchAfter and puts the connections of calls that were already there at
// the previous tick under a hang-up watch (Server.WatchHangUp), which cancels the
// call's context when the client leaves.
type inflight struct {
	watch   func(c net.Conn, onHangUp func()) (stop func(), ok bool)
	mu      sync.Mutex
	head    *serverConn
	tick    uint32
	running bool
}

func (f *inflight) add(c *serverConn) {
	f.mu.Lock()
	c.since = f.tick
	c.prev, c.next = nil, f.head
	if f.head != nil {
		f.head.prev = c
	}
	f.head = c
	if !f.running {
		f.running = true
		go f.sweep()
	}
	f.mu.Unlock()
}

// remove takes c out of the list and returns the stop of its watch, if it got one,
// for the caller to call before the connection is read, closed or handed on.
func (f *inflight) remove(c *serverConn) func() {
	f.mu.Lock()
	if c.prev != nil {
		c.prev.next = c.next
	} else if f.head == c {
		f.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	}
	c.prev, c.next = nil, nil
	w := c.watch
	c.watch, c.watchedOnce = nil, false
	f.mu.Unlock()
	return w
}

func (f *inflight) sweep() {
	t := time.NewTicker(watchAfter)
	defer t.Stop()
	for range t.C {
		f.mu.Lock()
		if f.head == nil {
			f.running = false
			f.mu.Unlock()
			return
		}
		f.tick++
		for c := f.head; c != nil; c = c.next {
			if !c.watchedOnce && f.tick-c.since >= 2 {
				c.watchedOnce = true
				if stop, ok := f.watch(c.nc, c.cancel); ok {
					c.watch = stop
				}
			}
		}
		f.mu.Unlock()
	}
}
