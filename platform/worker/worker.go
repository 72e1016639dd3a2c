package worker

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

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
	log := w.logger.With(slog.Int64("job", job.ID), slog.String("function", job.Args.Function), slog.Int("attempt", job.Attempt))
	run, err := w.store.StartAttempt(ctx, job.ID, job.Attempt, w.id)
	if errors.Is(err, store.ErrNotRunnable) {
		log.InfoContext(ctx, "invocation already finished; nothing to run")
		return nil
	}
	if err != nil {
		return err
	}
	log = log.With(slog.Int64("invocation", run.InvocationID))
	final := job.Attempt >= run.MaxAttempts
	prog, err := w.programs.get(ctx, run.VersionID)
	if err != nil {
		// Undecodable code will not get better: fail for good.
		return w.end(ctx, job, run, outcome{failure: &store.Failure{Kind: "internal", Message: err.Error()}, final: true})
	}
	logs := &logBuffer{max: w.maxLogLines}
	result, runErr := w.runner.Run(ctx, prog.program, run.Input, fnrun.RunOptions{
		Timeout: prog.config.Timeout,
		Effects: fnrun.Live{},
		Logs:    logs,
	})
	o := outcome{result: result, logs: logs.lines(), final: final}
	if runErr != nil {
		o.failure = failureOf(runErr)
		switch {
		case errors.Is(context.Cause(ctx), river.ErrJobCancelledRemotely):
			o.failure.Kind, o.cancelled = "cancelled", true
		case ctx.Err() != nil:
			// This worker is stopping: the attempt did not fail on its own.
			o.failure = &store.Failure{Kind: "interrupted", Message: "worker " + w.id + " stopped during the attempt"}
		}
		log.InfoContext(ctx, "attempt failed", slog.String("kind", o.failure.Kind), slog.String("error", o.failure.Message))
	}
	return w.end(ctx, job, run, o)
}

type outcome struct {
	result    json.RawMessage
	failure   *store.Failure
	final     bool // no attempt follows a failure
	cancelled bool
	logs      []store.LogLine
}

// end records how the attempt ended, in one statement. River completes the
// job of a success in its next batch: the invocation row, already final, is
// what callers read and are notified of. A failure goes back to River, to be
// retried, or, after the last attempt the function allows, cancelled.
func (w *Worker) end(ctx context.Context, job *river.Job[invoke.Args], run store.Run, o outcome) error {
	e := store.AttemptEnd{
		InvocationID: run.InvocationID,
		Attempt:      job.Attempt,
		Worker:       w.id,
		RiverJobID:   job.ID,
		StartedAt:    run.StartedAt,
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
	if err := w.store.EndAttempt(wctx, e); err != nil {
		return fmt.Errorf("record end of attempt %d: %w", job.Attempt, err)
	}
	switch {
	case o.failure == nil:
		return nil
	case o.cancelled || o.final:
		return river.JobCancel(errors.New(o.failure.Kind + ": " + o.failure.Message))
	default:
		return errors.New(o.failure.Kind + ": " + o.failure.Message)
	}
}

// failureOf turns a run error into the failure stored on the invocation.
func failureOf(err error) *store.Failure {
	var re *fnrun.RunError
	if errors.As(err, &re) {
		return &store.Failure{Kind: re.Kind, Message: re.Message, Line: re.Line}
	}
	return &store.Failure{Kind: "internal", Message: err.Error()}
}
