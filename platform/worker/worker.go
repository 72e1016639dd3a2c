package worker

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/powny/powny/platform/fnrun"
	"github.com/powny/powny/platform/invoke"
	"github.com/powny/powny/platform/store"
)

// Config configures a Worker.
type Config struct {
	// ID is this worker's member id; it is also its River client id. Required.
	ID string
	// Runner runs function code. Required.
	Runner *fnrun.Runner
	// MaxLogLines caps the lines one attempt may log; further lines are
	// dropped and counted. Default 10,000.
	MaxLogLines int
	// Logger is the daemon's logger. Default: discard.
	Logger *slog.Logger
}

// Worker is the River worker that runs invocations.
type Worker struct {
	river.WorkerDefaults[invoke.Args]

	id          string
	store       *store.Store
	runner      *fnrun.Runner
	programs    *programCache
	maxLogLines int
	logger      *slog.Logger
}

// New returns a Worker.
func New(st *store.Store, cfg Config) (*Worker, error) {
	if cfg.ID == "" {
		return nil, errors.New("worker: Config.ID is required")
	}
	if cfg.Runner == nil {
		return nil, errors.New("worker: Config.Runner is required")
	}
	return &Worker{
		id:          cfg.ID,
		store:       st,
		runner:      cfg.Runner,
		programs:    newProgramCache(st, 1024),
		maxLogLines: cmp.Or(cfg.MaxLogLines, 10_000),
		logger:      cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)),
	}, nil
}

// Timeout disables River's job timeout: Work applies the function's own
// timeout, so that the error says "timed out after <the function's timeout>".
func (w *Worker) Timeout(*river.Job[invoke.Args]) time.Duration { return -1 }

// Work runs one attempt of an invocation.
func (w *Worker) Work(ctx context.Context, job *river.Job[invoke.Args]) error {
	invID := job.Args.InvocationID
	log := w.logger.With(slog.Int64("invocation", invID), slog.Int("attempt", job.Attempt))
	run, err := w.store.StartAttempt(ctx, invID, job.ID, job.Attempt, w.id)
	if errors.Is(err, store.ErrNotRunnable) {
		log.InfoContext(ctx, "invocation already finished; nothing to run")
		return nil
	}
	if err != nil {
		return err
	}
	prog, err := w.programs.get(ctx, run.VersionID)
	if err != nil {
		// Undecodable code will not get better: fail for good.
		return w.end(ctx, job, outcome{failure: &store.Failure{Kind: "internal", Message: err.Error()}, final: true})
	}
	logs := &logBuffer{max: w.maxLogLines}
	result, runErr := w.runner.Run(ctx, prog.program, run.Input, fnrun.RunOptions{
		Timeout: prog.config.Timeout,
		Effects: fnrun.Live{},
		Logs:    logs,
	})
	o := outcome{result: result, logs: logs.lines()}
	if runErr != nil {
		o.failure = failureOf(runErr)
		switch {
		case errors.Is(context.Cause(ctx), river.ErrJobCancelledRemotely):
			o.failure.Kind, o.cancelled = "cancelled", true
		case ctx.Err() != nil:
			// This worker is stopping: the attempt did not fail on its own.
			o.failure = &store.Failure{Kind: "interrupted", Message: "worker " + w.id + " stopped during the attempt"}
		}
		o.final = o.cancelled || job.Attempt >= job.MaxAttempts
		log.InfoContext(ctx, "attempt failed", slog.String("kind", o.failure.Kind), slog.String("error", o.failure.Message))
	}
	return w.end(ctx, job, o)
}

type outcome struct {
	result    json.RawMessage
	failure   *store.Failure
	final     bool
	cancelled bool
	logs      []store.LogLine
}

// end records how the attempt ended. A success also completes the River job
// in the same transaction; a failure is returned to River (to retry, or to
// discard the job after the last attempt).
func (w *Worker) end(ctx context.Context, job *river.Job[invoke.Args], o outcome) error {
	e := store.AttemptEnd{
		InvocationID: job.Args.InvocationID,
		Attempt:      job.Attempt,
		State:        store.StateSucceeded,
		Result:       o.result,
		Error:        o.failure,
		Logs:         o.logs,
	}
	switch {
	case o.cancelled:
		e.State = store.StateCancelled
	case o.failure != nil && o.final:
		e.State = store.StateFailed
	case o.failure != nil:
		e.State = store.StateQueued
	}
	// The run's context may be done (timeout, cancel, shutdown); the record
	// of how it ended must still be written.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	err := w.store.InTx(wctx, func(tx pgx.Tx) error {
		if err := w.store.EndAttemptTx(wctx, tx, e); err != nil {
			return err
		}
		if o.failure != nil {
			return nil
		}
		_, err := river.JobCompleteTx[*riverpgxv5.Driver](wctx, tx, job)
		return err
	})
	if err != nil {
		return fmt.Errorf("record end of attempt %d: %w", job.Attempt, err)
	}
	if o.failure == nil {
		return nil
	}
	if o.cancelled {
		return river.JobCancel(errors.New(o.failure.Message))
	}
	return errors.New(o.failure.Kind + ": " + o.failure.Message)
}

// failureOf turns a run error into the failure stored on the invocation.
func failureOf(err error) *store.Failure {
	var re *fnrun.RunError
	if errors.As(err, &re) {
		return &store.Failure{Kind: re.Kind, Message: re.Message, Line: re.Line}
	}
	return &store.Failure{Kind: "internal", Message: err.Error()}
}
