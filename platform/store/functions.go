package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Function is a deployed function with its active version.
type Function struct {
	Name          string    `json:"name"`
	ActiveVersion int       `json:"active_version"`
	Versions      int       `json:"versions"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// Version is one immutable version of a function.
type Version struct {
	ID        int64           `json:"-"`
	Function  string          `json:"function"`
	Number    int             `json:"version"`
	SHA256    string          `json:"sha256"`
	Author    string          `json:"author"`
	Config    json.RawMessage `json:"config"`
	Active    bool            `json:"active"`
	CreatedAt time.Time       `json:"created_at"`
	// Source and Code are loaded only where asked for (GetVersion, ActiveVersion).
	Source string `json:"source,omitempty"`
	Code   []byte `json:"-"`
}

// NewVersion is what a deploy stores.
type NewVersion struct {
	Function string
	Source   string
	Code     []byte
	Config   json.RawMessage
	SHA256   string
	Author   string
}

// Deploy stores a new version of a function (creating the function on its first
// deploy) and makes it active. Deploying a source identical to an existing
// version reactivates that version instead of storing a copy; created says
// which happened.
func (s *Store) Deploy(ctx context.Context, nv NewVersion) (v Version, created bool, err error) {
	err = s.InTx(ctx, func(tx pgx.Tx) error {
		var fnID int64
		// The upsert locks the function's row, so concurrent deploys of one
		// function number their versions one after the other.
		if err := tx.QueryRow(ctx, `
			INSERT INTO powny.functions (name) VALUES ($1)
			ON CONFLICT (name) DO UPDATE SET updated_at = now()
			RETURNING id`, nv.Function).Scan(&fnID); err != nil {
			return fmt.Errorf("upsert function: %w", interpretError(err))
		}
		var id int64
		err := tx.QueryRow(ctx, `SELECT id FROM powny.versions WHERE function_id = $1 AND sha256 = $2`,
			fnID, nv.SHA256).Scan(&id)
		switch err = interpretError(err); {
		case err == nil:
		case errors.Is(err, ErrNotFound):
			created = true
			if err := tx.QueryRow(ctx, `
				INSERT INTO powny.versions (function_id, number, source, code, config, sha256, author)
				SELECT $1, COALESCE(max(number), 0) + 1, $2, $3, $4, $5, $6
				FROM powny.versions WHERE function_id = $1
				RETURNING id`,
				fnID, nv.Source, nv.Code, nv.Config, nv.SHA256, nv.Author).Scan(&id); err != nil {
				return fmt.Errorf("insert version: %w", interpretError(err))
			}
		default:
			return fmt.Errorf("find version by hash: %w", err)
		}
		if err := activate(ctx, tx, fnID, id); err != nil {
			return err
		}
		v, err = scanVersion(tx.QueryRow(ctx, versionSelect+` WHERE v.id = $1`, id))
		return err
	})
	return v, created, err
}

const versionSelect = `
	SELECT v.id, f.name, v.number, v.sha256, v.author, v.config, v.id = f.active_version, v.created_at
	FROM powny.versions v JOIN powny.functions f ON f.id = v.function_id`

func scanVersion(row pgx.Row) (Version, error) {
	var v Version
	err := row.Scan(&v.ID, &v.Function, &v.Number, &v.SHA256, &v.Author, &v.Config, &v.Active, &v.CreatedAt)
	return v, interpretError(err)
}

// ListFunctions lists every function, by name.
func (s *Store) ListFunctions(ctx context.Context) ([]Function, error) {
	rows, err := s.pool.Query(ctx, functionSelect+` ORDER BY f.name`)
	if err != nil {
		return nil, fmt.Errorf("list functions: %w", err)
	}
	fns, err := pgx.CollectRows(rows, scanFunction)
	if err != nil {
		return nil, fmt.Errorf("list functions: %w", err)
	}
	return fns, nil
}

// GetFunction returns one function by name.
func (s *Store) GetFunction(ctx context.Context, name string) (Function, error) {
	rows, err := s.pool.Query(ctx, functionSelect+` WHERE f.name = $1`, name)
	if err != nil {
		return Function{}, fmt.Errorf("get function: %w", err)
	}
	fn, err := pgx.CollectExactlyOneRow(rows, scanFunction)
	return fn, interpretError(err)
}

const functionSelect = `
	SELECT f.name, COALESCE(v.number, 0),
	       (SELECT count(*) FROM powny.versions x WHERE x.function_id = f.id),
	       f.created_at, f.updated_at
	FROM powny.functions f LEFT JOIN powny.versions v ON v.id = f.active_version`

func scanFunction(row pgx.CollectableRow) (Function, error) {
	var f Function
	err := row.Scan(&f.Name, &f.ActiveVersion, &f.Versions, &f.CreatedAt, &f.UpdatedAt)
	return f, err
}

// ListVersions lists a function's versions, newest first. An unknown function
// gives ErrNotFound.
func (s *Store) ListVersions(ctx context.Context, function string) ([]Version, error) {
	if _, err := s.GetFunction(ctx, function); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, versionSelect+` WHERE f.name = $1 ORDER BY v.number DESC`, function)
	if err != nil {
		return nil, fmt.Errorf("list versions: %w", err)
	}
	vs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Version, error) { return scanVersion(row) })
	if err != nil {
		return nil, fmt.Errorf("list versions: %w", err)
	}
	return vs, nil
}

// GetVersion returns one version of a function with its source; number 0
// means the active version.
func (s *Store) GetVersion(ctx context.Context, function string, number int) (Version, error) {
	var v Version
	err := s.pool.QueryRow(ctx, `
		SELECT v.id, f.name, v.number, v.sha256, v.author, v.config, v.id = f.active_version, v.created_at, v.source
		FROM powny.versions v JOIN powny.functions f ON f.id = v.function_id
		WHERE f.name = $1 AND (v.number = $2 OR ($2 = 0 AND v.id = f.active_version))`,
		function, number).Scan(&v.ID, &v.Function, &v.Number, &v.SHA256, &v.Author, &v.Config, &v.Active, &v.CreatedAt, &v.Source)
	return v, interpretError(err)
}

// LoadCode returns the compiled code and config of a version by its id: what
// a worker needs to run an invocation pinned to that version.
func (s *Store) LoadCode(ctx context.Context, versionID int64) (code []byte, config json.RawMessage, err error) {
	err = s.pool.QueryRow(ctx, `SELECT code, config FROM powny.versions WHERE id = $1`, versionID).Scan(&code, &config)
	return code, config, interpretError(err)
}

// Rollback activates an older version: number, or when number is 0 the
// newest version older than the active one.
func (s *Store) Rollback(ctx context.Context, function string, number int) (Version, error) {
	var v Version
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var fnID int64
		var active int
		err := tx.QueryRow(ctx, `
			SELECT f.id, COALESCE(v.number, 0) FROM powny.functions f
			LEFT JOIN powny.versions v ON v.id = f.active_version
			WHERE f.name = $1 FOR UPDATE OF f`, function).Scan(&fnID, &active)
		if err != nil {
			return interpretError(err)
		}
		var id int64
		if number == 0 {
			err = tx.QueryRow(ctx, `SELECT id FROM powny.versions WHERE function_id = $1 AND number < $2
				ORDER BY number DESC LIMIT 1`, fnID, active).Scan(&id)
			if err = interpretError(err); errors.Is(err, ErrNotFound) {
				return fmt.Errorf("%w: version %d is the oldest", ErrNotFound, active)
			}
		} else {
			err = interpretError(tx.QueryRow(ctx, `SELECT id FROM powny.versions WHERE function_id = $1 AND number = $2`,
				fnID, number).Scan(&id))
		}
		if err != nil {
			return err
		}
		if err := activate(ctx, tx, fnID, id); err != nil {
			return err
		}
		v, err = scanVersion(tx.QueryRow(ctx, versionSelect+` WHERE v.id = $1`, id))
		return err
	})
	return v, err
}

// activate makes version the active one of function, in the deploy's or
// rollback's transaction, bumps the trigger revision, so that every API
// process reloads the trigger filters before it matches its next event, and
// makes the function's schedule follow the version's (syncSchedule).
func activate(ctx context.Context, tx pgx.Tx, function, version int64) error {
	if _, err := tx.Exec(ctx, `UPDATE powny.functions SET active_version = $2, updated_at = now() WHERE id = $1`,
		function, version); err != nil {
		return fmt.Errorf("activate version: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE powny.trigger_revision SET revision = revision + 1`); err != nil {
		return fmt.Errorf("bump the trigger revision: %w", err)
	}
	return syncSchedule(ctx, tx, function, version)
}
