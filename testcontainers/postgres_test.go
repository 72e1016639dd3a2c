package testcontainers

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { Main(m) }

// tplSeq numbers template names, unique under -count.
var tplSeq atomic.Int64

// uniqueTemplate returns a template name not used before in this process, so
// that tests about template init hold under -count=N.
func uniqueTemplate(prefix string) string {
	return fmt.Sprintf("%s_%d", prefix, tplSeq.Add(1))
}

func connect(tb testing.TB, dsn string) *pgx.Conn {
	tb.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func currentDatabase(tb testing.TB, conn *pgx.Conn) string {
	tb.Helper()
	var name string
	require.NoError(tb, conn.QueryRow(context.Background(), "select current_database()").Scan(&name))
	return name
}

func databaseExists(tb testing.TB, name string) bool {
	tb.Helper()
	var exists bool
	err := PostgresServer(tb).admin.QueryRow(context.Background(),
		"select exists (select from pg_database where datname = $1)", name).Scan(&exists)
	require.NoError(tb, err)
	return exists
}

func TestPostgresGivesEachTestItsDatabase(t *testing.T) {
	t.Parallel()

	var mu sync.Mutex
	seen := map[string]bool{}
	for i := range 8 {
		t.Run(fmt.Sprintf("test %d", i), func(t *testing.T) {
			t.Parallel()

			began := time.Now()
			dsn := Postgres(t)
			t.Logf("Postgres(t) took %s (backend %s)", time.Since(began), PostgresServer(t).Backend())
			conn := connect(t, dsn)
			name := currentDatabase(t, conn)
			require.True(t, strings.HasPrefix(name, "testpostgresgiveseachtestitsdatabase_"), name)

			// The database is empty and ours alone.
			var tables int
			require.NoError(t, conn.QueryRow(t.Context(), "select count(*) from pg_tables where schemaname = 'public'").Scan(&tables))
			require.Zero(t, tables)
			_, err := conn.Exec(t.Context(), "create table mine (v int)")
			require.NoError(t, err)

			mu.Lock()
			defer mu.Unlock()
			require.False(t, seen[name], "database %s given twice", name)
			seen[name] = true
		})
	}
}

func TestDatabaseDroppedAtCleanup(t *testing.T) {
	t.Parallel()

	var name string
	var conn *pgx.Conn
	t.Run("user", func(t *testing.T) {
		var err error
		conn, err = pgx.Connect(t.Context(), Postgres(t))
		require.NoError(t, err)
		name = currentDatabase(t, conn)
		require.True(t, databaseExists(t, name))
		// conn stays open: the drop must force it out.
	})
	require.NotEmpty(t, name)
	require.False(t, databaseExists(t, name), "database %s survived its test", name)
	require.Error(t, conn.Ping(t.Context()), "the session was ended by the drop")
	_ = conn.Close(context.Background())
}

func TestTemplateInitRunsOnce(t *testing.T) {
	t.Parallel()

	var calls atomic.Int32
	initFunc := func(ctx context.Context, dsn string) error {
		calls.Add(1)
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer func() { _ = conn.Close(ctx) }()
		_, err = conn.Exec(ctx, "create table migrated (v text); insert into migrated values ('from init')")
		return err
	}
	tpl := uniqueTemplate("tpl_once")
	t.Run("group", func(t *testing.T) {
		for i := range 6 {
			t.Run(fmt.Sprintf("copy %d", i), func(t *testing.T) {
				t.Parallel()

				began := time.Now()
				dsn := Postgres(t, WithTemplate(tpl, initFunc))
				t.Logf("Postgres(t, WithTemplate) took %s", time.Since(began))
				conn := connect(t, dsn)
				var v string
				require.NoError(t, conn.QueryRow(t.Context(), "select v from migrated").Scan(&v))
				require.Equal(t, "from init", v)
				// Each copy is independent: change ours.
				_, err := conn.Exec(t.Context(), "update migrated set v = $1", t.Name())
				require.NoError(t, err)
			})
		}
	})
	require.EqualValues(t, 1, calls.Load())
	require.True(t, databaseExists(t, tpl))
}

func TestTemplateKeepsNoSessions(t *testing.T) {
	t.Parallel()

	// An init that leaves a connection open must not block the copies.
	var leaked *pgx.Conn
	initFunc := func(ctx context.Context, dsn string) error {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		leaked = conn
		_, err = conn.Exec(ctx, "create table migrated (v int)")
		return err
	}
	tpl := uniqueTemplate("tpl_leaky")
	for range 3 {
		conn := connect(t, Postgres(t, WithTemplate(tpl, initFunc)))
		var n int
		require.NoError(t, conn.QueryRow(t.Context(), "select count(*) from migrated").Scan(&n))
	}
	require.NotNil(t, leaked)
	require.Error(t, leaked.Ping(t.Context()), "the session left by init was ended")
	_ = leaked.Close(context.Background())

	// Nobody can connect to the template by mistake.
	_, err := pgx.Connect(t.Context(), PostgresServer(t).DSN(tpl))
	require.ErrorContains(t, err, "not currently accepting connections")
}

// fatalTB records the failure of a helper instead of failing the test.
type fatalTB struct {
	*testing.T
	failure string
}

func (f *fatalTB) Fatal(args ...any) {
	f.failure = fmt.Sprint(args...)
	runtime.Goexit()
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.failure = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// failure runs fn with a fatalTB and returns what it failed with.
func failure(t *testing.T, fn func(tb testing.TB)) string {
	t.Helper()
	f := &fatalTB{T: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f.failure
}

func TestTemplateInitErrorFailsEveryTest(t *testing.T) {
	t.Parallel()

	var calls atomic.Int32
	initFunc := func(context.Context, string) error {
		calls.Add(1)
		return fmt.Errorf("migration 7 is broken")
	}
	tpl := uniqueTemplate("tpl_broken")
	for range 2 {
		msg := failure(t, func(tb testing.TB) { tb.Helper(); Postgres(tb, WithTemplate(tpl, initFunc)) })
		require.Contains(t, msg, "template "+tpl+": init: migration 7 is broken")
	}
	require.EqualValues(t, 1, calls.Load())
}

func TestWithTemplateRejectsBadUse(t *testing.T) {
	t.Parallel()

	noop := func(context.Context, string) error { return nil }
	msg := failure(t, func(tb testing.TB) { tb.Helper(); Postgres(tb, WithTemplate("Bad-Name", noop)) })
	require.Contains(t, msg, `WithTemplate("Bad-Name"): the name must match`)
	msg = failure(t, func(tb testing.TB) { tb.Helper(); Postgres(tb, WithTemplate("nil_init", nil)) })
	require.Contains(t, msg, "initFunc is nil")
	msg = failure(t, func(tb testing.TB) { tb.Helper(); Postgres(tb, WithTemplate("a", noop), WithTemplate("b", noop)) })
	require.Contains(t, msg, `a template ("a") is already set`)
}

func TestNewDatabaseName(t *testing.T) {
	t.Parallel()

	s := &Server{}
	require.Equal(t, "testfoo_1", s.newDatabaseName("TestFoo"))
	require.Equal(t, "testfoo_sub_case_2_2", s.newDatabaseName("TestFoo/sub case#2"))
	require.Equal(t, "t42_3", s.newDatabaseName("42"))
	require.Equal(t, "t_4", s.newDatabaseName("/"))
	long := s.newDatabaseName(strings.Repeat("TestVeryLong", 20))
	require.LessOrEqual(t, len(long), 63)
	require.True(t, strings.HasSuffix(long, "_5"), long)
}

// TestRestart is not parallel: a restart ends the sessions of every test.
// Top-level tests that are not parallel run before the parallel ones start.
func TestRestart(t *testing.T) {
	dsn := Postgres(t)
	conn := connect(t, dsn)
	_, err := conn.Exec(t.Context(), "create table kept (v int); insert into kept values (1)")
	require.NoError(t, err)

	s := PostgresServer(t)
	before := s.DSN("postgres")
	began := time.Now()
	require.NoError(t, s.Restart(t.Context()))
	t.Logf("restart took %s", time.Since(began))
	require.Equal(t, before, s.DSN("postgres"), "the address survives a restart")

	conn = connect(t, dsn)
	var v int
	require.NoError(t, conn.QueryRow(t.Context(), "select v from kept").Scan(&v))
	require.Equal(t, 1, v)

	// The admin pool reconnects: new databases can be made.
	connect(t, Postgres(t))
}

func TestChooseBackend(t *testing.T) {
	t.Setenv(EnvBackend, "podman")
	_, _, err := chooseBackend(t.Context())
	require.ErrorContains(t, err, `POWNY_TEST_BACKEND="podman"`)

	t.Setenv(EnvBackend, BackendLocal)
	name, _, err := chooseBackend(t.Context())
	require.NoError(t, err)
	require.Equal(t, BackendLocal, name)
}
