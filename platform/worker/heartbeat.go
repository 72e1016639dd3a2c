package worker

import (
	"cmp"
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/powny/powny/platform/coord"
	"github.com/powny/powny/platform/store"
)

// Heartbeats records that this worker is alive, four times per rescue delay,
// until ctx ends, then removes its record: the collector takes back the
// invocations of a worker whose record is missing or older than its rescue
// delay. The first beat is written before Heartbeats returns its loop, so a
// worker is known before it fetches any job. The beats also keep the
// worker's lease (see lease).
func (w *Worker) Heartbeats(ctx context.Context, version string) (run func(), err error) {
	interval := w.lease.rescueAfter / 4
	host, _ := os.Hostname()
	me := store.Worker{ID: w.id, Host: cmp.Or(host, "unknown"), PID: os.Getpid(), Version: version}
	start := time.Now()
	if me.StartedAt, err = w.store.RegisterWorker(ctx, me); err != nil {
		return nil, err
	}
	w.lease.beat(start)
	return func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				if err := w.store.RemoveWorker(rctx, w.id); err != nil {
					w.logger.WarnContext(rctx, "could not remove this worker's record", slog.String("err", err.Error()))
				}
				return
			case <-t.C:
				if n := w.lease.beforeBeat(); n > 0 {
					w.logger.WarnContext(ctx, "heartbeats were missing for longer than the rescue delay; cancelled this worker's runs",
						slog.Int("runs", n))
				}
				start := time.Now()
				if err := w.store.Heartbeat(ctx, me); err != nil {
					if ctx.Err() == nil {
						w.logger.WarnContext(ctx, "heartbeat failed", slog.String("err", err.Error()))
					}
					continue
				}
				w.lease.beat(start)
			}
		}
	}, nil
}

// FollowRegistration cancels this worker's runs, and refuses their effects,
// from the moment its coordinator session is lost until it is registered
// again: meanwhile the collector may hand its invocations to other workers.
// It returns when ctx ends.
func (w *Worker) FollowRegistration(ctx context.Context, reg coord.Registration) {
	// The registration bounds effects too: a worker that wakes from a pause
	// longer than its session must not perform one before it learns of the
	// loss.
	w.lease.mu.Lock()
	w.lease.fresh = reg.Fresh
	w.lease.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return
		case <-reg.Lost():
		}
		n := w.lease.revoke(errSessionLost)
		w.logger.WarnContext(ctx, "lost the coordinator session: cancelled this worker's runs until it registers again",
			slog.Int("runs", n))
		select {
		case <-ctx.Done():
			return
		case <-reg.Registered():
		}
		// Runs that started before the new registration are lost for the
		// collector (it hands their invocations out again): stop them.
		w.lease.revoke(errSessionLost)
		w.lease.restore()
		w.logger.InfoContext(ctx, "registered again with the coordinator")
	}
}
