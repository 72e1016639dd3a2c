package testcontainers

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSweepStaleDirs(t *testing.T) {
	t.Parallel()

	base := t.TempDir()
	mk := func(name, owner string) string {
		dir := filepath.Join(base, name)
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "data"), 0o755))
		if owner != "" {
			require.NoError(t, os.WriteFile(filepath.Join(dir, ownerFile), []byte(owner), 0o644))
		}
		return dir
	}
	dead := mk(dirPattern+"dead", strconv.Itoa(1<<22))
	live := mk(dirPattern+"live", strconv.Itoa(os.Getpid()))
	unknown := mk(dirPattern+"unknown", "")
	other := mk("someone-else", strconv.Itoa(1<<22))

	sweepStaleDirs(base, dirPattern)
	require.NoDirExists(t, dead)
	require.DirExists(t, live)
	require.DirExists(t, unknown)
	require.DirExists(t, other)
}

func TestBaseDirFromEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvDir, dir)
	require.Equal(t, dir, baseDir())
}
