//go:build unix

package h1

import (
	"net"
	"syscall"
)

// alive reports whether an idle connection can carry a request: the peer has not
// closed it (a keep-alive timeout) and sent nothing unasked. It peeks at the socket
// without waiting, one system call; net/http's Transport learns the same from a
// goroutine that reads every idle connection.
func alive(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	open := false
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		open = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK // nothing to read: open and quiet
		return true
	})
	return err == nil && open
}
