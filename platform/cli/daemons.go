package cli

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/powny/powny/platform/daemon"
	"github.com/powny/powny/platform/fnrun"
)

// daemonOptions are the settings shared by api, worker, collector, server and dev.
type daemonOptions struct {
	envErrs envErrs

	DatabaseURL       string
	Listen            string
	Token             string
	MaxBodyBytes      int64
	WorkerID          string
	MaxWorkers        int
	FetchCooldown     time.Duration
	FetchPollInterval time.Duration
	ShutdownGrace     time.Duration
	Retention         time.Duration
	RescueAfter       time.Duration
	ZooKeeper         string
	SessionTimeout    time.Duration
	MaxResult         int
	MaxHTTPBody       int64
	Migrate           bool
	LogLevel          string
	LogFormat         string
}

func (o *daemonOptions) bind(fs *pflag.FlagSet, migrateDefault bool) {
	stringFlag(fs, &o.DatabaseURL, "database-url", "POWNY_DATABASE_URL", "", "Postgres connection URL")
	stringFlag(fs, &o.Listen, "listen", "POWNY_LISTEN", "127.0.0.1:8080", "API listen address")
	stringFlag(fs, &o.Token, "token", "POWNY_TOKEN", "", "bearer token the API requires")
	int64Flag(fs, &o.envErrs, &o.MaxBodyBytes, "max-body", "POWNY_MAX_BODY", 1<<20, "largest API request body, in bytes")
	stringFlag(fs, &o.WorkerID, "worker-id", "POWNY_WORKER_ID", "", "this process's member id in every role, and its River client id (default host-pid-random)")
	intFlag(fs, &o.envErrs, &o.MaxWorkers, "max-workers", "POWNY_MAX_WORKERS", 100, "invocations a worker runs at once")
	durationFlag(fs, &o.envErrs, &o.FetchCooldown, "fetch-cooldown", "POWNY_FETCH_COOLDOWN", time.Millisecond, "least time between two job fetches")
	durationFlag(fs, &o.envErrs, &o.FetchPollInterval, "fetch-poll-interval", "POWNY_FETCH_POLL_INTERVAL", 100*time.Millisecond, "job poll period when no notification comes")
	durationFlag(fs, &o.envErrs, &o.ShutdownGrace, "shutdown-grace", "POWNY_SHUTDOWN_GRACE", 10*time.Second, "time running invocations get to finish at shutdown")
	durationFlag(fs, &o.envErrs, &o.Retention, "retention", "POWNY_RETENTION", 7*24*time.Hour, "how long finished invocations are kept")
	durationFlag(fs, &o.envErrs, &o.RescueAfter, "rescue-after", "POWNY_RESCUE_AFTER", 10*time.Second, "how long a worker may miss heartbeats before its invocations run elsewhere")
	stringFlag(fs, &o.ZooKeeper, "zookeeper", "POWNY_ZOOKEEPER", "", "ZooKeeper connect string host:port,...[/chroot] (empty: in-process coordination)")
	durationFlag(fs, &o.envErrs, &o.SessionTimeout, "session-timeout", "POWNY_SESSION_TIMEOUT", 4*time.Second, "ZooKeeper session timeout: how long a dead process stays a member")
	intFlag(fs, &o.envErrs, &o.MaxResult, "max-result", "POWNY_MAX_RESULT", 1<<20, "largest function result, in bytes of JSON")
	int64Flag(fs, &o.envErrs, &o.MaxHTTPBody, "max-http-body", "POWNY_MAX_HTTP_BODY", 10<<20, "largest response body a function's http call may read")
	fs.BoolVar(&o.Migrate, "migrate", migrateDefault, "apply pending database migrations at start")
	stringFlag(fs, &o.LogLevel, "log-level", "POWNY_LOG_LEVEL", "info", "debug, info, warn or error")
	stringFlag(fs, &o.LogFormat, "log-format", "POWNY_LOG_FORMAT", "text", "text or json")
}

// Validate checks the options; errors name the flag or variable.
func (o *daemonOptions) Validate() error {
	errs := []error(o.envErrs)
	positive := func(name string, ok bool) {
		if !ok {
			errs = append(errs, fmt.Errorf("--%s must be positive", name))
		}
	}
	positive("max-body", o.MaxBodyBytes > 0)
	positive("max-workers", o.MaxWorkers > 0)
	positive("fetch-cooldown", o.FetchCooldown > 0)
	positive("fetch-poll-interval", o.FetchPollInterval > 0)
	positive("shutdown-grace", o.ShutdownGrace > 0)
	positive("retention", o.Retention > 0)
	positive("rescue-after", o.RescueAfter > 0)
	positive("session-timeout", o.SessionTimeout > 0)
	positive("max-result", o.MaxResult > 0)
	positive("max-http-body", o.MaxHTTPBody > 0)
	return errors.Join(errs...)
}

func (o *daemonOptions) config(roles daemon.Roles, stderr io.Writer) (daemon.Config, error) {
	if err := o.Validate(); err != nil {
		return daemon.Config{}, err
	}
	logger, err := newLogger(stderr, o.LogLevel, o.LogFormat)
	if err != nil {
		return daemon.Config{}, err
	}
	return daemon.Config{
		DatabaseURL:       o.DatabaseURL,
		Roles:             roles,
		Migrate:           o.Migrate,
		Listen:            o.Listen,
		Token:             o.Token,
		MaxBodyBytes:      o.MaxBodyBytes,
		WorkerID:          o.WorkerID,
		MaxWorkers:        o.MaxWorkers,
		FetchCooldown:     o.FetchCooldown,
		FetchPollInterval: o.FetchPollInterval,
		ShutdownGrace:     o.ShutdownGrace,
		Retention:         o.Retention,
		RescueAfter:       o.RescueAfter,
		ZooKeeper:         o.ZooKeeper,
		SessionTimeout:    o.SessionTimeout,
		Version:           Version,
		Runner:            fnrun.RunnerConfig{MaxResult: o.MaxResult, MaxHTTPBody: o.MaxHTTPBody},
		Logger:            logger,
	}, nil
}

func addDaemonCommands(root *cobra.Command, stderr io.Writer) {
	for _, d := range []struct {
		use, short string
		roles      daemon.Roles
		migrate    bool
	}{
		{"server", "Run api, worker and collector in one process (migrates the database first)", daemon.Roles{API: true, Worker: true, Collector: true}, true},
		{"api", "Run the HTTP API", daemon.Roles{API: true}, false},
		{"worker", "Run a worker: it runs invocations", daemon.Roles{Worker: true}, false},
		{"collector", "Run the collector: it deletes invocations past their retention", daemon.Roles{Collector: true}, false},
	} {
		opts := &daemonOptions{}
		cmd := &cobra.Command{
			Use:   d.use,
			Short: d.short,
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				cfg, err := opts.config(d.roles, stderr)
				if err != nil {
					return err
				}
				return daemon.Run(cmd.Context(), cfg)
			},
		}
		opts.bind(cmd.Flags(), d.migrate)
		root.AddCommand(cmd)
	}
}
