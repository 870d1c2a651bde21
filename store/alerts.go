package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
	"gorm.io/gorm"
)

// BalanceAlert is a tenant's low-balance alert: when its spendable credit falls
// below Threshold, a signed webhook goes to URL, once per crossing. Armed is false
// from a crossing until the credit is back at or above the threshold.
type BalanceAlert struct {
	TenantID  string
	Threshold billing.Nanos
	URL       string
	Secret    string // signs every delivery (HMAC-SHA256); sealed at rest
	Armed     bool
	UpdatedAt int64
}

// Spendable is the credit a low-balance alert watches: balance plus credit limit.
// Holds of calls in flight are left out: they come and go within seconds and would
// make an alert fire and re-arm with every burst of calls near the threshold.
func (t Tenant) Spendable() billing.Nanos { return t.Balance + t.CreditLimit }

// AlertEventType is the "type" of a low-balance alert's payload.
const AlertEventType = "balance.low"

// AlertPayload is the JSON body of a low-balance alert, fixed when the crossing is
// seen, so every retry sends the same bytes.
type AlertPayload struct {
	ID           string `json:"id"`
	Type         string `json:"type"`
	CreatedAt    string `json:"created_at"`
	TenantID     string `json:"tenant_id"`
	TenantName   string `json:"tenant_name"`
	ThresholdUSD string `json:"threshold_usd"`
	BalanceUSD   string `json:"balance_usd"`
	HeldUSD      string `json:"held_usd"`
	AvailableUSD string `json:"available_usd"`
}

// AlertDelivery is one alert on its way to a tenant's URL.
type AlertDelivery struct {
	ID            string
	TenantID      string
	Payload       string
	Attempts      int
	NextAttemptAt int64
	DeliveredAt   int64
	FailedAt      int64
	LastError     string
	CreatedAt     int64
	// URL and Secret are the tenant's current alert settings (filled by
	// DueAlertDeliveries); empty when the alert was removed meanwhile.
	URL    string
	Secret string
}

func newAlertSecret() string {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return "tgwh_" + hex.EncodeToString(b[:])
}

// SetBalanceAlert creates or changes a tenant's alert. A new alert gets a signing
// secret (an existing one keeps its own) and starts armed only if the tenant's
// credit is at or above the threshold: an alert fires on a crossing, not on a
// balance that was already low.
func (s *Store) SetBalanceAlert(ctx context.Context, tenantID string, threshold billing.Nanos, url string) (BalanceAlert, error) {
	if threshold <= 0 || threshold > MaxTopup {
		return BalanceAlert{}, fmt.Errorf("%w: the threshold must be more than 0 and at most %s USD", ErrInvalid, MaxTopup)
	}
	var a BalanceAlert
	err := s.tx(ctx, func(tx *gorm.DB) error {
		t, err := s.tenantWith(tx, tenantID)
		if err != nil {
			return err
		}
		now := nowMillis()
		var existing []struct{ SecretEnc string }
		if err := tx.Raw(`SELECT secret_enc FROM balance_alerts WHERE tenant_id = ?`, tenantID).Scan(&existing).Error; err != nil {
			return err
		}
		a = BalanceAlert{TenantID: tenantID, Threshold: threshold, URL: url, Armed: t.Spendable() >= threshold, UpdatedAt: now}
		if len(existing) == 1 {
			if a.Secret, err = s.sealer.open(existing[0].SecretEnc, sealedRef("balance_alerts", tenantID)); err != nil {
				return err
			}
			return tx.Exec(`UPDATE balance_alerts SET threshold = ?, url = ?, armed = ?, updated_at = ? WHERE tenant_id = ?`,
				threshold, url, a.Armed, now, tenantID).Error
		}
		a.Secret = newAlertSecret()
		sealed, err := s.sealer.seal(a.Secret, sealedRef("balance_alerts", tenantID))
		if err != nil {
			return err
		}
		return tx.Exec(`INSERT INTO balance_alerts (tenant_id, threshold, url, secret_enc, armed, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
			tenantID, threshold, url, sealed, a.Armed, now).Error
	})
	return a, err
}

// BalanceAlert reads a tenant's alert with its secret; ErrNotFound when none is set.
func (s *Store) BalanceAlert(ctx context.Context, tenantID string) (BalanceAlert, error) {
	var rows []struct {
		BalanceAlert
		SecretEnc string
	}
	if err := s.read(ctx).Raw(`SELECT tenant_id, threshold, url, secret_enc, armed, updated_at FROM balance_alerts WHERE tenant_id = ?`,
		tenantID).Scan(&rows).Error; err != nil {
		return BalanceAlert{}, wrapDBError(err)
	}
	if len(rows) == 0 {
		return BalanceAlert{}, fmt.Errorf("%w: no low-balance alert is set", ErrNotFound)
	}
	a := rows[0].BalanceAlert
	secret, err := s.sealer.open(rows[0].SecretEnc, sealedRef("balance_alerts", tenantID))
	if err != nil {
		return BalanceAlert{}, err
	}
	a.Secret = secret
	return a, nil
}

// RotateAlertSecret gives a tenant's alert a new signing secret and returns the alert.
func (s *Store) RotateAlertSecret(ctx context.Context, tenantID string) (BalanceAlert, error) {
	secret := newAlertSecret()
	sealed, err := s.sealer.seal(secret, sealedRef("balance_alerts", tenantID))
	if err != nil {
		return BalanceAlert{}, err
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE balance_alerts SET secret_enc = ?, updated_at = ? WHERE tenant_id = ?`, sealed, nowMillis(), tenantID)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("%w: no low-balance alert is set", ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return BalanceAlert{}, err
	}
	return s.BalanceAlert(ctx, tenantID)
}

// DeleteBalanceAlert removes a tenant's alert; deliveries still queued are dropped
// by the sender when it finds no alert.
func (s *Store) DeleteBalanceAlert(ctx context.Context, tenantID string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`DELETE FROM balance_alerts WHERE tenant_id = ?`, tenantID)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("%w: no low-balance alert is set", ErrNotFound)
		}
		return nil
	})
}

// CheckBalanceAlerts looks for crossings: every armed alert whose tenant's spendable
// credit is now below its threshold is disarmed and queues one delivery, in one
// transaction, so several gateway nodes checking at once still queue one; every
// disarmed alert whose tenant is back at or above its threshold is armed again. It
// reads only the alerts whose state must change, and returns the deliveries queued.
func (s *Store) CheckBalanceAlerts(ctx context.Context, now time.Time) ([]AlertDelivery, error) {
	err := s.tx(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`UPDATE balance_alerts SET armed = ? WHERE armed = ? AND threshold <=
			(SELECT t.balance + t.credit_limit FROM tenants t WHERE t.id = balance_alerts.tenant_id)`, true, false).Error
	})
	if err != nil {
		return nil, err
	}
	var crossed []struct {
		TenantID  string
		Threshold int64
	}
	if err := s.read(ctx).Raw(`SELECT a.tenant_id, a.threshold FROM balance_alerts a JOIN tenants t ON t.id = a.tenant_id
		WHERE a.armed = ? AND t.balance + t.credit_limit < a.threshold`, true).Scan(&crossed).Error; err != nil {
		return nil, wrapDBError(err)
	}
	var queued []AlertDelivery
	for _, c := range crossed {
		var d AlertDelivery
		err := s.tx(ctx, func(tx *gorm.DB) error {
			t, err := s.tenantWith(tx, c.TenantID)
			if err != nil {
				return err
			}
			if t.Spendable() >= billing.Nanos(c.Threshold) {
				return nil // topped up in the meantime
			}
			res := tx.Exec(`UPDATE balance_alerts SET armed = ? WHERE tenant_id = ? AND armed = ?`, false, c.TenantID, true)
			if res.Error != nil || res.RowsAffected == 0 {
				return res.Error // another node took this crossing
			}
			ms := now.UnixMilli()
			d = AlertDelivery{ID: newID("alrt"), TenantID: t.ID, NextAttemptAt: ms, CreatedAt: ms}
			body, err := json.Marshal(AlertPayload{ID: d.ID, Type: AlertEventType, CreatedAt: now.UTC().Format(time.RFC3339),
				TenantID: t.ID, TenantName: t.Name, ThresholdUSD: billing.Nanos(c.Threshold).String(), BalanceUSD: t.Balance.String(),
				HeldUSD: t.Held.String(), AvailableUSD: t.Available().String()})
			if err != nil {
				return err
			}
			d.Payload = string(body)
			return tx.Exec(`INSERT INTO alert_deliveries (id, tenant_id, payload, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, 0, ?, ?)`,
				d.ID, d.TenantID, d.Payload, d.NextAttemptAt, d.CreatedAt).Error
		})
		if err != nil {
			return queued, err
		}
		if d.ID != "" {
			queued = append(queued, d)
		}
	}
	return queued, nil
}

const deliveryColumns = `d.id, d.tenant_id, d.payload, d.attempts, d.next_attempt_at, d.delivered_at, d.failed_at, d.last_error, d.created_at`

// DueAlertDeliveries returns deliveries waiting for an attempt at now, oldest first,
// each with its tenant's current URL and secret.
func (s *Store) DueAlertDeliveries(ctx context.Context, now time.Time, limit int) ([]AlertDelivery, error) {
	var rows []struct {
		AlertDelivery
		AlertURL  sql.NullString
		SecretEnc sql.NullString
	}
	err := s.read(ctx).Raw(`SELECT `+deliveryColumns+`, a.url AS alert_url, a.secret_enc FROM alert_deliveries d
		LEFT JOIN balance_alerts a ON a.tenant_id = d.tenant_id
		WHERE d.delivered_at = 0 AND d.failed_at = 0 AND d.next_attempt_at <= ? ORDER BY d.next_attempt_at LIMIT ?`,
		now.UnixMilli(), limitOr(limit, 100)).Scan(&rows).Error
	if err != nil {
		return nil, wrapDBError(err)
	}
	out := make([]AlertDelivery, len(rows))
	for i, r := range rows {
		out[i] = r.AlertDelivery
		if r.AlertURL.Valid {
			out[i].URL = r.AlertURL.String
			secret, err := s.sealer.open(r.SecretEnc.String, sealedRef("balance_alerts", r.TenantID))
			if err != nil {
				return nil, err
			}
			out[i].Secret = secret
		}
	}
	return out, nil
}

// ClaimAlertDelivery takes a due delivery for one attempt: it counts the attempt and
// pushes the next one lease ahead, only if nobody else claimed it since d was read,
// so two nodes never send the same attempt. It reports whether the claim held.
func (s *Store) ClaimAlertDelivery(ctx context.Context, d AlertDelivery, now time.Time, lease time.Duration) (bool, error) {
	claimed := false
	err := s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE alert_deliveries SET attempts = attempts + 1, next_attempt_at = ?
			WHERE id = ? AND attempts = ? AND delivered_at = 0 AND failed_at = 0`, now.Add(lease).UnixMilli(), d.ID, d.Attempts)
		claimed = res.RowsAffected == 1
		return res.Error
	})
	return claimed, err
}

// FinishAlertDelivery records an attempt's end: delivered, failed for good (giveUp),
// or to be tried again at retryAt.
func (s *Store) FinishAlertDelivery(ctx context.Context, id string, delivered, giveUp bool, errText string, retryAt time.Time) error {
	now := nowMillis()
	return s.tx(ctx, func(tx *gorm.DB) error {
		switch {
		case delivered:
			return tx.Exec(`UPDATE alert_deliveries SET delivered_at = ?, last_error = '' WHERE id = ?`, now, id).Error
		case giveUp:
			return tx.Exec(`UPDATE alert_deliveries SET failed_at = ?, last_error = ? WHERE id = ?`, now, truncate(errText, 500), id).Error
		}
		return tx.Exec(`UPDATE alert_deliveries SET next_attempt_at = ?, last_error = ? WHERE id = ?`, retryAt.UnixMilli(), truncate(errText, 500), id).Error
	})
}

// AlertDeliveries lists a tenant's recent alert deliveries, newest first.
func (s *Store) AlertDeliveries(ctx context.Context, tenantID string, limit int) ([]AlertDelivery, error) {
	var out []AlertDelivery
	err := s.read(ctx).Raw(`SELECT `+deliveryColumns+` FROM alert_deliveries d WHERE d.tenant_id = ? ORDER BY d.created_at DESC, d.id LIMIT ?`,
		tenantID, limitOr(limit, 20)).Scan(&out).Error
	return out, wrapDBError(err)
}
