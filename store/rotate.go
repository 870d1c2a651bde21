package store

import (
	"context"

	"gorm.io/gorm"
)

// RotateSecretKey re-encrypts every stored upstream API key (and every other sealed
// secret: redeem codes, alert signing secrets) under newKey in one transaction, so a
// database never mixes keys: either all open with the old key or all with the new
// one. The store uses newKey from then on. It returns how many channel keys it
// re-encrypted.
func (s *Store) RotateSecretKey(ctx context.Context, newKey []byte) (int, error) {
	next, err := newSealer(newKey)
	if err != nil {
		return 0, err
	}
	n := 0
	err = s.tx(ctx, func(tx *gorm.DB) error {
		var rows []struct{ ID, APIKeyEnc string }
		if err := tx.Raw(`SELECT id, api_key_enc FROM channels`).Scan(&rows).Error; err != nil {
			return err
		}
		for _, r := range rows {
			if r.APIKeyEnc == "" {
				continue
			}
			plain, err := s.sealer.open(r.APIKeyEnc, r.ID)
			if err != nil {
				return err
			}
			sealed, err := next.seal(plain, r.ID)
			if err != nil {
				return err
			}
			if err := tx.Exec(`UPDATE channels SET api_key_enc = ? WHERE id = ?`, sealed, r.ID).Error; err != nil {
				return err
			}
			n++
		}
		if err := s.resealPortalSecrets(tx, next); err != nil {
			return err
		}
		return bumpConfigVersion(tx)
	})
	if err != nil {
		return 0, err
	}
	s.sealer = next
	return n, nil
}
