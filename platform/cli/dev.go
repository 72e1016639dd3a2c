package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/powny/powny/platform/daemon"
	"github.com/powny/powny/platform/pglocal"
)

// devOptions are the options of `powny dev`.
type devOptions struct {
	daemonOptions
	DataDir   string
	Functions string
}

func addDevCommand(root *cobra.Command, stdout, stderr io.Writer) {
	opts := &devOptions{}
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the whole platform locally, with a private Postgres, and deploy ./functions",
		Long: `dev runs api, worker and collector in one process with zero set-up. Unless
POWNY_DATABASE_URL is set, it starts a private PostgreSQL from the local server
binaries in the data dir (as the postgres user when run as root) and reuses it
on the next start. It applies the migrations, deploys every .risor file in the
functions folder, and prints the URL, the token and an example. Ctrl-C stops
everything, Postgres too.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return opts.run(cmd.Context(), stdout, stderr)
		},
	}
	opts.bind(cmd.Flags(), true)
	stringFlag(cmd.Flags(), &opts.DataDir, "data-dir", "POWNY_DATA_DIR", DefaultDataDir(), "where dev keeps its Postgres and token")
	cmd.Flags().StringVar(&opts.Functions, "functions", "functions", "folder whose .risor files are deployed at start (skipped if missing)")
	root.AddCommand(cmd)
}

func (o *devOptions) run(ctx context.Context, stdout, stderr io.Writer) error {
	cfg, err := o.config(daemon.Roles{API: true, Worker: true, Collector: true}, stderr)
	if err != nil {
		return err
	}
	cfg.Migrate = true
	if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	if cfg.Token == "" {
		if cfg.Token, err = devToken(o.DataDir); err != nil {
			return err
		}
	}
	if cfg.DatabaseURL == "" {
		pg, err := pglocal.Start(ctx, pglocal.Config{DataDir: filepath.Join(o.DataDir, "postgres"), Logger: cfg.Logger})
		if err != nil {
			return fmt.Errorf("start private Postgres (set POWNY_DATABASE_URL to use another): %w", err)
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if err := pg.Stop(sctx); err != nil {
				cfg.Logger.Error("stop Postgres", "err", err)
			}
		}()
		if err := createDatabase(ctx, pg.DSN("postgres"), "powny"); err != nil {
			return err
		}
		cfg.DatabaseURL = pg.DSN("powny")
	}

	listening := make(chan net.Addr, 1)
	cfg.OnListen = func(a net.Addr) { listening <- a }
	done := make(chan error, 1)
	go func() { done <- daemon.Run(ctx, cfg) }()
	select {
	case err := <-done:
		return err
	case addr := <-listening:
		url := "http://" + addr.String()
		if err := o.deployFunctions(ctx, url, cfg.Token, stdout, stderr); err != nil {
			cfg.Logger.WarnContext(ctx, "some functions were not deployed", "err", err)
		}
		tokenNote := "from POWNY_TOKEN"
		if o.Token == "" {
			tokenNote = "kept in " + filepath.Join(o.DataDir, tokenFile)
		}
		if err := printBanner(stdout, url, cfg.Token, tokenNote, cfg.DatabaseURL); err != nil {
			cfg.Logger.WarnContext(ctx, "could not print the banner", "err", err)
		}
	}
	return <-done
}

// devToken returns the token kept in the data dir, creating it on first use.
func devToken(dataDir string) (string, error) {
	path := filepath.Join(dataDir, tokenFile)
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read token: %w", err)
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	token := hex.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write token: %w", err)
	}
	return token, nil
}

// createDatabase creates database name unless it exists.
func createDatabase(ctx context.Context, dsn, name string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect to Postgres: %w", err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("look for database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

func (o *devOptions) deployFunctions(ctx context.Context, url, token string, stdout, stderr io.Writer) error {
	if _, err := os.Stat(o.Functions); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	d := &deployOpts{
		clientOpts: &clientOpts{URL: url, Token: token, env: clientEnv{getenvFunc: os.Getenv, nowFunc: time.Now, location: time.Local}},
		Paths:      []string{o.Functions},
		Author:     "powny dev",
	}
	return d.run(ctx, stdout, stderr)
}

func printBanner(w io.Writer, url, token, tokenNote, databaseURL string) error {
	return writef(w, `
Powny is running.
  API       %[1]s
  token     %[2]s   (%[3]s)
  database  %[4]s

Try, in another terminal:
  export POWNY_URL=%[1]s POWNY_TOKEN=%[2]s
  go run ./cmd/powny invoke hello '{"name": "Ada"}'
  go run ./cmd/powny jobs ls
  go run ./cmd/powny events send '{"host": "db-3", "service": "disk", "status": "CRIT"}'
  curl -s -X POST -H "Authorization: Bearer %[2]s" '%[1]s/v1/functions/hello/invoke?wait=30s' -d '{"name": "Ada"}'
  psql '%[4]s' -c 'SELECT id, function, state, run_time FROM powny_invocations ORDER BY id DESC LIMIT 10'

Ctrl-C stops everything.
`, url, token, tokenNote, databaseURL)
}
