// Package idlestreams holds many streaming calls open against a gateway while the
// upstream behind it stays silent, and reads the gateway process's memory and file
// descriptors from /proc. The load benchmark (./bench) and cmd/tollgate's idle-streams
// test share it. One goroutine opens and reads every stream, so a client holding
// 10,000 streams stays within the race detector's goroutine limit.
package idlestreams

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// batch is how many calls are started before their first chunks are awaited: enough to
// keep the gateway busy, few enough not to overflow its accept queue.
const batch = 250

// Streams are open streaming calls whose first content chunk has arrived.
type Streams struct {
	conns []net.Conn
}

// Len is the number of open streams.
func (s *Streams) Len() int { return len(s.conns) }

// Close hangs up every stream, as clients that leave mid-stream.
func (s *Streams) Close() {
	for _, c := range s.conns {
		_ = c.Close() // the client leaves; nothing to report
	}
	s.conns = nil
}

// Open starts n streaming POSTs of body to path on addr (host:port) with the bearer
// key, and returns once each has answered 200 and sent its first content chunk (the
// second SSE event: the first carries only the role). It stops at the first stream
// that fails and returns the streams opened so far with the error; the caller closes
// them either way.
func Open(addr, path, key string, body []byte, n int, timeout time.Duration) (*Streams, error) {
	req := fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\nContent-Length: %d\r\n\r\n",
		path, addr, key, len(body))
	req = append(req, body...)
	s := &Streams{conns: make([]net.Conn, 0, n)}
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 16<<10)
	for start := 0; start < n; start += batch {
		pending := make([]net.Conn, 0, batch)
		for i := start; i < min(start+batch, n); i++ {
			c, err := net.DialTimeout("tcp", addr, time.Until(deadline))
			if err == nil {
				_, err = c.Write(req)
			}
			if c != nil {
				pending = append(pending, c)
			}
			if err != nil {
				closeAll(pending)
				return s, fmt.Errorf("stream %d: %w", i+1, err)
			}
		}
		for i, c := range pending {
			if err := awaitFirstChunk(c, buf, deadline); err != nil {
				closeAll(pending[i:])
				return s, fmt.Errorf("stream %d: %w", start+i+1, err)
			}
			s.conns = append(s.conns, c)
		}
	}
	return s, nil
}

// awaitFirstChunk reads an answer's status line, headers and first two SSE events.
func awaitFirstChunk(c net.Conn, buf []byte, deadline time.Time) error {
	if err := c.SetReadDeadline(deadline); err != nil {
		return err
	}
	var got []byte
	for bytes.Count(got, []byte("data: ")) < 2 {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if len(got) >= 12 && !bytes.HasPrefix(got, []byte("HTTP/1.1 200")) {
			line, _, _ := bytes.Cut(got, []byte("\r\n"))
			return fmt.Errorf("answer %q, not 200", line)
		}
		if err != nil {
			return fmt.Errorf("after %d bytes: %w", len(got), err)
		}
	}
	return c.SetReadDeadline(time.Time{})
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		_ = c.Close() // a failed start: the error that ended it is what matters
	}
}

// RSS is the resident memory of process pid in bytes (VmRSS).
func RSS(pid int) (int64, error) {
	kb, err := statusField(pid, "VmRSS")
	return kb << 10, err
}

// statusField reads a "kB" line of /proc/<pid>/status.
func statusField(pid int, name string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no %s", pid, name)
}

// Capacity is how many more streams process pid can relay with its open-files
// limit: each takes two descriptors, the client's connection and the upstream's.
// spare descriptors are left for its database and listeners.
func Capacity(pid, spare int) (streams, limit, open int, err error) {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	open = len(entries)
	limits, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return 0, 0, open, err
	}
	for _, line := range strings.Split(string(limits), "\n") {
		rest, ok := strings.CutPrefix(line, "Max open files")
		if f := strings.Fields(rest); ok && len(f) > 0 { // soft limit, hard limit, unit
			if limit, err = strconv.Atoi(f[0]); err != nil {
				return 0, 0, open, fmt.Errorf("open files limit %q: %w", f[0], err)
			}
			return max(0, (limit-open-spare)/2), limit, open, nil
		}
	}
	return 0, 0, open, errors.New("no open files limit in /proc/<pid>/limits")
}
