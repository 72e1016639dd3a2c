package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/powny/powny/platform/fnrun"
	"github.com/powny/powny/platform/journal"
	"github.com/powny/powny/platform/match"
	"github.com/powny/powny/platform/store"
)

// runEffects are the effects of one run: the journal behind the lease, and
// wait_event(), which reads and ends the run's waits in Postgres.
type runEffects struct {
	leased
	journal    *journal.Journal
	store      *store.Store
	invocation int64
	retryFor   time.Duration
	// wait is the wait_event() call the run suspends at, registered with
	// the record of the suspension (see store.AttemptEnd.Wait).
	wait *store.NewWait
}

var _ fnrun.EventWaiter = (*runEffects)(nil)

// WaitEvent implements fnrun.EventWaiter. The call's effect seq names its
// wait: a resumed run that reaches the same call finds the same wait.
func (e *runEffects) WaitEvent(ctx context.Context, filter *match.Filter, timeout time.Duration) (fnrun.WaitOutcome, error) {
	seq := e.journal.Len()
	var w store.WaitState
	err := retryTransient(ctx, e.retryFor, func(ctx context.Context) (err error) {
		w, err = e.store.GetWait(ctx, e.invocation, seq)
		if err == nil && w.State == "waiting" && !time.Now().Before(w.Deadline) {
			// Due: the timeout ends the wait, unless an event did first.
			w, err = e.store.TimeoutWait(ctx, e.invocation, seq, time.Now())
		}
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		w = store.WaitState{State: "waiting", Deadline: time.Now().Add(timeout)}
	case err != nil:
		// Resume from the last checkpoint later, without counting a failure.
		return fnrun.WaitOutcome{}, &fnrun.RunError{Kind: "interrupted", Message: "wait_event: " + err.Error()}
	}
	switch w.State {
	case "delivered":
		event, err := decodeEvent(w.Event)
		if err != nil {
			return fnrun.WaitOutcome{}, &fnrun.RunError{Kind: fnrun.KindInternal, Message: fmt.Sprintf("wait_event: the event delivered: %v", err)}
		}
		return fnrun.WaitOutcome{Decided: true, Event: event}, nil
	case "timeout":
		return fnrun.WaitOutcome{Decided: true}, nil
	}
	source, err := json.Marshal(filter.Source())
	if err != nil {
		return fnrun.WaitOutcome{}, err
	}
	// Registered already when a resumed run suspends again: the statement
	// keeps the first registration.
	e.wait = &store.NewWait{Seq: seq, Filter: source, Anchors: filter.Anchors()}
	return fnrun.WaitOutcome{Deadline: w.Deadline}, nil
}

// decodeEvent decodes an event's body to plain data, numbers as json.Number.
func decodeEvent(body json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var event any
	err := dec.Decode(&event)
	return event, err
}
