package cli

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/powny/powny/migrations"
)

func addMigrateCommand(root *cobra.Command, stdout, stderr io.Writer) {
	var databaseURL, logLevel string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply, roll back or list the database migrations",
	}
	stringFlag(cmd.PersistentFlags(), &databaseURL, "database-url", "POWNY_DATABASE_URL", "", "Postgres connection URL")
	stringFlag(cmd.PersistentFlags(), &logLevel, "log-level", "POWNY_LOG_LEVEL", "warn", "debug, info, warn or error")

	withMigrator := func(cmd *cobra.Command, f func(m *migrations.Migrator) error) error {
		if databaseURL == "" {
			return errors.New("--database-url (or POWNY_DATABASE_URL) is required")
		}
		logger, err := newLogger(stderr, logLevel, "text")
		if err != nil {
			return err
		}
		pool, err := pgxpool.New(cmd.Context(), databaseURL)
		if err != nil {
			return fmt.Errorf("connect to database: %w", err)
		}
		defer pool.Close()
		m, err := migrations.New(pool, logger)
		if err != nil {
			return err
		}
		defer func() { _ = m.Close() }() // the pool stays open; nothing is lost
		return f(m)
	}
	var downTo int64
	cmd.AddCommand(
		&cobra.Command{
			Use: "up", Short: "Apply every pending migration", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return withMigrator(cmd, func(m *migrations.Migrator) error {
					res, err := m.Up(cmd.Context())
					for _, r := range res {
						if werr := writef(stdout, "applied %s (%s)\n", r.Source.Path, r.Duration.Round(time.Millisecond)); werr != nil {
							return werr
						}
					}
					if err == nil && len(res) == 0 {
						return writef(stdout, "nothing to apply: the database is up to date\n")
					}
					return err
				})
			},
		},
		func() *cobra.Command {
			c := &cobra.Command{
				Use: "down", Short: "Roll back the last migration (or down to --to)", Args: cobra.NoArgs,
				RunE: func(cmd *cobra.Command, _ []string) error {
					return withMigrator(cmd, func(m *migrations.Migrator) error {
						if cmd.Flags().Changed("to") {
							res, err := m.DownTo(cmd.Context(), downTo)
							for _, r := range res {
								if werr := writef(stdout, "rolled back %s\n", r.Source.Path); werr != nil {
									return werr
								}
							}
							return err
						}
						r, err := m.Down(cmd.Context())
						if r != nil && r.Source != nil {
							if werr := writef(stdout, "rolled back %s\n", r.Source.Path); werr != nil {
								return werr
							}
						}
						return err
					})
				},
			}
			c.Flags().Int64Var(&downTo, "to", 0, "roll back every migration above this version (0: all)")
			return c
		}(),
		&cobra.Command{
			Use: "status", Short: "List migrations and whether each is applied", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return withMigrator(cmd, func(m *migrations.Migrator) error {
					st, err := m.Status(cmd.Context())
					if err != nil {
						return err
					}
					tw := newTable(stdout)
					writeRow(tw, "VERSION", "STATE", "APPLIED AT", "SOURCE")
					for _, s := range st {
						at := "-"
						if !s.AppliedAt.IsZero() {
							at = s.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
						}
						writeRow(tw, strconv.FormatInt(s.Source.Version, 10), string(s.State), at, s.Source.Path)
					}
					return flush(tw)
				})
			},
		},
	)
	root.AddCommand(cmd)
}
