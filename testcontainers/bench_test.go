package testcontainers

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
)

// BenchmarkPostgres measures the cost of a test's database (its drop, at
// cleanup, is not counted).
func BenchmarkPostgres(b *testing.B) {
	PostgresServer(b) // started outside the measure
	for b.Loop() {
		Postgres(b)
	}
}

// BenchmarkPostgresWithTemplate measures a copy of a template of 60 tables.
func BenchmarkPostgresWithTemplate(b *testing.B) {
	initFunc := func(ctx context.Context, dsn string) error {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer func() { _ = conn.Close(ctx) }()
		for i := range 60 {
			sql := fmt.Sprintf("create table t%d (id bigserial primary key, v text, w jsonb); create index on t%d (v)", i, i)
			if _, err := conn.Exec(ctx, sql); err != nil {
				return err
			}
		}
		return nil
	}
	Postgres(b, WithTemplate("tpl_bench", initFunc)) // init outside the measure
	for b.Loop() {
		Postgres(b, WithTemplate("tpl_bench", initFunc))
	}
}
