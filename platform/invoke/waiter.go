package invoke

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/powny/powny/platform/store"
)

// Waiter tells callers when invocations finish. One connection LISTENs on
// store.DoneChannel for the whole process; each Wait registers interest in
// one id. While the listener is down (Postgres restarting, say), waiters fall
// back to polling, so a lost notification delays an answer but never loses it.
type Waiter struct {
	pool   *pgxpool.Pool
	store  *store.Store
	logger *slog.Logger
	// PollInterval is the fallback polling period. Default 1s.
	pollInterval time.Duration

	mu      sync.Mutex
	waiting map[int64]map[chan struct{}]struct{}
}

// NewWaiter returns a Waiter; call Run to start listening.
func NewWaiter(pool *pgxpool.Pool, st *store.Store, logger *slog.Logger) *Waiter {
	return &Waiter{
		pool:         pool,
		store:        st,
		logger:       logger,
		pollInterval: time.Second,
		waiting:      make(map[int64]map[chan struct{}]struct{}),
	}
}

// Run listens for finished invocations until ctx ends, reconnecting after
// errors.
func (w *Waiter) Run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := w.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		w.logger.WarnContext(ctx, "invocation listener lost its connection; waiters poll until it is back",
			slog.String("err", err.Error()), slog.Duration("retry_in", backoff))
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (w *Waiter) listen(ctx context.Context) error {
	pooled, err := w.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire listener connection: %w", err)
	}
	// A LISTENing connection must not go back to the pool.
	conn := pooled.Hijack()
	defer conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // closing a connection we are done with
	if _, err := conn.Exec(ctx, "LISTEN "+store.DoneChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// Anything that finished while we were not listening: wake every waiter
	// so each checks its invocation once.
	w.wakeAll()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("wait for notification: %w", err)
		}
		id, err := strconv.ParseInt(n.Payload, 10, 64)
		if err != nil {
			continue
		}
		w.wake(id)
	}
}

func (w *Waiter) wake(id int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.waiting[id] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (w *Waiter) wakeAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, chans := range w.waiting {
		for ch := range chans {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

// Wait returns the invocation once it has finished, or as it stands when ctx
// ends first (with a nil error: the caller asked for at most that long).
func (w *Waiter) Wait(ctx context.Context, id int64) (store.Invocation, error) {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	if w.waiting[id] == nil {
		w.waiting[id] = make(map[chan struct{}]struct{})
	}
	w.waiting[id][ch] = struct{}{}
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.waiting[id], ch)
		if len(w.waiting[id]) == 0 {
			delete(w.waiting, id)
		}
		w.mu.Unlock()
	}()

	poll := time.NewTicker(w.pollInterval)
	defer poll.Stop()
	// Registered first, read second: a finish between the two still wakes us.
	for {
		inv, err := w.store.GetInvocation(context.WithoutCancel(ctx), id)
		if err != nil || store.Finished(inv.State) {
			return inv, err
		}
		select {
		case <-ctx.Done():
			return inv, nil
		case <-ch:
		case <-poll.C:
		}
	}
}
