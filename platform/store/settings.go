package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Kinds of settings (powny.settings.kind).
const (
	SettingEnv    = "env"
	SettingSecret = "secret"
)

// Setting is one of the operator's settings. Value is empty where it is not
// read (the list of secrets).
type Setting struct {
	Name      string    `json:"name"`
	Value     string    `json:"value,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// PutSetting creates or replaces the setting name of kind (SettingEnv or
// SettingSecret), and returns it without its value.
func (s *Store) PutSetting(ctx context.Context, kind, name, value string) (Setting, error) {
	st := Setting{Name: name}
	err := s.pool.QueryRow(ctx, `
		INSERT INTO powny.settings (kind, name, value) VALUES ($1, $2, $3)
		ON CONFLICT (kind, name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
		RETURNING updated_at`, kind, name, value).Scan(&st.UpdatedAt)
	if err != nil {
		return Setting{}, fmt.Errorf("put %s setting: %w", kind, interpretError(err))
	}
	return st, nil
}

// ListSettings lists the settings of kind by name. Values are read for
// SettingEnv only: a secret's value never leaves the database but to a run.
func (s *Store) ListSettings(ctx context.Context, kind string) ([]Setting, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT name, CASE WHEN kind = 'secret' THEN '' ELSE value END, updated_at
		FROM powny.settings WHERE kind = $1 ORDER BY name`, kind)
	if err != nil {
		return nil, fmt.Errorf("list %s settings: %w", kind, err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Setting, error) {
		var st Setting
		err := row.Scan(&st.Name, &st.Value, &st.UpdatedAt)
		return st, err
	})
	if err != nil {
		return nil, fmt.Errorf("list %s settings: %w", kind, err)
	}
	return list, nil
}

// DeleteSetting removes a setting; ErrNotFound when it is not set.
func (s *Store) DeleteSetting(ctx context.Context, kind, name string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM powny.settings WHERE kind = $1 AND name = $2`, kind, name)
	if err != nil {
		return fmt.Errorf("delete %s setting: %w", kind, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// SettingValue returns the value of a setting; ok is false when it is unset.
func (s *Store) SettingValue(ctx context.Context, kind, name string) (value string, ok bool, err error) {
	err = s.pool.QueryRow(ctx, `SELECT value FROM powny.settings WHERE kind = $1 AND name = $2`, kind, name).Scan(&value)
	switch err = interpretError(err); {
	case errors.Is(err, ErrNotFound):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("read %s setting: %w", kind, err)
	}
	return value, true, nil
}

// SettingsCache reads settings for the runs of one worker, each kept for a
// short TTL: a run does not query Postgres at every env() or secret() call,
// and an operator's change reaches every worker within the TTL. Misses are
// cached too. Its methods implement fnrun.Settings. Safe for concurrent use.
type SettingsCache struct {
	store *Store
	ttl   time.Duration
	now   func() time.Time

	mu      sync.Mutex
	entries map[settingKey]cachedSetting
}

type settingKey struct{ kind, name string }

type cachedSetting struct {
	value string
	ok    bool
	at    time.Time
}

// maxCachedSettings bounds the cache: past it, it is emptied.
const maxCachedSettings = 10_000

// NewSettingsCache returns a cache whose entries live for ttl (0: 1s).
func (s *Store) NewSettingsCache(ttl time.Duration) *SettingsCache {
	if ttl <= 0 {
		ttl = time.Second
	}
	return &SettingsCache{store: s, ttl: ttl, now: time.Now, entries: map[settingKey]cachedSetting{}}
}

// Env returns the env setting name.
func (c *SettingsCache) Env(ctx context.Context, name string) (string, bool, error) {
	return c.get(ctx, SettingEnv, name)
}

// Secret returns the secret name.
func (c *SettingsCache) Secret(ctx context.Context, name string) (string, bool, error) {
	return c.get(ctx, SettingSecret, name)
}

func (c *SettingsCache) get(ctx context.Context, kind, name string) (string, bool, error) {
	key := settingKey{kind, name}
	c.mu.Lock()
	e, found := c.entries[key]
	c.mu.Unlock()
	if found && c.now().Sub(e.at) < c.ttl {
		return e.value, e.ok, nil
	}
	value, ok, err := c.store.SettingValue(ctx, kind, name)
	if err != nil {
		return "", false, err
	}
	c.mu.Lock()
	if len(c.entries) >= maxCachedSettings {
		clear(c.entries)
	}
	c.entries[key] = cachedSetting{value: value, ok: ok, at: c.now()}
	c.mu.Unlock()
	return value, ok, nil
}
