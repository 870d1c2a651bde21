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
// writerNice.
func TestWriterThreadYieldsToCalls(t *testing.T) {
	s, err := Open(context.Background(), Options{DSN: filepath.Join(t.TempDir(), "tollgate.db"), SecretKey: testKey()})
	if err != nil {
		t.Fatal(err)
	}
	var tid int64
	for deadline := time.Now().Add(5 * time.Second); tid == 0 && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		tid = s.writer.tid.Load()
	}
	stat := "/proc/self/task/" + strconv.FormatInt(tid, 10) + "/stat"
	if nice, err := niceOf(stat); err != nil || nice != writerNice {
		s.Close()
		t.Fatalf("writer thread %d: nice %d (%v), want %d", tid, nice, err, writerNice)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// niceOf reads a thread's nice value from its /proc stat file: the fields after
// the command's closing parenthesis start at field 3 (state); nice is field 19.
func niceOf(path string) (int, error) {
	stat, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return strconv.Atoi(fields[19-3])
}
