//go:build !unix

package h1

import (
	"net"
	"time"
)

// alive cannot peek at a socket here; a connection the peer closed fails its
// request, which the gateway then fails over.
func alive(net.Conn) bool { return true }

// waitReadable cannot wait without reading here: Park declines, and the caller's
// read waits instead.
func waitReadable(net.Conn, time.Time) (bool, error) { return true, nil }
