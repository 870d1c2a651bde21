package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/tollgate-gw/tollgate/billing"
	"gorm.io/gorm"
)

type priceRow struct {
	Model         string
	Provider      string
	Input         int64
	Output        int64
	CachedInput   int64
	CacheWrite    int64
	ContextWindow int64
	MaxOutput     int64
}

// PutPrice sets an operator's price for a model, overriding the default book.
func (s *Store) PutPrice(ctx context.Context, p billing.Price) error {
	p.Model = strings.TrimSpace(p.Model)
	if p.Model == "" {
		return fmt.Errorf("%w: model is required", ErrInvalid)
	}
	if p.Input < 0 || p.Output < 0 || p.CachedInput < 0 || p.CacheWrite < 0 || p.ContextWindow < 0 || p.MaxOutput < 0 {
		return fmt.Errorf("%w: prices and limits must not be negative", ErrInvalid)
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec(`INSERT INTO prices (model, provider, input, output, cached_input, cache_write, context_window, max_output, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (model) DO UPDATE SET provider = excluded.provider, input = excluded.input, output = excluded.output, cached_input = excluded.cached_input,
			cache_write = excluded.cache_write, context_window = excluded.context_window, max_output = excluded.max_output, updated_at = excluded.updated_at`,
			p.Model, p.Provider, p.Input, p.Output, p.CachedInput, p.CacheWrite, p.ContextWindow, p.MaxOutput, nowMillis()).Error; err != nil {
			return err
		}
		return bumpConfigVersion(tx)
	})
}

// DeletePrice removes an override, so the default price (if any) applies again.
func (s *Store) DeletePrice(ctx context.Context, model string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`DELETE FROM prices WHERE model = ?`, model)
		if res.Error == nil && res.RowsAffected == 0 {
			return fmt.Errorf("%w: no price override for %s", ErrNotFound, model)
		}
		if res.Error != nil {
			return res.Error
		}
		return bumpConfigVersion(tx)
	})
}

// PriceOverrides returns every operator-set price.
func (s *Store) PriceOverrides(ctx context.Context) ([]billing.Price, error) {
	var rows []priceRow
	if err := s.r.WithContext(ctx).Raw(`SELECT model, provider, input, output, cached_input, cache_write, context_window, max_output FROM prices ORDER BY model`).Scan(&rows).Error; err != nil {
		return nil, wrapDBError(err)
	}
	out := make([]billing.Price, len(rows))
	for i, r := range rows {
		out[i] = billing.Price{Model: r.Model, Provider: r.Provider, Input: billing.PicoPerToken(r.Input), Output: billing.PicoPerToken(r.Output),
			CachedInput: billing.PicoPerToken(r.CachedInput), CacheWrite: billing.PicoPerToken(r.CacheWrite),
			ContextWindow: r.ContextWindow, MaxOutput: r.MaxOutput}
	}
	return out, nil
}
