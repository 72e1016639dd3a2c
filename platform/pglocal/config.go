package pglocal

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// EnvBinDir is the environment variable that names the directory of the
// PostgreSQL server binaries when [Config.BinDir] is empty.
const EnvBinDir = "POWNY_PG_BIN"

// DefaultMaxConnections is the max_connections setting used unless
// [Config.Settings] sets one.
const DefaultMaxConnections = 200

// Config describes a local cluster. DataDir is the only required field.
type Config struct {
	// DataDir is the cluster's data directory. It is created with initdb when
	// missing or empty; a directory that already holds a cluster is reused.
	// Required. A relative path is made absolute.
	DataDir string

	// Port is the TCP port on 127.0.0.1. Default 0: a free port is picked (and
	// picked again if another process takes it before PostgreSQL binds it).
	Port int

	// BinDir is the directory holding initdb and postgres. Default: $POWNY_PG_BIN,
	// else the highest /usr/lib/postgresql/*/bin, else `pg_config --bindir`, else
	// the directory of `postgres` found in PATH.
	BinDir string

	// RunAs is the OS user that runs initdb and postgres. Default: "postgres"
	// when the process runs as root (PostgreSQL refuses root), else the current
	// user. Running as another user requires root.
	RunAs string

	// Settings are extra postgresql.conf settings, passed as -c name=value.
	// Tests pass fsync=off, synchronous_commit=off and full_page_writes=off;
	// with fsync=off, initdb also skips its final sync. max_connections defaults
	// to DefaultMaxConnections.
	Settings map[string]string

	// Logger receives the life-cycle messages. Default: a logger that discards.
	Logger *slog.Logger
}

// WithDefaults returns a copy of the config with every empty field set to its
// default. It fails when no PostgreSQL binaries can be found or the user
// cannot be determined.
func (c Config) WithDefaults() (Config, error) {
	if c.DataDir != "" {
		abs, err := filepath.Abs(c.DataDir)
		if err != nil {
			return c, fmt.Errorf("pglocal: DataDir: %w", err)
		}
		c.DataDir = abs
	}
	if c.BinDir == "" {
		dir, err := findBinDir()
		if err != nil {
			return c, err
		}
		c.BinDir = dir
	}
	if c.RunAs == "" {
		if os.Geteuid() == 0 {
			c.RunAs = "postgres"
		} else {
			u, err := user.Current()
			if err != nil {
				return c, fmt.Errorf("pglocal: current user: %w", err)
			}
			c.RunAs = u.Username
		}
	}
	settings := make(map[string]string, len(c.Settings)+1)
	for k, v := range c.Settings {
		settings[k] = v
	}
	if _, ok := settings["max_connections"]; !ok {
		settings["max_connections"] = strconv.Itoa(DefaultMaxConnections)
	}
	c.Settings = settings
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
	return c, nil
}

func (c Config) validate() error {
	if c.DataDir == "" {
		return errors.New("pglocal: Config.DataDir is required")
	}
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("pglocal: Config.Port %d is out of range", c.Port)
	}
	for _, name := range []string{"postgres", "initdb"} {
		path := filepath.Join(c.BinDir, name)
		fi, err := os.Stat(path)
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return fmt.Errorf("pglocal: Config.BinDir %q holds no executable %s (set %s or Config.BinDir to the PostgreSQL bin directory)",
				c.BinDir, name, EnvBinDir)
		}
	}
	for name := range c.Settings {
		if name == "" || strings.ContainsAny(name, "= \t\n") {
			return fmt.Errorf("pglocal: Config.Settings: invalid setting name %q", name)
		}
		switch name {
		case "port", "listen_addresses", "unix_socket_directories", "data_directory":
			return fmt.Errorf("pglocal: Config.Settings: %s is set by pglocal", name)
		}
	}
	return nil
}

// findBinDir finds the directory of the PostgreSQL server binaries.
func findBinDir() (string, error) {
	if dir := os.Getenv(EnvBinDir); dir != "" {
		return dir, nil
	}
	if dir := highestDebianBinDir("/usr/lib/postgresql"); dir != "" {
		return dir, nil
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dir := strings.TrimSpace(string(out))
		if isExecutable(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	if path, err := exec.LookPath("postgres"); err == nil {
		return filepath.Dir(path), nil
	}
	return "", fmt.Errorf("pglocal: no PostgreSQL server binaries found: install them (apt-get install postgresql) or set %s", EnvBinDir)
}

// highestDebianBinDir returns root/<version>/bin for the highest version that
// holds a postgres executable, as laid out by Debian and Ubuntu packages.
func highestDebianBinDir(root string) string {
	entries, err := os.ReadDir(root)
	if err != nil {
		return ""
	}
	type candidate struct {
		version []int
		dir     string
	}
	var found []candidate
	for _, e := range entries {
		version, ok := parseVersion(e.Name())
		dir := filepath.Join(root, e.Name(), "bin")
		if ok && isExecutable(filepath.Join(dir, "postgres")) {
			found = append(found, candidate{version, dir})
		}
	}
	if len(found) == 0 {
		return ""
	}
	best := slices.MaxFunc(found, func(a, b candidate) int { return slices.Compare(a.version, b.version) })
	return best.dir
}

// parseVersion parses "15" or "9.6" into its numbers.
func parseVersion(s string) ([]int, bool) {
	var v []int
	for part := range strings.SplitSeq(s, ".") {
		n, err := strconv.Atoi(part)
		if err != nil {
			return nil, false
		}
		v = append(v, n)
	}
	return v, true
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}
