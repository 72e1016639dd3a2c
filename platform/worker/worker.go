package worker

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"

	"github.com/powny/powny/platform/fnrun"
	"github.com/powny/powny/platform/groupcommit"
	"github.com/powny/powny/platform/invoke"
	"github.com/powny/powny/platform/journal"
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
	// RescueAfter is how long the collector lets this worker miss heartbeats
	// before it gives its invocations to others. The worker heartbeats four
	// times per RescueAfter, performs no effect once its last heartbeat is
	// half of it old, and cancels its runs after missing it whole. Default 10s.
	RescueAfter time.Duration
	// RetryFor is how long a checkpoint or the record of an attempt's end is
	// retried while Postgres is unreachable (restarting, say) before the run
	// gives up; it then resumes from its last checkpoint later. Default 30s.
	RetryFor time.Duration
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
	retryFor    time.Duration
	lease       *lease
	claims      *groupcommit.Batcher[store.Claim, store.Run]
	ends        *groupcommit.Batcher[store.AttemptEnd, struct{}]
	checkpoints *groupcommit.Batcher[store.CheckpointRow, struct{}]
	logger      *slog.Logger
	// settings serves env() and secret() to every run, cached for 1s: an
	// operator's change reaches running functions within a second.
	settings *store.SettingsCache
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
		retryFor:    cmp.Or(cfg.RetryFor, 30*time.Second),
		lease:       newLease(cmp.Or(cfg.RescueAfter, 10*time.Second)),
		// Runs fetched together claim their invocations in one statement.
		claims: &groupcommit.Batcher[store.Claim, store.Run]{WriteFunc: st.StartAttempts, Timeout: 10 * time.Second},
		ends:   &groupcommit.Batcher[store.AttemptEnd, struct{}]{WriteFunc: st.EndAttempts, Timeout: 10 * time.Second},
		checkpoints: &groupcommit.Batcher[store.CheckpointRow, struct{}]{
			WriteFunc: st.Checkpoints, Timeout: 10 * time.Second,
		},
		logger:   cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)),
		settings: st.NewSettingsCache(time.Second),
	}, nil
}

// Timeout disables River's job timeout: Work applies the function's own
// timeout, so that the error says "timed out after <the function's timeout>".
func (w *Worker) Timeout(*river.Job[invoke.Args]) time.Duration { return -1 }

// Work runs one attempt of an invocation: from the start, replaying its
// journal up to its last checkpoint, then live.
func (w *Worker) Work(ctx context.Context, job *river.Job[invoke.Args]) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer w.lease.track(cancel)()
	log := w.logger.With(slog.Int64("job", job.ID), slog.String("function", job.Args.Function))
	if w.lease.isRevoked() {
		// No session: an attempt would be refused at its first effect. Leave
		// the job for later (or for the collector, once this worker is
		// known lost), without an attempt.
		return river.JobSnooze(time.Second)
	}
	// The claim is not interrupted by a cancel: once it may have committed,
	// the attempt must be recorded (a cancelled run ends as interrupted).
	run, err := w.claims.Do(context.WithoutCancel(ctx), store.Claim{JobID: job.ID, Worker: w.id})
	if errors.Is(err, store.ErrNotRunnable) {
		log.InfoContext(ctx, "the job owns no unfinished invocation; nothing to run")
		return nil
	}
	if err != nil {
		return err
	}
	log = log.With(slog.Int64("invocation", run.InvocationID), slog.Int("attempt", run.Attempt))
	prog, err := w.programs.get(ctx, run.VersionID)
	if err != nil {
		// Undecodable code will not get better: fail for good.
		return w.end(ctx, run, &outcome{failure: &store.Failure{Kind: "internal", Message: err.Error()}, final: true})
	}
	replay, err := loadJournal(run)
	if err != nil {
		return w.end(ctx, run, &outcome{failure: &store.Failure{Kind: "internal", Message: err.Error()}, final: true})
	}
	logs := &logBuffer{max: w.maxLogLines}
	// fenced: another run owns the invocation now; unreachable: a
	// checkpoint could not reach the database, so the run stops and resumes
	// from its last checkpoint later, without counting as a failure.
	var fenced, unreachable atomic.Bool
	// The secrets the run reads are masked out of every entry it commits.
	secrets := fnrun.NewSecrets()
	j := journal.New(journal.Config{
		Replay:     replay,
		Durability: prog.config.Durability,
		Commit: func(ctx context.Context, entries []journal.Entry, line int) error {
			rows, err := journalRows(scrubEntries(secrets, entries), line)
			if err != nil {
				return err
			}
			lines := logs.take()
			err = retryTransient(ctx, w.retryFor, func(ctx context.Context) error {
				// Checkpoints of runs taken together share one statement.
				_, err := w.checkpoints.Do(ctx, store.CheckpointRow{Fence: run.Fence, Worker: w.id, Rows: *rows, Logs: lines})
				return err
			})
			switch {
			case errors.Is(err, store.ErrFenced):
				fenced.Store(true)
			case store.IsTransient(err):
				unreachable.Store(true)
			}
			return err
		},
	})
	effects := &runEffects{
		leased: leased{Effects: j, lease: w.lease}, journal: j,
		store: w.store, invocation: run.InvocationID, retryFor: w.retryFor,
	}
	result, runErr := w.runner.Run(ctx, prog.program, run.Input, fnrun.RunOptions{
		Timeout: prog.config.Timeout,
		Effects: effects,
		Logs:    logs,
		// kv writes record the invocation; its namespace is the function's.
		KV: w.store.KV(run.InvocationID), KVNamespace: job.Args.Function,
		Settings: w.settings, Secrets: secrets,
	})
	if runErr == nil {
		// A run that returns before replaying its whole journal diverged too.
		runErr = j.Finish()
	}
	if fenced.Load() {
		log.WarnContext(ctx, "stopped a stale run: the invocation has moved to another run; nothing written")
		return nil
	}
	o := &outcome{result: result}
	if runErr != nil {
		o = w.failure(ctx, run, runErr)
		if !o.wakeAt.IsZero() {
			o.wait = effects.wait // nil for a sleep
		}
		if unreachable.Load() {
			o.failure = &store.Failure{Kind: "interrupted", Message: "the database was unreachable: " + runErr.Error()}
			o.stopped, o.final = true, false
		}
		log.InfoContext(ctx, "attempt ended without a result", slog.String("error", runErr.Error()))
	}
	if o.journal, err = journalRows(scrubEntries(secrets, j.Pending()), 0); err != nil {
		return err
	}
	o.logs = logs.take()
	return w.end(ctx, run, o)
}

// loadJournal decodes the entries an invocation committed before this run.
func loadJournal(run store.Run) ([]journal.Entry, error) {
	entries, err := journal.DecodeAll(run.Journal)
	if err != nil {
		return nil, fmt.Errorf("journal of invocation %d: %w", run.InvocationID, err)
	}
	return entries, nil
}

// journalRows encodes entries as one checkpoint row; nil when there are none.
func journalRows(entries []journal.Entry, line int) (*store.JournalRows, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	b, err := journal.Encode(entries)
	if err != nil {
		return nil, err
	}
	return &store.JournalRows{FirstEntry: entries[0].Seq, Count: len(entries), Entries: b, Line: line}, nil
}

// outcome is how an attempt ended.
type outcome struct {
	result    json.RawMessage
	failure   *store.Failure
	final     bool           // no attempt follows the failure
	cancelled bool           // cancelled by request
	stopped   bool           // this worker is stopping: the run resumes elsewhere
	wakeAt    time.Time      // a durable sleep or wait_event(): the run resumes then
	wait      *store.NewWait // the wait_event() call it suspended at, if any
	journal   *store.JournalRows
	logs      []store.LogLine
}

// failure says what a run error means for the invocation.
func (w *Worker) failure(ctx context.Context, run store.Run, runErr error) *outcome {
	o := &outcome{failure: failureOf(runErr)}
	var re *fnrun.RunError
	errors.As(runErr, &re)
	switch {
	case re != nil && re.Kind == fnrun.KindSuspended:
		o.failure, o.wakeAt = nil, re.Until
	case errors.Is(context.Cause(ctx), river.ErrJobCancelledRemotely):
		o.failure.Kind, o.cancelled = "cancelled", true
	case errors.Is(context.Cause(ctx), errLeaseLost), errors.Is(context.Cause(ctx), errSessionLost):
		o.failure = &store.Failure{Kind: "interrupted", Message: "worker " + w.id + ": " + context.Cause(ctx).Error()}
		o.stopped = true
	case ctx.Err() != nil:
		o.failure = &store.Failure{Kind: "interrupted", Message: "worker " + w.id + " stopped during the attempt"}
		o.stopped = true
	case re != nil && re.Kind == "interrupted":
		// The lease refused an effect: resume from the last checkpoint.
		o.stopped = true
	case re != nil && re.Kind == journal.KindNondeterminism:
		// Replaying again would diverge again: never retried.
		o.final = true
	default:
		o.final = run.Failures+1 >= run.MaxAttempts
	}
	return o
}

// end records how the attempt ended, in one fenced statement, and tells
// River what to do with the job: nothing more after a success (River's
// completer finalizes it in its next batch; the invocation row, already
// final, is what callers read and are notified of), run it again at once
// (this worker stopped), at the wake time (a durable sleep), after a backoff
// (a failure with attempts left), or never (cancelled, or failed for good).
func (w *Worker) end(ctx context.Context, run store.Run, o *outcome) error {
	e := store.AttemptEnd{
		Fence:     run.Fence,
		Worker:    w.id,
		StartedAt: run.StartedAt,
		State:     store.StateSucceeded,
		Result:    o.result,
		Error:     o.failure,
		Logs:      o.logs,
		Journal:   o.journal,
	}
	switch {
	case !o.wakeAt.IsZero():
		e.State, e.WakeAt, e.Wait = store.StateWaiting, o.wakeAt, o.wait
	case o.cancelled:
		e.State = store.StateCancelled
	case o.stopped:
		e.State = store.StateQueued
	case o.failure != nil:
		e.State, e.Failed = store.StateQueued, true
		if o.final {
			e.State = store.StateFailed
		}
	}
	// The run's context may be done (timeout, cancel, shutdown); the record
	// of how it ended must still be written.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.retryFor+5*time.Second)
	defer cancel()
	err := retryTransient(wctx, w.retryFor, func(ctx context.Context) error {
		_, err := w.ends.Do(ctx, e) // runs ending together share one statement
		return err
	})
	if errors.Is(err, store.ErrFenced) {
		w.logger.WarnContext(ctx, "stale run ended: the invocation has moved to another run; nothing written",
			slog.Int64("invocation", run.InvocationID), slog.Int("attempt", run.Attempt))
		return nil
	}
	if err != nil {
		return fmt.Errorf("record end of attempt %d: %w", run.Attempt, err)
	}
	switch e.State {
	case store.StateSucceeded:
		return nil
	case store.StateWaiting:
		return river.JobSnooze(time.Until(o.wakeAt))
	case store.StateQueued:
		if o.stopped {
			return river.JobSnooze(0)
		}
		return errors.New(o.failure.Kind + ": " + o.failure.Message)
	default:
		return river.JobCancel(errors.New(o.failure.Kind + ": " + o.failure.Message))
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

// retryTransient runs f until it succeeds, fails for a reason other than
// the database being unreachable, or timeout has passed.
func retryTransient(ctx context.Context, timeout time.Duration, f func(context.Context) error) error {
	deadline := time.Now().Add(timeout)
	backoff := 50 * time.Millisecond
	for {
		err := f(ctx)
		if err == nil || !store.IsTransient(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}
