package invoke

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/powny/powny/platform/groupcommit"
	"github.com/powny/powny/platform/store"
)

// Service starts and cancels invocations.
type Service struct {
	store    *store.Store
	river    *river.Client[pgx.Tx]
	batch    *groupcommit.Batcher[store.NewInvocation, store.Invocation]
	lastWake atomic.Int64 // unix nanoseconds of the last invocation that woke workers
}

// wakeEvery is how often, at most, an invocation nobody waits for wakes idle
// workers with a notification. Under a burst, workers are busy and fetch
// again after each job; an invocation that does not wake them is fetched
// then, or at their next poll. (River's own inserts limit their
// notifications the same way.)
const wakeEvery = 10 * time.Millisecond

// wake says whether a new invocation should wake workers: always when a
// caller waits for it, else at most once per wakeEvery.
func (s *Service) wake(waited bool) bool {
	if waited {
		return true
	}
	now := time.Now().UnixNano()
	last := s.lastWake.Load()
	return now-last >= int64(wakeEvery) && s.lastWake.CompareAndSwap(last, now)
}

// New returns a Service that stores invocations in st and queues them on rc.
func New(st *store.Store, rc *river.Client[pgx.Tx]) *Service {
	return &Service{store: st, river: rc, batch: &groupcommit.Batcher[store.NewInvocation, store.Invocation]{
		WriteFunc: st.InsertInvocations,
	}}
}

// Start stores a queued invocation of the function's active version with
// the River job that runs it. When the idempotency key was used before, it
// returns that invocation with existing true.
func (s *Service) Start(ctx context.Context, req store.NewInvocation) (inv store.Invocation, existing bool, err error) {
	req.Wake = s.wake(req.Notify)
	if req.IdempotencyKey == "" {
		inv, err = s.batch.Do(ctx, req)
		return inv, false, err
	}
	// With a key, in a transaction: a duplicate rolls back, job and all.
	err = s.store.InTx(ctx, func(tx pgx.Tx) error {
		inv, err = s.StartTx(ctx, tx, req)
		return err
	})
	if errors.Is(err, store.ErrDuplicateKey) {
		inv, err = s.store.FindByIdempotencyKey(ctx, req.Function, req.IdempotencyKey, req.Input)
		return inv, true, err
	}
	return inv, false, err
}

// StartTx is Start inside the caller's transaction. A reused idempotency key
// gives store.ErrDuplicateKey: roll back, then find the earlier invocation
// with store.FindByIdempotencyKey.
func (s *Service) StartTx(ctx context.Context, tx pgx.Tx, req store.NewInvocation) (store.Invocation, error) {
	req.Wake = req.Wake || s.wake(req.Notify)
	return s.store.InsertInvocation(ctx, tx, req)
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
