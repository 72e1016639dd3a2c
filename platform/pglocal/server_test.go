package pglocal

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// fastSettings are the settings tests use: durability off, and dynamic shared
// memory in the data directory (a killed server leaves nothing in /dev/shm).
func fastSettings() map[string]string {
	return map[string]string{
		"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
		"dynamic_shared_memory_type": "mmap",
	}
}

// dataDir returns a fresh data directory path that the postgres user can reach
// (t.TempDir's parent is 0700, which that user cannot traverse).
func dataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o755))
	return filepath.Join(dir, "data")
}

func testConfig(t *testing.T) Config {
	t.Helper()
	return Config{
		DataDir:  dataDir(t),
		Settings: fastSettings(),
		Logger:   slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// start starts a server and stops it at cleanup.
func start(t *testing.T, cfg Config) *Server {
	t.Helper()
	began := time.Now()
	s, err := Start(t.Context(), cfg)
	require.NoError(t, err)
	t.Logf("start took %s", time.Since(began))
	t.Cleanup(func() { require.NoError(t, s.Stop(context.Background())) })
	return s
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func queryInt(t *testing.T, conn *pgx.Conn, sql string) int {
	t.Helper()
	var n int
	require.NoError(t, conn.QueryRow(t.Context(), sql).Scan(&n))
	return n
}

func TestStartStopReuse(t *testing.T) {
	t.Parallel()

	cfg := testConfig(t)
	s := start(t, cfg)
	require.NotZero(t, s.Port())
	require.Equal(t, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.Port()), s.DSN("postgres"))

	conn := connect(t, s.DSN("postgres"))
	require.Equal(t, 1, queryInt(t, conn, "select 1"))
	require.Equal(t, DefaultMaxConnections, queryInt(t, conn, "select current_setting('max_connections')::int"))
	var fsync string
	require.NoError(t, conn.QueryRow(t.Context(), "show fsync").Scan(&fsync))
	require.Equal(t, "off", fsync)
	_, err := conn.Exec(t.Context(), "create table kept (v int); insert into kept values (42)")
	require.NoError(t, err)
	require.NoError(t, conn.Close(t.Context()))

	require.NoError(t, s.Stop(t.Context()))
	require.NoError(t, s.Stop(t.Context()), "Stop is idempotent")
	_, err = pgx.Connect(t.Context(), s.DSN("postgres"))
	require.Error(t, err, "server is stopped")

	// A second start reuses the cluster.
	s2 := start(t, cfg)
	conn = connect(t, s2.DSN("postgres"))
	require.Equal(t, 42, queryInt(t, conn, "select v from kept"))

	log, err := os.ReadFile(s2.LogPath())
	require.NoError(t, err)
	require.Contains(t, string(log), "database system is ready to accept connections")
}

func TestRestart(t *testing.T) {
	t.Parallel()

	s := start(t, testConfig(t))
	port := s.Port()
	conn := connect(t, s.DSN("postgres"))
	_, err := conn.Exec(t.Context(), "create table kept (v int); insert into kept values (7)")
	require.NoError(t, err)

	began := time.Now()
	require.NoError(t, s.Restart(t.Context()))
	t.Logf("restart took %s", time.Since(began))
	require.Equal(t, port, s.Port())

	_, err = conn.Exec(t.Context(), "select 1")
	require.Error(t, err, "connections are ended by a restart")

	conn = connect(t, s.DSN("postgres"))
	require.Equal(t, 7, queryInt(t, conn, "select v from kept"))

	// A crashed server restarts too.
	pid := s.Pid()
	require.NotZero(t, pid)
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	require.NoError(t, s.Restart(t.Context()))
	require.NotEqual(t, pid, s.Pid())
	conn = connect(t, s.DSN("postgres"))
	require.Equal(t, 7, queryInt(t, conn, "select v from kept"))
}

func TestPortInUse(t *testing.T) {
	t.Parallel()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	port := l.Addr().(*net.TCPAddr).Port

	cfg := testConfig(t)
	cfg.Port = port
	_, err = Start(t.Context(), cfg)
	require.ErrorIs(t, err, ErrPortInUse)
	require.Contains(t, err.Error(), strconv.Itoa(port))

	// Once the port is free, the same config starts on it.
	require.NoError(t, l.Close())
	s := start(t, cfg)
	require.Equal(t, port, s.Port())
}

func TestTwoServersPickDistinctPorts(t *testing.T) {
	t.Parallel()

	a := start(t, testConfig(t))
	b := start(t, testConfig(t))
	require.NotEqual(t, a.Port(), b.Port())
	require.Equal(t, 1, queryInt(t, connect(t, a.DSN("postgres")), "select 1"))
	require.Equal(t, 1, queryInt(t, connect(t, b.DSN("postgres")), "select 1"))
}

func TestSecondStartOnRunningDataDir(t *testing.T) {
	t.Parallel()

	cfg := testConfig(t)
	start(t, cfg)
	_, err := Start(t.Context(), cfg)
	require.ErrorIs(t, err, ErrAlreadyRunning)
}

func TestBadBinDir(t *testing.T) {
	t.Parallel()

	cfg := testConfig(t)
	cfg.BinDir = filepath.Join(t.TempDir(), "nowhere")
	_, err := Start(t.Context(), cfg)
	require.Error(t, err)
	require.Contains(t, err.Error(), "BinDir")
	require.Contains(t, err.Error(), "holds no executable postgres")
}

func TestMissingDataDir(t *testing.T) {
	t.Parallel()

	_, err := Start(t.Context(), Config{})
	require.ErrorContains(t, err, "DataDir is required")
}

func TestDataDirWithoutCluster(t *testing.T) {
	t.Parallel()

	cfg := testConfig(t)
	require.NoError(t, os.MkdirAll(cfg.DataDir, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(cfg.DataDir, "notes.txt"), []byte("mine"), 0o600))
	_, err := Start(t.Context(), cfg)
	require.ErrorContains(t, err, "holds files but no PostgreSQL cluster")
}

func TestInterruptedInitdbIsRedone(t *testing.T) {
	t.Parallel()

	// An initdb killed half-way leaves its work in DataDir.initdb, never in DataDir.
	cfg := testConfig(t)
	leftover := cfg.DataDir + ".initdb"
	require.NoError(t, os.MkdirAll(filepath.Join(leftover, "base"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(leftover, "PG_VERSION"), []byte("15\n"), 0o600))

	s := start(t, cfg)
	require.Equal(t, 1, queryInt(t, connect(t, s.DSN("postgres")), "select 1"))
	require.NoDirExists(t, leftover)
}

func TestUnreachableDataDir(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the check applies when the cluster runs as another user")
	}

	cfg := testConfig(t)
	locked := filepath.Join(filepath.Dir(cfg.DataDir), "locked")
	require.NoError(t, os.Mkdir(locked, 0o700)) // root's, not traversable by postgres
	cfg.DataDir = filepath.Join(locked, "data")
	s, err := Start(t.Context(), cfg)
	if err == nil {
		_ = s.Stop(context.Background())
	}
	require.Error(t, err)
	require.Contains(t, err.Error(), "cannot traverse")
	require.Contains(t, err.Error(), "POWNY_DATA_DIR")
}

func TestStalePIDFile(t *testing.T) {
	t.Parallel()

	cfg := testConfig(t)
	s := start(t, cfg)
	require.NoError(t, s.Stop(t.Context()))

	pidFile := filepath.Join(cfg.DataDir, "postmaster.pid")
	// pid 1 is alive but is not a postmaster: PostgreSQL alone would refuse.
	for _, pid := range []int{1, 1 << 22} {
		require.NoError(t, os.WriteFile(pidFile, fmt.Appendf(nil, "%d\n%s\n", pid, cfg.DataDir), 0o600))
		s = start(t, cfg)
		require.Equal(t, 1, queryInt(t, connect(t, s.DSN("postgres")), "select 1"))
		require.NoError(t, s.Stop(t.Context()))
	}
}

// TestKilledParent checks that PostgreSQL dies with the program that started
// it, and that the cluster then starts again despite the postmaster.pid left.
func TestKilledParent(t *testing.T) {
	t.Parallel()

	cfg := testConfig(t)
	helper := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	helper.Env = append(os.Environ(), "PGLOCAL_HELPER_DATADIR="+cfg.DataDir)
	stdout, err := helper.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, helper.Start())
	t.Cleanup(func() { _ = helper.Process.Kill(); _ = helper.Wait() })

	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(line), "postmaster "))
	require.NoError(t, err, "helper said %q", line)
	require.NoError(t, syscall.Kill(pid, 0), "postmaster runs")

	require.NoError(t, helper.Process.Kill())
	_ = helper.Wait()
	require.Eventually(t, func() bool {
		return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
	}, 10*time.Second, 10*time.Millisecond, "postmaster %d still runs after its parent was killed", pid)

	s := start(t, cfg)
	require.Equal(t, 1, queryInt(t, connect(t, s.DSN("postgres")), "select 1"))
}

// TestHelperProcess is the program killed by TestKilledParent.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv("PGLOCAL_HELPER_DATADIR")
	if dir == "" {
		t.Skip("helper for TestKilledParent")
	}
	// The parent test reads the first line of stdout.
	s, err := Start(context.Background(), Config{DataDir: dir, Settings: fastSettings()})
	if err != nil {
		_, _ = fmt.Fprintln(os.Stdout, "error", err)
		t.FailNow()
	}
	_, _ = fmt.Fprintf(os.Stdout, "postmaster %d\n", s.Pid())
	time.Sleep(time.Minute) // killed by the parent test
	t.Fatal("not killed by the parent test")
}

func TestIsPostmasterOf(t *testing.T) {
	t.Parallel()

	cmdline := func(args ...string) []byte { return []byte(strings.Join(args, "\x00") + "\x00") }
	require.True(t, isPostmasterOf(cmdline("/usr/lib/postgresql/15/bin/postgres", "-D", "/d", "-p", "5"), "/d"))
	require.True(t, isPostmasterOf(cmdline("postgres", "-D/d/"), "/d"))
	require.False(t, isPostmasterOf(cmdline("postgres", "-D", "/other"), "/d"))
	require.False(t, isPostmasterOf(cmdline("/sbin/init"), "/d"))
	require.False(t, isPostmasterOf(cmdline("postgres: checkpointer "), "/d"))
	require.False(t, isPostmasterOf(nil, "/d"))
}

func TestHighestDebianBinDir(t *testing.T) {
	t.Parallel()

	root := t.TempDir()
	for _, v := range []string{"9.6", "13", "15", "notaversion"} {
		bin := filepath.Join(root, v, "bin")
		require.NoError(t, os.MkdirAll(bin, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(bin, "postgres"), nil, 0o755))
	}
	require.NoError(t, os.MkdirAll(filepath.Join(root, "16", "bin"), 0o755)) // no postgres in it
	require.Equal(t, filepath.Join(root, "15", "bin"), highestDebianBinDir(root))
	require.Empty(t, highestDebianBinDir(filepath.Join(root, "missing")))
}
