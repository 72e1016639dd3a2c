package invoke

import (
	"cmp"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// RiverConfig are the River settings Powny uses. The zero value gives the defaults.
type RiverConfig struct {
	// ID identifies the client; a worker's is its member id, so that
	// river_job.attempted_by says which member ran a job. Default: River's.
	ID string
	// Workers are the job workers; nil makes an insert-only client.
	Workers *river.Workers
	// MaxWorkers is how many jobs run at once in this process. Default 100.
	MaxWorkers int
	// FetchCooldown is the least time between two fetches. Default 1ms
	// (River's least): River's own 100ms caps throughput at MaxWorkers jobs
	// per 100ms. Invocations wake workers with a notification each (see
	// store.InsertInvocation), so the cooldown does not delay them.
	FetchCooldown time.Duration
	// FetchPollInterval is how often a worker looks for jobs without being
	// notified (the backstop for a missed notification). Default 100ms.
	FetchPollInterval time.Duration
	Logger            *slog.Logger
}

// NewRiverClient returns a River client on pool with Powny's settings.
func NewRiverClient(pool *pgxpool.Pool, cfg RiverConfig) (*river.Client[pgx.Tx], error) {
	rc := &river.Config{
		ID:                cfg.ID,
		FetchCooldown:     cmp.Or(cfg.FetchCooldown, time.Millisecond),
		FetchPollInterval: cmp.Or(cfg.FetchPollInterval, 100*time.Millisecond),
		Logger:            cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)),
		// The worker enforces each function's own timeout (Worker.Timeout
		// returns -1), so River's default one-minute limit must not apply.
		JobTimeout: -1,
		// The collector rescues the invocations of lost workers within
		// seconds, onto fresh jobs. River's rescuer, which re-runs the same
		// job row, stays as a backstop only: after the longest timeout a
		// function may have.
		RescueStuckJobsAfter: 25 * time.Hour,
	}
	if cfg.Workers != nil {
		rc.Workers = cfg.Workers
		rc.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cmp.Or(cfg.MaxWorkers, 100)}}
	}
	client, err := river.NewClient(riverpgxv5.New(pool), rc)
	if err != nil {
		return nil, fmt.Errorf("create river client: %w", err)
	}
	return client, nil
}
