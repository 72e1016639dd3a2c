package testcontainers

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"
)

// Backends, the values of POWNY_TEST_BACKEND.
const (
	BackendDocker = "docker"
	BackendLocal  = "local"
)

// EnvBackend forces the backend: "docker" or "local".
const EnvBackend = "POWNY_TEST_BACKEND"

const (
	startTimeout = 5 * time.Minute // an image pull may be slow
	stopTimeout  = time.Minute
)

// backend is one way to run the server.
type backend interface {
	// dsn returns the connection string of database as the superuser.
	dsn(database string) string
	restart(ctx context.Context) error
	// stop stops the server and removes what it left on disk.
	stop(ctx context.Context) error
	// leakOptions are the goroutines the backend's libraries keep.
	leakOptions() []goleak.Option
}

// Server is the PostgreSQL server shared by the tests of one test binary.
type Server struct {
	backendName string
	reason      string // why this backend
	backend     backend
	admin       *pgxpool.Pool // connected to database "postgres", for CREATE/DROP DATABASE
	seq         atomic.Int64  // suffix of database names
	// createOptions end every CREATE DATABASE: STRATEGY FILE_COPY where the
	// server has it (15+), much faster than WAL_LOG under parallel tests.
	createOptions string

	mu        sync.Mutex
	templates map[string]*template
}

// shared holds the servers of this test binary. It is global by nature: one
// server per process, shared by all tests.
//
//nolint:gochecknoglobals // one shared server per test binary is the point
var shared struct {
	mainCalled atomic.Bool

	pgOnce sync.Once
	pg     *Server
	pgErr  error
}

// PostgresServer returns the PostgreSQL server shared by the test binary,
// starting it on first use. It fails the test if the server cannot start.
func PostgresServer(tb testing.TB) *Server {
	tb.Helper()
	if !shared.mainCalled.Load() {
		tb.Fatal("testcontainers: the package's TestMain must call testcontainers.Main(m), " +
			"which stops the shared PostgreSQL server after the tests: func TestMain(m *testing.M) { testcontainers.Main(m) }")
	}
	var took time.Duration // set by the caller that starts the server
	shared.pgOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		began := time.Now()
		shared.pg, shared.pgErr = startServer(ctx)
		took = time.Since(began)
	})
	if shared.pgErr != nil {
		tb.Fatalf("testcontainers: PostgreSQL: %v", shared.pgErr)
	}
	if took > 0 {
		tb.Logf("testcontainers: PostgreSQL (%s backend: %s) started in %s",
			shared.pg.backendName, shared.pg.reason, took.Round(time.Millisecond))
	}
	return shared.pg
}

// DSN returns the connection string of database on the server, as the superuser.
func (s *Server) DSN(database string) string { return s.backend.dsn(database) }

// Backend returns BackendDocker or BackendLocal.
func (s *Server) Backend() string { return s.backendName }

// Restart stops the server and starts it again with the same data, on the
// same address. Every session of every test is ended.
func (s *Server) Restart(ctx context.Context) error {
	if err := s.backend.restart(ctx); err != nil {
		return fmt.Errorf("testcontainers: restart PostgreSQL (%s): %w", s.backendName, err)
	}
	s.admin.Reset() // its connections died with the old server
	return nil
}

func startServer(ctx context.Context) (*Server, error) {
	name, reason, err := chooseBackend(ctx)
	if err != nil {
		return nil, err
	}
	var b backend
	switch name {
	case BackendDocker:
		b, err = startDocker(ctx)
	default:
		b, err = startLocal(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("start %s backend (%s): %w", name, reason, err)
	}
	admin, err := connectAdmin(ctx, b.dsn("postgres"))
	if err != nil {
		_ = b.stop(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("connect to the %s server: %w", name, err)
	}
	s := &Server{backendName: name, reason: reason, backend: b, admin: admin, templates: map[string]*template{}}
	var version int
	if err := admin.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		_ = s.stop(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("query the %s server's version: %w", name, err)
	}
	if version >= 150000 {
		s.createOptions = " STRATEGY FILE_COPY"
	}
	return s, nil
}

// chooseBackend applies EnvBackend, else probes for a Docker engine. reason
// says why, for error messages.
func chooseBackend(ctx context.Context) (name, reason string, err error) {
	switch v := os.Getenv(EnvBackend); v {
	case BackendDocker, BackendLocal:
		return v, EnvBackend + "=" + v, nil
	case "":
	default:
		return "", "", fmt.Errorf("%s=%q: want %q or %q", EnvBackend, v, BackendDocker, BackendLocal)
	}
	if err := pingDocker(ctx); err != nil {
		return BackendLocal, fmt.Sprintf("no Docker engine: %v", err), nil
	}
	return BackendDocker, "a Docker engine answered", nil
}

// stop stops the server; used by Main after the tests.
func (s *Server) stop(ctx context.Context) error {
	s.admin.Close()
	return s.backend.stop(ctx)
}

func connectAdmin(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = 8
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}
