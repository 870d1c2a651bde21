package store

import (
	"context"
	"path/filepath"
	"testing"
)

// TestReadsRacingCloseAreSafe: a reader still running when the store closes (the
// dashboard's warm-up after a quick start and stop) flushes nothing and fails
// cleanly; under -race it must not race Close. A second Close does nothing.
func TestReadsRacingCloseAreSafe(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "t.db"), testKey())
	ctx := context.Background()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			_ = s.Flush(ctx)
			_, _ = s.ListTenants(ctx, TenantFilter{})
		}
	}()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	<-done
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("flush after close: %v", err)
	}
	_ = s.Close()
}
