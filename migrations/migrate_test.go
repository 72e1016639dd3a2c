package migrations_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/powny/powny/migrations"
	"github.com/powny/powny/testcontainers"
)

func TestMain(m *testing.M) { testcontainers.Main(m) }

func newPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), testcontainers.Postgres(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

func TestUpDownUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := newPool(t)

	m, err := migrations.New(pool, nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, m.Close()) }()

	res, err := m.Up(ctx)
	require.NoError(t, err)
	require.Len(t, res, 3)
	for _, view := range []string{
		"powny_invocations", "powny_functions", "powny_versions", "powny_attempts", "powny_checkpoints", "powny_logs",
		"powny_events", "powny_waits", "powny_schedules", "powny_kv", "powny_settings",
	} {
		var n int
		require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+view).Scan(&n), view)
	}
	var riverTable bool
	require.NoError(t, pool.QueryRow(ctx, "SELECT to_regclass('river_job') IS NOT NULL").Scan(&riverTable))
	require.True(t, riverTable, "River's schema is applied by migration 1")

	res, err = m.Up(ctx)
	require.NoError(t, err)
	require.Empty(t, res, "a second up has nothing to do")

	_, err = m.DownTo(ctx, 0)
	require.NoError(t, err)
	require.NoError(t, pool.QueryRow(ctx, "SELECT to_regclass('river_job') IS NOT NULL").Scan(&riverTable))
	require.False(t, riverTable, "down to 0 removes River's schema too")
	var powny bool
	require.NoError(t, pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'powny')").Scan(&powny))
	require.False(t, powny)

	_, err = m.Up(ctx)
	require.NoError(t, err)
	st, err := m.Status(ctx)
	require.NoError(t, err)
	for _, s := range st {
		require.Equal(t, "applied", string(s.State), "migration %d", s.Source.Version)
	}
}

// Daemons starting together run migrations at once: the session lock makes
// one wait for the other, and both succeed.
func TestConcurrentUp(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	var g errgroup.Group
	for range 3 {
		g.Go(func() error { return migrations.Up(context.Background(), pool, nil) })
	}
	require.NoError(t, g.Wait())
}
