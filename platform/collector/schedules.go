package collector

import (
	"context"
	"log/slog"
	"time"
)

// fireSchedules starts the functions whose schedule is due
// (store.FireSchedules), fenced by term when not 0, and logs each tick fired.
func (c *Collector) fireSchedules(ctx context.Context, term int64) {
	fired, err := c.store.FireSchedules(ctx, term, time.Time{})
	for _, f := range fired {
		attrs := []any{
			slog.String("function", f.Function), slog.String("spec", f.Spec), slog.Time("tick", f.Tick),
			slog.Int64("invocation", f.InvocationID), slog.Time("next", f.Next),
		}
		if !f.Due.Equal(f.Tick) {
			// Ticks were missed (no leader meanwhile): only the latest fires.
			attrs = append(attrs, slog.Time("missed_since", f.Due))
		}
		c.cfg.Logger.InfoContext(ctx, "fired a schedule", attrs...)
	}
	if err != nil && ctx.Err() == nil {
		c.cfg.Logger.WarnContext(ctx, "firing schedules failed; retrying next sweep", slog.String("err", err.Error()))
	}
}
