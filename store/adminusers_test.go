package store

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAdminUsers(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		var ops AdminUser
		t.Run("CreatedWithNormalizedEmail", func(t *testing.T) {
			var err error
			ops, err = s.CreateAdminUser(ctx, "  Ops@Example.COM ", "correct horse battery")
			if err != nil {
				t.Fatal(err)
			}
			if ops.Email != "ops@example.com" || !strings.HasPrefix(ops.ID, "adm_") {
				t.Fatalf("user = %+v", ops)
			}
		})
		t.Run("PasswordStoredOnlyAsArgon2id", func(t *testing.T) {
			var hash string
			if err := s.r.Raw(`SELECT password_hash FROM admin_users WHERE id = ?`, ops.ID).Scan(&hash).Error; err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(hash, "horse") {
				t.Fatalf("stored hash %q", hash)
			}
		})
		t.Run("DuplicateEmailIsConflict", func(t *testing.T) {
			if _, err := s.CreateAdminUser(ctx, "OPS@example.com", "another long password"); !errors.Is(err, ErrConflict) {
				t.Fatalf("err = %v, want ErrConflict", err)
			}
		})
		t.Run("BadInputIsInvalid", func(t *testing.T) {
			for _, c := range []struct{ email, password string }{
				{"not-an-email", "long enough password"},
				{"Ops <ops@example.com>", "long enough password"},
				{"new@example.com", "short"},
				{"new@example.com", strings.Repeat("x", 2000)},
			} {
				if _, err := s.CreateAdminUser(ctx, c.email, c.password); !errors.Is(err, ErrInvalid) {
					t.Errorf("CreateAdminUser(%q, %d chars) = %v, want ErrInvalid", c.email, len(c.password), err)
				}
			}
		})
		t.Run("AuthenticateChecksPassword", func(t *testing.T) {
			u, err := s.AuthenticateAdmin(ctx, "OPS@example.com", "correct horse battery")
			if err != nil || u.ID != ops.ID || u.LastLoginAt == 0 {
				t.Fatalf("good password: %+v, %v", u, err)
			}
			if _, err := s.AuthenticateAdmin(ctx, "ops@example.com", "correct horse battery!"); !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("wrong password: %v", err)
			}
			if _, err := s.AuthenticateAdmin(ctx, "nobody@example.com", "correct horse battery"); !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("unknown email: %v", err)
			}
		})
		t.Run("SetPasswordEndsSessions", func(t *testing.T) {
			id, _, err := s.CreateSession(ctx, ops.ID, sessionTestTTL)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.SetAdminPassword(ctx, "ops@example.com", "a brand new password"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Session(ctx, id, time.Now()); !errors.Is(err, ErrNotFound) {
				t.Fatalf("session after password change: %v", err)
			}
			if _, err := s.AuthenticateAdmin(ctx, "ops@example.com", "a brand new password"); err != nil {
				t.Fatalf("new password refused: %v", err)
			}
			if err := s.SetAdminPassword(ctx, "nobody@example.com", "a brand new password"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("unknown user: %v", err)
			}
		})
		t.Run("ListAndCount", func(t *testing.T) {
			if _, err := s.CreateAdminUser(ctx, "alice@example.com", "alice's long password"); err != nil {
				t.Fatal(err)
			}
			us, err := s.AdminUsers(ctx)
			if err != nil || len(us) != 2 || us[0].Email != "alice@example.com" || us[1].Email != "ops@example.com" {
				t.Fatalf("users = %+v, %v", us, err)
			}
			n, err := s.AdminUserCount(ctx)
			if err != nil || n != 2 {
				t.Fatalf("count = %d, %v", n, err)
			}
		})
		t.Run("DeleteRemovesUserAndSessions", func(t *testing.T) {
			id, _, err := s.CreateSession(ctx, ops.ID, sessionTestTTL)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteAdminUser(ctx, "ops@example.com"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Session(ctx, id, time.Now()); !errors.Is(err, ErrNotFound) {
				t.Fatalf("session of a deleted user: %v", err)
			}
			if err := s.DeleteAdminUser(ctx, "ops@example.com"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("second delete: %v", err)
			}
		})
	})
}

func TestFirstAdminUser(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		t.Run("OnlyOneOfManyRacersWins", func(t *testing.T) {
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = s.CreateFirstAdminUser(ctx, "racer"+string(rune('a'+i))+"@example.com", "a long enough password")
				}()
			}
			wg.Wait()
			won := 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, ErrConflict):
					t.Errorf("unexpected error %v", err)
				}
			}
			n, _ := s.AdminUserCount(ctx)
			if won != 1 || n != 1 {
				t.Fatalf("%d racers won, %d users exist; want exactly 1", won, n)
			}
		})
		t.Run("NeverAgainAfterUsersAreGone", func(t *testing.T) {
			us, _ := s.AdminUsers(ctx)
			for _, u := range us {
				if err := s.DeleteAdminUser(ctx, u.Email); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.CreateFirstAdminUser(ctx, "late@example.com", "a long enough password"); !errors.Is(err, ErrConflict) {
				t.Fatalf("second bootstrap: %v, want ErrConflict", err)
			}
			if _, err := s.CreateAdminUser(ctx, "late@example.com", "a long enough password"); err != nil {
				t.Fatalf("the CLI path still works: %v", err)
			}
		})
	})
}

func TestPasswordHash(t *testing.T) {
	h := hashPassword("some password here")
	if h == hashPassword("some password here") {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	if !verifyPassword(h, "some password here") || verifyPassword(h, "some password herE") {
		t.Fatal("verification is wrong")
	}
	for _, bad := range []string{"", "$argon2id$v=19$m=1,t=1,p=1$$", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", strings.Replace(h, "v=19", "v=18", 1)} {
		if verifyPassword(bad, "some password here") {
			t.Errorf("malformed hash %q verified", bad)
		}
	}
}
