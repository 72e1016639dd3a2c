package testcontainers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"go.uber.org/goleak"

	"github.com/powny/powny/platform/pglocal"
)

// EnvDir sets the directory where the local backend makes its clusters.
const EnvDir = "POWNY_TEST_PG_DIR"

const (
	dirPattern = "powny-test-pg-"
	ownerFile  = "owner.pid"
	shmDir     = "/dev/shm"
	// shmMinFree is the free space /dev/shm needs for clusters to go there
	// (containers often give it 64 MB).
	shmMinFree = 1 << 30
)

// localBackend is a pglocal cluster in a temporary directory.
type localBackend struct {
	dir    string
	server *pglocal.Server
}

func startLocal(ctx context.Context) (*localBackend, error) {
	base := baseDir()
	sweepStaleDirs(base, dirPattern)
	dir, err := os.MkdirTemp(base, dirPattern)
	if err != nil {
		return nil, fmt.Errorf("create temporary directory: %w", err)
	}
	// The owner's pid lets a later test binary remove the directory if this
	// one is killed.
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("create temporary directory: %w", err)
	}
	// MkdirTemp makes it 0700; the cluster may run as another user (root runs
	// it as "postgres"), which must traverse it.
	if err := os.Chmod(dir, 0o755); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("open temporary directory to the cluster's user: %w", err)
	}
	settings := map[string]string{
		"fsync":              "off",
		"synchronous_commit": "off",
		"full_page_writes":   "off",
	}
	if base == shmDir {
		// Dynamic shared memory as files in the data directory (in RAM here),
		// so that a killed cluster leaves nothing behind in /dev/shm.
		settings["dynamic_shared_memory_type"] = "mmap"
	}
	server, err := pglocal.Start(ctx, pglocal.Config{DataDir: filepath.Join(dir, "data"), Settings: settings})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("local PostgreSQL in %s (set %s to a directory the cluster's user can reach): %w", dir, EnvDir, err)
	}
	return &localBackend{dir: dir, server: server}, nil
}

// baseDir is $POWNY_TEST_PG_DIR, else /dev/shm when it is roomy (creating a
// database there takes ~10 ms instead of 100–600 ms on a disk), else the
// temporary directory.
func baseDir() string {
	if dir := os.Getenv(EnvDir); dir != "" {
		return dir
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(shmDir, &st); err == nil &&
		st.Bavail*uint64(st.Bsize) >= shmMinFree && syscall.Access(shmDir, 0o2) == nil {
		return shmDir
	}
	return os.TempDir()
}

// sweepStaleDirs removes the directories named pattern* of test binaries that
// died without cleaning up (their servers died with them).
func sweepStaleDirs(base, pattern string) {
	dirs, _ := filepath.Glob(filepath.Join(base, pattern+"*"))
	for _, dir := range dirs {
		data, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid <= 0 {
			continue
		}
		if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			_ = os.RemoveAll(dir)
		}
	}
}

func (b *localBackend) dsn(database string) string { return b.server.DSN(database) }

func (b *localBackend) restart(ctx context.Context) error { return b.server.Restart(ctx) }

func (b *localBackend) stop(ctx context.Context) error {
	err := b.server.Stop(ctx)
	if rmErr := os.RemoveAll(b.dir); rmErr != nil {
		err = errors.Join(err, fmt.Errorf("remove %s: %w", b.dir, rmErr))
	}
	return err
}

func (b *localBackend) leakOptions() []goleak.Option { return nil }
