package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"gorm.io/gorm"
)

// Channel is one upstream account: a provider, its base URL and key, the models it
// serves and how it ranks against other channels for the same model.
type Channel struct {
	ID        string
	Name      string
	Provider  string
	BaseURL   string
	APIKey    string            // decrypted; never leaves the process through the API
	HasAPIKey bool              // whether a key is stored, for display
	Models    []string          // model names clients use
	ModelMap  map[string]string // client model → upstream model name
	Options   map[string]string // provider-specific settings (e.g. Azure "api_version")
	Priority  int               // higher is tried first
	Weight    int               // share among channels of equal priority
	Enabled   bool
	CreatedAt int64
	UpdatedAt int64
}

// UpstreamModel is the name to send upstream for a client's model.
func (c Channel) UpstreamModel(model string) string {
	if m, ok := c.ModelMap[model]; ok && m != "" {
		return m
	}
	return model
}

// Serves says whether the channel offers a model.
func (c Channel) Serves(model string) bool {
	for _, m := range c.Models {
		if m == model {
			return true
		}
	}
	return false
}

type channelRow struct {
	ID        string
	Name      string
	Provider  string
	BaseURL   string
	APIKeyEnc string
	Models    string
	ModelMap  string
	Options   string
	Priority  int
	Weight    int
	Enabled   bool
	CreatedAt int64
	UpdatedAt int64
}

const channelColumns = `id, name, provider, base_url, api_key_enc, models, model_map, options, priority, weight, enabled, created_at, updated_at`

func (s *Store) channelFromRow(r channelRow) (Channel, error) {
	c := Channel{ID: r.ID, Name: r.Name, Provider: r.Provider, BaseURL: r.BaseURL, HasAPIKey: r.APIKeyEnc != "",
		Priority: r.Priority, Weight: r.Weight, Enabled: r.Enabled, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	_ = json.Unmarshal([]byte(r.Models), &c.Models)
	_ = json.Unmarshal([]byte(r.ModelMap), &c.ModelMap)
	_ = json.Unmarshal([]byte(r.Options), &c.Options)
	key, err := s.sealer.open(r.APIKeyEnc, r.ID)
	if err != nil {
		return Channel{}, fmt.Errorf("channel %s: %w", r.ID, err)
	}
	c.APIKey = key
	return c, nil
}

// ChannelInput is what an operator sets on a channel; nil fields are left unchanged
// by UpdateChannel.
type ChannelInput struct {
	Name     *string
	Provider *string
	BaseURL  *string
	APIKey   *string
	Models   *[]string
	ModelMap *map[string]string
	Options  *map[string]string
	Priority *int
	Weight   *int
	Enabled  *bool
}

func (in ChannelInput) apply(c *Channel) error {
	if in.Name != nil {
		c.Name = strings.TrimSpace(*in.Name)
	}
	if in.Provider != nil {
		c.Provider = strings.TrimSpace(*in.Provider)
	}
	if in.BaseURL != nil {
		c.BaseURL = strings.TrimRight(strings.TrimSpace(*in.BaseURL), "/")
	}
	if in.APIKey != nil {
		c.APIKey = *in.APIKey
	}
	if in.Models != nil {
		c.Models = nil
		for _, m := range *in.Models {
			if m = strings.TrimSpace(m); m != "" {
				c.Models = append(c.Models, m)
			}
		}
	}
	if in.ModelMap != nil {
		c.ModelMap = *in.ModelMap
	}
	if in.Options != nil {
		c.Options = *in.Options
	}
	if in.Priority != nil {
		c.Priority = *in.Priority
	}
	if in.Weight != nil {
		c.Weight = *in.Weight
	}
	if in.Enabled != nil {
		c.Enabled = *in.Enabled
	}
	switch {
	case c.Name == "":
		return fmt.Errorf("%w: name is required", ErrInvalid)
	case c.Provider == "":
		return fmt.Errorf("%w: provider is required", ErrInvalid)
	case len(c.Models) == 0:
		return fmt.Errorf("%w: models must name at least one model", ErrInvalid)
	case c.Weight < 1:
		return fmt.Errorf("%w: weight must be at least 1", ErrInvalid)
	}
	return nil
}

func (s *Store) writeChannel(tx *gorm.DB, c Channel, insert bool) error {
	enc, err := s.sealer.seal(c.APIKey, c.ID)
	if err != nil {
		return err
	}
	if c.APIKey == "" {
		enc = ""
	}
	models, _ := json.Marshal(c.Models)
	if c.ModelMap == nil {
		c.ModelMap = map[string]string{}
	}
	modelMap, _ := json.Marshal(c.ModelMap)
	if c.Options == nil {
		c.Options = map[string]string{}
	}
	options, _ := json.Marshal(c.Options)
	if insert {
		return tx.Exec(`INSERT INTO channels (`+channelColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ID, c.Name, c.Provider, c.BaseURL, enc, string(models), string(modelMap), string(options), c.Priority, c.Weight, c.Enabled, c.CreatedAt, c.UpdatedAt).Error
	}
	return tx.Exec(`UPDATE channels SET name = ?, provider = ?, base_url = ?, api_key_enc = ?, models = ?, model_map = ?, options = ?, priority = ?, weight = ?, enabled = ?, updated_at = ? WHERE id = ?`,
		c.Name, c.Provider, c.BaseURL, enc, string(models), string(modelMap), string(options), c.Priority, c.Weight, c.Enabled, c.UpdatedAt, c.ID).Error
}

// CreateChannel adds an upstream channel (enabled, weight 1 unless given).
func (s *Store) CreateChannel(ctx context.Context, in ChannelInput) (Channel, error) {
	now := nowMillis()
	c := Channel{ID: newID("ch"), Weight: 1, Enabled: true, CreatedAt: now, UpdatedAt: now}
	if err := in.apply(&c); err != nil {
		return Channel{}, err
	}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := s.writeChannel(tx, c, true); err != nil {
			return err
		}
		return bumpConfigVersion(tx)
	})
	if err != nil {
		return Channel{}, wrapConflict(err, "a channel named %q already exists", c.Name)
	}
	c.HasAPIKey = c.APIKey != ""
	return c, nil
}

// UpdateChannel changes the fields set in in.
func (s *Store) UpdateChannel(ctx context.Context, id string, in ChannelInput) (Channel, error) {
	var c Channel
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var err error
		if c, err = s.channelWith(tx, id); err != nil {
			return err
		}
		if err := in.apply(&c); err != nil {
			return err
		}
		c.UpdatedAt = nowMillis()
		if err := s.writeChannel(tx, c, false); err != nil {
			return err
		}
		return bumpConfigVersion(tx)
	})
	if err != nil {
		return Channel{}, wrapConflict(err, "a channel with that name already exists")
	}
	c.HasAPIKey = c.APIKey != ""
	return c, nil
}

// DeleteChannel removes a channel; calls already routed to it finish.
func (s *Store) DeleteChannel(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`DELETE FROM channels WHERE id = ?`, id)
		if res.Error == nil && res.RowsAffected == 0 {
			return fmt.Errorf("%w: channel %s", ErrNotFound, id)
		}
		if res.Error != nil {
			return res.Error
		}
		return bumpConfigVersion(tx)
	})
}

// Channel reads one channel.
func (s *Store) Channel(ctx context.Context, id string) (Channel, error) {
	return s.channelWith(s.r.WithContext(ctx), id)
}

func (s *Store) channelWith(db *gorm.DB, id string) (Channel, error) {
	var rows []channelRow
	if err := db.Raw(`SELECT `+channelColumns+` FROM channels WHERE id = ?`, id).Scan(&rows).Error; err != nil {
		return Channel{}, wrapDBError(err)
	}
	if len(rows) == 0 {
		return Channel{}, fmt.Errorf("%w: channel %s", ErrNotFound, id)
	}
	return s.channelFromRow(rows[0])
}

// ListChannels returns every channel, highest priority first.
func (s *Store) ListChannels(ctx context.Context) ([]Channel, error) {
	var rows []channelRow
	if err := s.r.WithContext(ctx).Raw(`SELECT ` + channelColumns + ` FROM channels ORDER BY priority DESC, name`).Scan(&rows).Error; err != nil {
		return nil, wrapDBError(err)
	}
	out := make([]Channel, 0, len(rows))
	for _, r := range rows {
		c, err := s.channelFromRow(r)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
