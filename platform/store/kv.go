package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// KV is the kv state of functions (table powny.kv), as written by one
// invocation: every write records it in updated_by and bumps the key's
// version. Values are JSON documents, compared as jsonb (semantically).
// Every method is a single statement. Its methods implement fnrun.KV.
type KV struct {
	store *Store
	by    int64 // the invocation that writes; 0 records NULL
}

// KV returns the kv state as written by the invocation updatedBy (0: none).
func (s *Store) KV(updatedBy int64) *KV {
	return &KV{store: s, by: updatedBy}
}

func (kv *KV) updatedBy() *int64 {
	if kv.by == 0 {
		return nil
	}
	return &kv.by
}

// Get returns the value of key in namespace, or nil when it is absent.
func (kv *KV) Get(ctx context.Context, namespace, key string) (json.RawMessage, error) {
	var value json.RawMessage
	err := kv.store.pool.QueryRow(ctx, `SELECT value FROM powny.kv WHERE namespace = $1 AND key = $2`, namespace, key).
		Scan(&value)
	switch err = interpretError(err); {
	case errors.Is(err, ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("kv get: %w", err)
	}
	return value, nil
}

// Set stores value (JSON, not nil) under key.
func (kv *KV) Set(ctx context.Context, namespace, key string, value json.RawMessage) error {
	if value == nil {
		return fmt.Errorf("kv set %q: a nil value (use Delete)", key)
	}
	_, err := kv.store.pool.Exec(ctx, `
		INSERT INTO powny.kv AS k (namespace, key, value, updated_by) VALUES ($1, $2, $3, $4)
		ON CONFLICT (namespace, key) DO UPDATE
		SET value = EXCLUDED.value, version = k.version + 1, updated_at = now(), updated_by = EXCLUDED.updated_by`,
		namespace, key, []byte(value), kv.updatedBy())
	if err != nil {
		return fmt.Errorf("kv set: %w", err)
	}
	return nil
}

// CAS sets key to newValue if its value equals oldValue as jsonb; a nil
// oldValue means "only if absent", a nil newValue deletes the key. swapped
// says whether it did. Each case is one statement, atomic on its own.
func (kv *KV) CAS(ctx context.Context, namespace, key string, oldValue, newValue json.RawMessage) (bool, error) {
	var (
		sql  string
		args []any
	)
	switch {
	case oldValue == nil && newValue == nil:
		// Absent stays absent: true if it is.
		var absent bool
		err := kv.store.pool.QueryRow(ctx, `SELECT NOT EXISTS (SELECT FROM powny.kv WHERE namespace = $1 AND key = $2)`,
			namespace, key).Scan(&absent)
		if err != nil {
			return false, fmt.Errorf("kv cas: %w", err)
		}
		return absent, nil
	case oldValue == nil:
		sql = `INSERT INTO powny.kv (namespace, key, value, updated_by) VALUES ($1, $2, $3, $4)
			ON CONFLICT (namespace, key) DO NOTHING`
		args = []any{namespace, key, []byte(newValue), kv.updatedBy()}
	case newValue == nil:
		sql = `DELETE FROM powny.kv WHERE namespace = $1 AND key = $2 AND value = $3::jsonb`
		args = []any{namespace, key, []byte(oldValue)}
	default:
		sql = `UPDATE powny.kv SET value = $4, version = version + 1, updated_at = now(), updated_by = $5
			WHERE namespace = $1 AND key = $2 AND value = $3::jsonb`
		args = []any{namespace, key, []byte(oldValue), []byte(newValue), kv.updatedBy()}
	}
	tag, err := kv.store.pool.Exec(ctx, sql, args...)
	if err != nil {
		return false, fmt.Errorf("kv cas: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// Delete removes key; existed says whether it was there.
func (kv *KV) Delete(ctx context.Context, namespace, key string) (bool, error) {
	tag, err := kv.store.pool.Exec(ctx, `DELETE FROM powny.kv WHERE namespace = $1 AND key = $2`, namespace, key)
	if err != nil {
		return false, fmt.Errorf("kv delete: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}
