package cli

import (
	"os"
	"path/filepath"
)

// DefaultDataDir is where `powny dev` keeps its Postgres cluster and token:
// $POWNY_DATA_DIR, else /var/lib/powny for root (the Postgres server runs as
// the postgres user, who cannot enter /root), else $XDG_STATE_HOME/powny,
// else ~/.local/state/powny.
func DefaultDataDir() string {
	if d := os.Getenv("POWNY_DATA_DIR"); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/var/lib/powny"
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "powny")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "powny")
	}
	return filepath.Join(os.TempDir(), "powny")
}
