package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/powny/powny/platform/fnrun"
)

// errLeaseLost cancels the runs of a worker that went without a heartbeat
// for longer than the rescue delay: the collector may have handed its
// invocations to another worker by now.
var errLeaseLost = errors.New("this worker missed its heartbeats for longer than the rescue delay")

// lease is this worker's right to perform effects: it holds while heartbeats
// succeed. Fencing makes a stale run's writes fail, but not its effects (an
// HTTP call, say); so a run performs an effect only while the last
// successful heartbeat is recent, and a worker that comes back from a pause
// (GC, SIGSTOP, a partition) cancels its runs before anything else. Times are
// monotonic: a pause counts.
type lease struct {
	rescueAfter time.Duration

	mu       sync.Mutex
	lastBeat time.Time
	revoked  error // set while the worker's coordinator session is lost
	runs     map[*runHandle]struct{}
	// fresh, when set, fails when the coordinator has not confirmed the
	// worker's session recently (see FollowRegistration).
	fresh func() error
}

// errSessionLost cancels the runs of a worker whose coordinator (ZooKeeper)
// session was lost: it was gone for the others, and the collector may have
// handed its invocations to another worker.
var errSessionLost = errors.New("this worker lost its ZooKeeper session")

// revoke cancels every run with cause and refuses effects until restore.
func (l *lease) revoke(cause error) (cancelled int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.revoked = cause
	for h := range l.runs {
		h.cancel(cause)
	}
	return len(l.runs)
}

// isRevoked reports whether effects are refused for a lost session.
func (l *lease) isRevoked() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.revoked != nil
}

// restore ends a revocation.
func (l *lease) restore() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.revoked = nil
}

type runHandle struct{ cancel context.CancelCauseFunc }

func newLease(rescueAfter time.Duration) *lease {
	return &lease{rescueAfter: rescueAfter, lastBeat: time.Now(), runs: make(map[*runHandle]struct{})}
}

// track registers a run; the returned func forgets it.
func (l *lease) track(cancel context.CancelCauseFunc) func() {
	h := &runHandle{cancel: cancel}
	l.mu.Lock()
	l.runs[h] = struct{}{}
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		delete(l.runs, h)
		l.mu.Unlock()
	}
}

// beforeBeat is called before each heartbeat: after a gap longer than the
// rescue delay, every run is cancelled first, so none performs an effect
// on the strength of the beat about to be written.
func (l *lease) beforeBeat() (cancelled int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.lastBeat) <= l.rescueAfter {
		return 0
	}
	for h := range l.runs {
		h.cancel(errLeaseLost)
	}
	return len(l.runs)
}

// beat records a successful heartbeat that started at start.
func (l *lease) beat(start time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if start.After(l.lastBeat) {
		l.lastBeat = start
	}
}

// check refuses an effect when the last successful heartbeat is more than
// half the rescue delay old: the run stops (kind interrupted) and resumes
// from its last checkpoint, here or elsewhere.
func (l *lease) check() error {
	l.mu.Lock()
	age, revoked, fresh := time.Since(l.lastBeat), l.revoked, l.fresh
	l.mu.Unlock()
	if revoked != nil {
		return &fnrun.RunError{Kind: "interrupted", Message: revoked.Error()}
	}
	if fresh != nil {
		if err := fresh(); err != nil {
			return &fnrun.RunError{Kind: "interrupted", Message: err.Error()}
		}
	}
	if age <= l.rescueAfter/2 {
		return nil
	}
	return &fnrun.RunError{Kind: "interrupted", Message: fmt.Sprintf(
		"no heartbeat for %s (rescue after %s): this worker stops its runs rather than risk effects another worker may repeat",
		age.Round(time.Millisecond), l.rescueAfter)}
}

// leased lets effects through inner only while the lease holds.
type leased struct {
	fnrun.Effects
	lease *lease
}

// Do implements fnrun.Effects: the lease is checked just before an effect
// is performed for real (a replayed call performs nothing).
func (e leased) Do(ctx context.Context, call fnrun.Call, perform func(context.Context) (any, error)) (any, error) {
	return e.Effects.Do(ctx, call, func(ctx context.Context) (any, error) {
		if err := e.lease.check(); err != nil {
			return nil, err
		}
		return perform(ctx)
	})
}

// Checkpoint implements fnrun.Checkpointer when inner does.
func (e leased) Checkpoint(ctx context.Context, line int) error {
	cp, ok := e.Effects.(fnrun.Checkpointer)
	if !ok {
		return nil
	}
	return cp.Checkpoint(ctx, line)
}
