package daemon

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/powny/powny/migrations"
	"github.com/powny/powny/platform/api"
	"github.com/powny/powny/platform/collector"
	"github.com/powny/powny/platform/coord"
	"github.com/powny/powny/platform/fnrun"
	"github.com/powny/powny/platform/invoke"
	"github.com/powny/powny/platform/store"
	"github.com/powny/powny/platform/worker"
)

// Roles says which parts a process runs.
type Roles struct {
	API, Worker, Collector bool
}

// Config configures a daemon. Zero values take the documented defaults.
type Config struct {
	// DatabaseURL is the Postgres connection string. Required.
	DatabaseURL string
	Roles       Roles
	// Migrate applies pending migrations before starting (under a Postgres
	// lock, so daemons starting together do not race). Default false.
	Migrate bool

	// Listen is the API's address. Default 127.0.0.1:8080.
	Listen string
	// Token is the API's bearer token; required with the api role.
	Token string
	// MaxBodyBytes limits API request bodies. Default 1 MiB.
	MaxBodyBytes int64
	// OnListen, when set, is called with the API's address once it accepts
	// connections (useful with Listen ":0").
	OnListen func(addr net.Addr)

	// WorkerID is this process's member id in every role it runs, and its
	// River client id. Default: host-pid-random.
	WorkerID string
	// MaxWorkers is how many invocations a worker runs at once. Default 100.
	MaxWorkers int
	// FetchCooldown and FetchPollInterval tune River; see invoke.RiverConfig.
	FetchCooldown     time.Duration
	FetchPollInterval time.Duration
	// ShutdownGrace is how long running invocations may take to finish when
	// the daemon stops, before they are cancelled. Default 10s.
	ShutdownGrace time.Duration

	// Retention and CollectInterval configure the collector.
	Retention       time.Duration
	CollectInterval time.Duration
	// RescueAfter is how long a worker may miss heartbeats before the
	// collector gives its invocations to other workers; workers heartbeat
	// four times per RescueAfter. Default 10s.
	RescueAfter time.Duration

	// Version is the software version members report.
	Version string

	// ZooKeeper is the ensemble's connect string, "host:port,host:port[/chroot]"
	// (default chroot /powny). Empty: an in-process coordinator, and
	// Postgres heartbeats say which workers are alive.
	ZooKeeper string
	// SessionTimeout is the ZooKeeper session timeout: how long a dead
	// process stays a member. Default 4s.
	SessionTimeout time.Duration

	// Runner limits for function code.
	Runner fnrun.RunnerConfig

	Logger *slog.Logger
}

func (c *Config) validate() error {
	var errs []error
	if c.DatabaseURL == "" {
		errs = append(errs, errors.New("database URL is required (POWNY_DATABASE_URL or --database-url)"))
	}
	if !c.Roles.API && !c.Roles.Worker && !c.Roles.Collector {
		errs = append(errs, errors.New("no role to run"))
	}
	if c.Roles.API && c.Token == "" {
		errs = append(errs, errors.New("the api needs a bearer token (POWNY_TOKEN or --token)"))
	}
	return errors.Join(errs...)
}

// DefaultWorkerID is host-pid-random: unique per process, and readable in
// river_job.attempted_by.
func DefaultWorkerID() string {
	host, _ := os.Hostname()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", cmp.Or(host, "worker"), os.Getpid(), hex.EncodeToString(b))
}

// Run runs the configured roles until ctx ends or one fails.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	cfg.Logger = cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	cfg.Listen = cmp.Or(cfg.Listen, "127.0.0.1:8080")
	cfg.WorkerID = cmp.Or(cfg.WorkerID, DefaultWorkerID())
	cfg.ShutdownGrace = cmp.Or(cfg.ShutdownGrace, 10*time.Second)
	cfg.RescueAfter = cmp.Or(cfg.RescueAfter, 10*time.Second)
	cfg.Version = cmp.Or(cfg.Version, "dev")
	log := cfg.Logger
	started := time.Now()

	pool, err := openPool(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if cfg.Migrate {
		if err := migrations.Up(ctx, pool, log); err != nil {
			return err
		}
	}
	st := store.New(pool)
	co, distributed, err := openCoordinator(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { _ = co.Close() }()
	me := func(role string) coord.Member {
		host, _ := os.Hostname()
		return coord.Member{ID: cfg.WorkerID, Role: role, Host: host, PID: os.Getpid(), Version: cfg.Version, StartedAt: started}
	}

	var (
		workers *river.Workers
		w       *worker.Worker
	)
	if cfg.Roles.Worker {
		w, err = worker.New(st, worker.Config{
			ID: cfg.WorkerID, Runner: fnrun.NewRunner(cfg.Runner), RescueAfter: cfg.RescueAfter, Logger: log,
		})
		if err != nil {
			return err
		}
		workers = river.NewWorkers()
		if err := river.AddWorkerSafely(workers, w); err != nil {
			return fmt.Errorf("register worker: %w", err)
		}
	}
	rc, err := invoke.NewRiverClient(pool, invoke.RiverConfig{
		ID:                cfg.WorkerID,
		Workers:           workers,
		MaxWorkers:        cfg.MaxWorkers,
		FetchCooldown:     cfg.FetchCooldown,
		FetchPollInterval: cfg.FetchPollInterval,
		Logger:            log,
	})
	if err != nil {
		return err
	}

	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var wg sync.WaitGroup
	goRun := func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() }
	// shutdown runs in reverse order of start once runCtx ends.
	var shutdown []func()
	defer func() {
		stop(nil)
		for i := len(shutdown) - 1; i >= 0; i-- {
			shutdown[i]()
		}
		wg.Wait()
	}()

	if cfg.Roles.Worker {
		// Heartbeats stop after River has stopped (shutdown runs in reverse):
		// until its runs have ended, this worker must not look lost.
		hbCtx, hbStop := context.WithCancel(context.WithoutCancel(ctx))
		beat, err := w.Heartbeats(hbCtx, cfg.Version)
		if err != nil {
			hbStop()
			return err
		}
		reg, err := co.Register(hbCtx, me("worker"))
		if err != nil {
			hbStop()
			return fmt.Errorf("register the worker: %w", err)
		}
		hbDone := make(chan struct{}, 2)
		go func() { defer func() { hbDone <- struct{}{} }(); beat() }()
		go func() { defer func() { hbDone <- struct{}{} }(); w.FollowRegistration(hbCtx, reg) }()
		shutdown = append(shutdown, func() { hbStop(); <-hbDone; <-hbDone; _ = reg.Close() })
		// Not runCtx: cancelling Start's context is a hard stop, and stopRiver
		// first gives running invocations a grace period.
		if err := rc.Start(context.WithoutCancel(runCtx)); err != nil {
			return fmt.Errorf("start river: %w", err)
		}
		log.InfoContext(ctx, "worker started", slog.String("id", cfg.WorkerID))
		shutdown = append(shutdown, func() { stopRiver(rc, cfg.ShutdownGrace, log) })
	}
	if cfg.Roles.Collector {
		c, err := collector.New(st, collector.Config{
			Retention: cfg.Retention, Interval: cfg.CollectInterval, RescueAfter: cfg.RescueAfter, Logger: log,
			Coord: co, ID: cfg.WorkerID, Distributed: distributed,
		})
		if err != nil {
			return err
		}
		if _, err := co.Register(runCtx, me("collector")); err != nil {
			return fmt.Errorf("register the collector: %w", err)
		}
		goRun(func() { c.Run(runCtx) })
		log.InfoContext(ctx, "collector started", slog.Duration("retention", c.Retention()))
	}
	if cfg.Roles.API {
		if _, err := co.Register(runCtx, me("api")); err != nil {
			return fmt.Errorf("register the api: %w", err)
		}
		srv, err := startAPI(runCtx, cfg, api.Config{
			Token: cfg.Token, MaxBodyBytes: cfg.MaxBodyBytes, Logger: cfg.Logger, Coord: co, Distributed: distributed,
		}, st, rc, pool, stop, goRun)
		if err != nil {
			return err
		}
		shutdown = append(shutdown, func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		})
	}

	<-runCtx.Done()
	log.InfoContext(context.WithoutCancel(ctx), "stopping")
	if err := context.Cause(runCtx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// openCoordinator connects to ZooKeeper when one is configured (distributed),
// else returns an in-process coordinator.
func openCoordinator(ctx context.Context, cfg Config) (co coord.Coordinator, distributed bool, err error) {
	if cfg.ZooKeeper == "" {
		return coord.NewLocal(), false, nil
	}
	servers, chroot, err := coord.ParseConnectString(cfg.ZooKeeper)
	if err != nil {
		return nil, false, fmt.Errorf("zookeeper: %w", err)
	}
	zk, err := coord.NewZooKeeper(ctx, coord.ZooKeeperConfig{
		Servers: servers, Chroot: chroot, SessionTimeout: cfg.SessionTimeout, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, false, fmt.Errorf("connect to zookeeper %s: %w", cfg.ZooKeeper, err)
	}
	return zk, true, nil
}

func openPool(ctx context.Context, cfg Config) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	if pc.ConnConfig.RuntimeParams == nil {
		pc.ConnConfig.RuntimeParams = map[string]string{}
	}
	pc.ConnConfig.RuntimeParams["application_name"] = "powny"
	// Workers need a connection per running invocation at their end, plus
	// River's own; the API needs one per concurrent request.
	if pc.MaxConns < 20 {
		pc.MaxConns = 20
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return pool, nil
}

func startAPI(ctx context.Context, cfg Config, apiCfg api.Config, st *store.Store, rc *river.Client[pgx.Tx],
	pool *pgxpool.Pool, stop context.CancelCauseFunc, goRun func(func()),
) (*http.Server, error) {
	waiter := invoke.NewWaiter(pool, st, cfg.Logger)
	handler, err := api.New(apiCfg, st, invoke.New(st, rc), waiter)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("api: listen on %s: %w", cfg.Listen, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	goRun(func() { waiter.Run(ctx) })
	goRun(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			stop(fmt.Errorf("api: %w", err))
		}
	})
	cfg.Logger.InfoContext(ctx, "api listening", slog.String("addr", ln.Addr().String()))
	if cfg.OnListen != nil {
		cfg.OnListen(ln.Addr())
	}
	return srv, nil
}

// stopRiver lets running invocations finish for grace, then cancels them.
func stopRiver(rc *river.Client[pgx.Tx], grace time.Duration, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := rc.Stop(ctx); err == nil {
		return
	}
	log.Warn("invocations still running after the shutdown grace period; cancelling them", slog.Duration("grace", grace))
	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()
	_ = rc.StopAndCancel(cctx)
}
