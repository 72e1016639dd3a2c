package worker

import (
	"cmp"
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/powny/powny/platform/store"
)

// Heartbeats records that this worker is alive every interval until ctx
// ends, then removes its record: the collector takes back the invocations of
// a worker whose record is missing or older than its rescue delay. The first
// beat is written before Heartbeats returns its loop, so a worker is known
// before it fetches any job.
func (w *Worker) Heartbeats(ctx context.Context, interval time.Duration, version string) (run func(), err error) {
	host, _ := os.Hostname()
	me := store.Worker{ID: w.id, Host: cmp.Or(host, "unknown"), PID: os.Getpid(), Version: version}
	if err := w.store.Heartbeat(ctx, me); err != nil {
		return nil, err
	}
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
				if err := w.store.Heartbeat(ctx, me); err != nil && ctx.Err() == nil {
					w.logger.WarnContext(ctx, "heartbeat failed", slog.String("err", err.Error()))
				}
			}
		}
	}, nil
}
