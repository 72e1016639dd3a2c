package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// Version is the version of powny, set at build time with -ldflags.
var Version = "dev" //nolint:gochecknoglobals // set by the linker

// Run runs the powny command line with args (without the program name).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := NewRootCommand(stdout, stderr)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

// NewRootCommand returns the powny command with every subcommand.
func NewRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "powny",
		Short: "Powny runs durable functions written in Risor",
		Long: `Powny runs durable functions written in Risor: deploy a function, invoke it
over HTTP, and audit what ran with SQL.

Quick start:  powny dev        (starts everything, with a private Postgres)
Then:         powny deploy functions/hello.risor
              powny invoke hello '{"name": "you"}'`,
		Version:       Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	addDaemonCommands(root, stderr)
	addDevCommand(root, stdout, stderr)
	addMigrateCommand(root, stdout, stderr)
	addClientCommands(root, stdout)
	return root
}

// newLogger returns the daemons' structured logger.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("log format %q: want text or json", format)
	}
}

// TuneGC sets the garbage collector for a Powny process, unless GOGC is set:
// every run of a function allocates a fresh Risor VM (about 300 KB), so a
// busy worker makes garbage fast, and collecting at 4x the live heap rather
// than Go's 2x halves the collector's work for little memory. main calls it;
// the benchmarks too, to measure what runs.
func TuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}

// env returns the environment variable name's value, or def when unset.
func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}
