package store

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestWriterThreadYieldsToCalls: the writer runs on a thread of its own at nice
// writerNice, and that thread ends with the store, so no other goroutine inherits
// its lower priority.
func TestWriterThreadYieldsToCalls(t *testing.T) {
	before := threadsAtNice(t, writerNice)
	s, err := Open(context.Background(), Options{DSN: filepath.Join(t.TempDir(), "tollgate.db"), SecretKey: testKey()})
	if err != nil {
		t.Fatal(err)
	}
	if got := threadsAtNice(t, writerNice); got != before+1 {
		s.Close()
		t.Fatalf("threads at nice %d with the store open: %d, want %d", writerNice, got, before+1)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for threadsAtNice(t, writerNice) != before {
		if time.Now().After(deadline) {
			t.Fatalf("threads at nice %d after Close: %d, want %d", writerNice, threadsAtNice(t, writerNice), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// threadsAtNice counts this process's threads whose nice value is nice.
func threadsAtNice(t *testing.T, nice int) int {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, task := range tasks {
		stat, err := os.ReadFile("/proc/self/task/" + task.Name() + "/stat")
		if err != nil {
			continue // the thread ended
		}
		// Fields after the command's closing parenthesis start at field 3 (state);
		// nice is field 19.
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if v, err := strconv.Atoi(fields[19-3]); err == nil && v == nice {
			n++
		}
	}
	return n
}
