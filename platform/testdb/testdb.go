// Package testdb gives a test a fresh database with Powny's schema, copied
// from a template that the test binary migrates once. It is for tests only.
//
// This package may import testcontainers, migrations, pgx and testing.
package testdb

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/powny/powny/migrations"
	"github.com/powny/powny/testcontainers"
)

// New returns the DSN of a fresh, migrated database and a pool on it that is
// closed when the test ends.
func New(tb testing.TB) (*pgxpool.Pool, string) {
	tb.Helper()
	dsn := testcontainers.Postgres(tb, testcontainers.WithTemplate("powny_migrated", migrate))
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		tb.Fatalf("testdb: connect: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool, dsn
}

func migrate(ctx context.Context, dsn string) error {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return err
	}
	defer pool.Close()
	return migrations.Up(ctx, pool, nil)
}
