package collector

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/powny/powny/platform/coord"
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
	// RescueAfter is how long a worker may go without a heartbeat before the
	// invocations it runs are taken back and run elsewhere. Default 10s.
	RescueAfter time.Duration
	// SweepInterval is the time between two sweeps for lost invocations and
	// for sleeping invocations due to wake. Default 500ms.
	SweepInterval time.Duration
	// Coord elects the collector that acts, among those sharing it. Default:
	// an in-process coordinator (this collector leads).
	Coord coord.Coordinator
	// ID is this collector's member id, its value in the election. Default "collector".
	ID string
	// Distributed says Coord is shared by every process (ZooKeeper): the
	// leader learns which workers are lost from their membership, the moment
	// one disappears, and fences its rescues with its term. Otherwise every
	// collector process acts (their statements skip each other's rows), and
	// Postgres heartbeats say which workers are lost.
	Distributed bool
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
	cfg.RescueAfter = cmp.Or(cfg.RescueAfter, 10*time.Second)
	cfg.SweepInterval = cmp.Or(cfg.SweepInterval, 500*time.Millisecond)
	cfg.Logger = cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	cfg.ID = cmp.Or(cfg.ID, "collector")
	if cfg.Coord == nil {
		cfg.Coord = coord.NewLocal()
	}
	if cfg.Retention < 0 || cfg.Interval < 0 || cfg.BatchSize < 0 || cfg.RescueAfter < 0 || cfg.SweepInterval < 0 {
		return nil, errors.New("collector: Retention, Interval, BatchSize, RescueAfter and SweepInterval must be positive")
	}
	return &Collector{cfg: cfg, store: st}, nil
}

// Run campaigns to lead the collectors and, while it leads, sweeps every
// SweepInterval (and whenever a worker member leaves) and collects every
// Interval, until ctx ends.
func (c *Collector) Run(ctx context.Context) {
	election := c.cfg.Coord.Election("collector")
	for ctx.Err() == nil {
		lead, err := election.Campaign(ctx, c.cfg.ID)
		if err != nil {
			if ctx.Err() == nil {
				c.cfg.Logger.WarnContext(ctx, "campaign to lead the collectors failed; trying again", slog.String("err", err.Error()))
				sleep(ctx, c.cfg.SweepInterval)
			}
			continue
		}
		c.lead(ctx, lead)
	}
}

// lead acts until the leadership is lost or ctx ends.
func (c *Collector) lead(ctx context.Context, lead coord.Leadership) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer func() { _ = lead.Resign(context.WithoutCancel(ctx)) }()
	go func() {
		select {
		case <-lead.Lost():
			cancel()
		case <-ctx.Done():
		}
	}()
	lost := store.LostWorkers{HeartbeatAfter: c.cfg.RescueAfter}
	var members <-chan []coord.Member
	if c.cfg.Distributed {
		term, err := c.store.BecomeLeader(ctx, c.cfg.ID)
		if err != nil {
			c.cfg.Logger.WarnContext(ctx, "could not record the leadership; resigning", slog.String("err", err.Error()))
			sleep(ctx, c.cfg.SweepInterval)
			return
		}
		lost.Term = term
		if members, err = c.cfg.Coord.WatchMembers(ctx, "worker"); err != nil {
			c.cfg.Logger.WarnContext(ctx, "could not watch the workers; resigning", slog.String("err", err.Error()))
			return
		}
	}
	c.cfg.Logger.InfoContext(ctx, "leading the collectors", slog.String("id", c.cfg.ID), slog.Int64("term", lost.Term))
	collect := time.NewTicker(c.cfg.Interval)
	defer collect.Stop()
	sweep := time.NewTicker(c.cfg.SweepInterval)
	defer sweep.Stop()
	c.collect(ctx)
	for {
		// Distributed: no rescue before the first list of live workers.
		if !c.cfg.Distributed || lost.Members != nil {
			c.Sweep(ctx, lost)
		}
		select {
		case <-ctx.Done():
			c.cfg.Logger.InfoContext(context.WithoutCancel(ctx), "no longer leading the collectors", slog.String("id", c.cfg.ID))
			return
		case ms := <-members:
			lost.Members = liveMembers(ms)
		case <-collect.C:
			c.collect(ctx)
		case <-sweep.C:
		}
	}
}

func liveMembers(ms []coord.Member) []store.LiveMember {
	live := make([]store.LiveMember, len(ms))
	for i, m := range ms {
		live[i] = store.LiveMember{ID: m.ID, RegisteredAt: m.RegisteredAt}
	}
	return live
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func (c *Collector) collect(ctx context.Context) {
	if _, err := c.Collect(ctx); err != nil && ctx.Err() == nil {
		c.cfg.Logger.WarnContext(ctx, "collection failed; retrying next interval", slog.String("err", err.Error()))
	}
}

// Sweep takes back the invocations of lost workers (see store.RescueLost),
// wakes sleeping invocations that are due, and starts the functions whose
// schedule is due (see store.FireSchedules; fenced by lost.Term).
func (c *Collector) Sweep(ctx context.Context, lost store.LostWorkers) {
	rescued, err := c.store.RescueLost(ctx, lost, c.cfg.BatchSize)
	for _, r := range rescued {
		c.cfg.Logger.InfoContext(ctx, "rescued the invocation of a lost worker", slog.Int64("invocation", r.InvocationID),
			slog.String("worker", r.Worker), slog.Int64("old_job", r.OldJobID), slog.Int64("new_job", r.NewJobID))
	}
	if err != nil && ctx.Err() == nil {
		c.cfg.Logger.WarnContext(ctx, "rescue failed; retrying next sweep", slog.String("err", err.Error()))
	}
	if _, err := c.store.FinalizeLostJobs(ctx, lost); err != nil && ctx.Err() == nil {
		c.cfg.Logger.WarnContext(ctx, "finalizing the jobs of lost workers failed; retrying next sweep", slog.String("err", err.Error()))
	}
	c.fireSchedules(ctx, lost.Term)
	// A second of lead: workers poll available jobs every 100ms and take
	// them when their time comes.
	if _, err := c.store.WakeDue(ctx, time.Second); err != nil && ctx.Err() == nil {
		c.cfg.Logger.WarnContext(ctx, "waking due invocations failed; retrying next sweep", slog.String("err", err.Error()))
	}
	if _, err := c.store.WakeEventWaiters(ctx); err != nil && ctx.Err() == nil {
		c.cfg.Logger.WarnContext(ctx, "waking invocations woken by events failed; retrying next sweep", slog.String("err", err.Error()))
	}
}

// Collect deletes every invocation finished, and every event received, more
// than Retention ago, batch by batch, and returns how many invocations it
// deleted.
func (c *Collector) Collect(ctx context.Context) (int64, error) {
	cutoff := time.Now().Add(-c.cfg.Retention)
	total, err := c.inBatches(ctx, cutoff, c.store.DeleteFinishedBefore)
	if total > 0 {
		c.cfg.Logger.InfoContext(ctx, "deleted finished invocations", slog.Int64("count", total),
			slog.Time("finished_before", cutoff))
	}
	if err != nil {
		return total, err
	}
	events, err := c.inBatches(ctx, cutoff, c.store.DeleteEventsBefore)
	if events > 0 {
		c.cfg.Logger.InfoContext(ctx, "deleted old events", slog.Int64("count", events), slog.Time("received_before", cutoff))
	}
	if err != nil {
		return total, err
	}
	// Records of workers long gone: their invocations were rescued long ago.
	if _, err := c.store.ForgetWorkers(ctx, max(time.Hour, 10*c.cfg.RescueAfter)); err != nil {
		return total, err
	}
	return total, nil
}

// inBatches calls del until it deletes less than a batch, and returns how
// many rows it deleted in all.
func (c *Collector) inBatches(ctx context.Context, cutoff time.Time, del func(context.Context, time.Time, int) (int64, error)) (int64, error) {
	var total int64
	for {
		n, err := del(ctx, cutoff, c.cfg.BatchSize)
		total += n
		if err != nil || n < int64(c.cfg.BatchSize) {
			return total, err
		}
	}
}

// Retention is how long finished invocations are kept.
func (c *Collector) Retention() time.Duration { return c.cfg.Retention }
