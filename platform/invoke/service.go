package invoke

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/powny/powny/platform/fnrun"
	"github.com/powny/powny/platform/store"
)

// Service starts and cancels invocations.
type Service struct {
	store *store.Store
	river *river.Client[pgx.Tx]
}

// New returns a Service that stores invocations in st and queues them on rc.
func New(st *store.Store, rc *river.Client[pgx.Tx]) *Service {
	return &Service{store: st, river: rc}
}

// Request asks for one invocation.
type Request struct {
	Function       string
	Input          json.RawMessage // valid JSON
	Trigger        string          // "http", "event", "schedule"
	IdempotencyKey string          // optional
}

// Start stores a queued invocation of the function's active version and
// queues its job, in one transaction. When the idempotency key was used
// before, it returns that invocation with existing true.
func (s *Service) Start(ctx context.Context, req Request) (inv store.Invocation, existing bool, err error) {
	err = s.store.InTx(ctx, func(tx pgx.Tx) error {
		inv, existing, err = s.StartTx(ctx, tx, req)
		return err
	})
	return inv, existing, err
}

// StartTx is Start inside the caller's transaction.
func (s *Service) StartTx(ctx context.Context, tx pgx.Tx, req Request) (inv store.Invocation, existing bool, err error) {
	av, err := s.store.ActiveVersionTx(ctx, tx, req.Function)
	if err != nil {
		return inv, false, fmt.Errorf("find active version of %q: %w", req.Function, err)
	}
	var cfg fnrun.Config
	if err := json.Unmarshal(av.Config, &cfg); err != nil {
		return inv, false, fmt.Errorf("decode config of %q: %w", req.Function, err)
	}
	maxAttempts := cfg.Retries + 1
	inv, existing, err = s.store.InsertInvocationTx(ctx, tx, store.NewInvocation{
		Version:        av,
		Trigger:        req.Trigger,
		Input:          req.Input,
		MaxAttempts:    maxAttempts,
		IdempotencyKey: req.IdempotencyKey,
	})
	if err != nil || existing {
		return inv, existing, err
	}
	job, err := s.river.InsertTx(ctx, tx, Args{InvocationID: inv.ID}, &river.InsertOpts{MaxAttempts: maxAttempts})
	if err != nil {
		return inv, false, fmt.Errorf("queue invocation: %w", err)
	}
	if err := s.store.SetRiverJobTx(ctx, tx, inv.ID, job.Job.ID); err != nil {
		return inv, false, err
	}
	inv.RiverJobID = job.Job.ID
	return inv, false, nil
}

// ErrFinished is returned by Cancel for an invocation that already finished.
var ErrFinished = errors.New("invocation already finished")

// Cancel cancels a queued or running invocation: its row becomes cancelled at
// once, and its River job is cancelled (a running one has its context
// cancelled, wherever it runs).
func (s *Service) Cancel(ctx context.Context, id int64) (store.Invocation, error) {
	err := s.store.InTx(ctx, func(tx pgx.Tx) error {
		inv, cancelled, err := s.store.CancelTx(ctx, tx, id)
		if err != nil {
			return err
		}
		if !cancelled {
			return fmt.Errorf("%w (%s)", ErrFinished, inv.State)
		}
		if inv.RiverJobID == 0 {
			return nil
		}
		if _, err := s.river.JobCancelTx(ctx, tx, inv.RiverJobID); err != nil && !errors.Is(err, river.ErrNotFound) {
			return fmt.Errorf("cancel job %d: %w", inv.RiverJobID, err)
		}
		return nil
	})
	if err != nil {
		return store.Invocation{}, err
	}
	return s.store.GetInvocation(ctx, id)
}
