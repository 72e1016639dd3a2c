package collector

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/powny/powny/platform/store"
)

// Config configures a Collector.
type Config struct {
	// Retention is how long finished invocations are kept. Default 7 days.
	Retention time.Duration
	// Interval is the time between two collections. Default 1 minute.
	Interval time.Duration
	// BatchSize is how many invocations one delete statement removes. Default 1,000.
	BatchSize int
	// Logger. Default: discard.
	Logger *slog.Logger
}

// Collector deletes what is past its retention.
type Collector struct {
	cfg   Config
	store *store.Store
}

// New returns a Collector.
func New(st *store.Store, cfg Config) (*Collector, error) {
	cfg.Retention = cmp.Or(cfg.Retention, 7*24*time.Hour)
	cfg.Interval = cmp.Or(cfg.Interval, time.Minute)
	cfg.BatchSize = cmp.Or(cfg.BatchSize, 1000)
	cfg.Logger = cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	if cfg.Retention < 0 || cfg.Interval < 0 || cfg.BatchSize < 0 {
		return nil, errors.New("collector: Retention, Interval and BatchSize must be positive")
	}
	return &Collector{cfg: cfg, store: st}, nil
}

// Run collects every Interval until ctx ends.
func (c *Collector) Run(ctx context.Context) {
	t := time.NewTicker(c.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := c.Collect(ctx); err != nil && ctx.Err() == nil {
			c.cfg.Logger.WarnContext(ctx, "collection failed; retrying next interval", slog.String("err", err.Error()))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Collect deletes every invocation finished more than Retention ago, batch by
// batch, and returns how many it deleted.
func (c *Collector) Collect(ctx context.Context) (int64, error) {
	cutoff := time.Now().Add(-c.cfg.Retention)
	var total int64
	for {
		n, err := c.store.DeleteFinishedBefore(ctx, cutoff, c.cfg.BatchSize)
		total += n
		if err != nil {
			return total, err
		}
		if n < int64(c.cfg.BatchSize) {
			break
		}
	}
	if total > 0 {
		c.cfg.Logger.InfoContext(ctx, "deleted finished invocations", slog.Int64("count", total),
			slog.Time("finished_before", cutoff))
	}
	return total, nil
}

// Retention is how long finished invocations are kept.
func (c *Collector) Retention() time.Duration { return c.cfg.Retention }
