package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

const sessionTestTTL = time.Hour

func TestSessions(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		u, err := s.CreateAdminUser(ctx, "ops@example.com", "correct horse battery")
		if err != nil {
			t.Fatal(err)
		}
		var id string
		t.Run("CreatedAndFound", func(t *testing.T) {
			var sess AdminSession
			id, sess, err = s.CreateSession(ctx, u.ID, sessionTestTTL)
			if err != nil {
				t.Fatal(err)
			}
			if len(id) != 43 || sess.Email != "ops@example.com" {
				t.Fatalf("id %q (%d chars), session %+v", id, len(id), sess)
			}
			got, err := s.Session(ctx, id, time.Now())
			if err != nil || got.UserID != u.ID || got.Email != "ops@example.com" {
				t.Fatalf("lookup = %+v, %v", got, err)
			}
			if d := time.Until(got.Expires()); d < 59*time.Minute || d > time.Hour {
				t.Fatalf("expires in %v, want about an hour", d)
			}
		})
		t.Run("OnlyTheDigestIsStored", func(t *testing.T) {
			var digests []string
			if err := s.r.Raw(`SELECT digest FROM admin_sessions`).Scan(&digests).Error; err != nil {
				t.Fatal(err)
			}
			if len(digests) != 1 || digests[0] != sessionDigest(id) || strings.Contains(digests[0], id) {
				t.Fatalf("stored %v", digests)
			}
		})
		t.Run("UnknownOrExpiredIsNotFound", func(t *testing.T) {
			if _, err := s.Session(ctx, id+"x", time.Now()); !errors.Is(err, ErrNotFound) {
				t.Fatalf("unknown: %v", err)
			}
			if _, err := s.Session(ctx, id, time.Now().Add(2*time.Hour)); !errors.Is(err, ErrNotFound) {
				t.Fatalf("expired: %v", err)
			}
		})
		t.Run("ExtendMovesTheEnd", func(t *testing.T) {
			until := time.Now().Add(5 * time.Hour)
			if err := s.ExtendSession(ctx, id, until); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Session(ctx, id, time.Now().Add(4*time.Hour)); err != nil {
				t.Fatalf("extended session not found 4h later: %v", err)
			}
		})
		t.Run("DeleteSignsOut", func(t *testing.T) {
			if err := s.DeleteSession(ctx, id); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Session(ctx, id, time.Now()); !errors.Is(err, ErrNotFound) {
				t.Fatalf("after delete: %v", err)
			}
			if err := s.DeleteSession(ctx, id); err != nil {
				t.Fatalf("second delete: %v", err)
			}
		})
		t.Run("UnknownUserHasNoSession", func(t *testing.T) {
			if _, _, err := s.CreateSession(ctx, "adm_gone", sessionTestTTL); !errors.Is(err, ErrNotFound) {
				t.Fatalf("err = %v", err)
			}
		})
	})
}

func TestLoginFailures(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		t0 := time.Now().Add(-time.Hour)
		for i := 0; i < 3; i++ {
			if err := s.RecordLoginFailure(ctx, "subject-a", t0.Add(time.Duration(i)*time.Minute), 15*time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		t.Run("CountedInWindow", func(t *testing.T) {
			n, oldest, err := s.LoginFailures(ctx, "subject-a", t0.Add(-time.Second))
			if err != nil || n != 3 || oldest.UnixMilli() != t0.UnixMilli() {
				t.Fatalf("n=%d oldest=%v err=%v", n, oldest, err)
			}
			n, _, _ = s.LoginFailures(ctx, "subject-a", t0.Add(90*time.Second))
			if n != 1 {
				t.Fatalf("%d failures after t0+90s, want 1", n)
			}
			n, _, _ = s.LoginFailures(ctx, "subject-b", t0.Add(-time.Second))
			if n != 0 {
				t.Fatalf("another subject has %d failures", n)
			}
		})
		t.Run("OldFailuresArePruned", func(t *testing.T) {
			if err := s.RecordLoginFailure(ctx, "subject-a", t0.Add(30*time.Minute), 15*time.Minute); err != nil {
				t.Fatal(err)
			}
			n, _, _ := s.LoginFailures(ctx, "subject-a", time.Time{})
			if n != 1 {
				t.Fatalf("%d failures kept, want only the newest", n)
			}
		})
		t.Run("ClearedAfterSuccess", func(t *testing.T) {
			if err := s.ClearLoginFailures(ctx, "subject-a"); err != nil {
				t.Fatal(err)
			}
			n, _, _ := s.LoginFailures(ctx, "subject-a", time.Time{})
			if n != 0 {
				t.Fatalf("%d failures after clearing", n)
			}
		})
	})
}
