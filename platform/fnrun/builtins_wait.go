package fnrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/risor-io/risor/arg"
	"github.com/risor-io/risor/object"

	"github.com/powny/powny/platform/match"
)

// EventWaiter is implemented by Effects that can suspend a run until an
// event arrives (the worker's). wait_event() calls WaitEvent as its effect's
// perform: only when the journal has no result for the call.
type EventWaiter interface {
	// WaitEvent says where the wait_event() call being performed stands:
	// decided, with the event's body (nil when it timed out), or still
	// waiting until its deadline. A first call registers nothing yet: the
	// run suspends, and whoever records the suspension registers the wait
	// with it.
	WaitEvent(ctx context.Context, filter *match.Filter, timeout time.Duration) (WaitOutcome, error)
}

// WaitOutcome is where a wait_event() call stands.
type WaitOutcome struct {
	Decided  bool
	Event    any       // the event delivered (plain data), nil at the timeout
	Deadline time.Time // when the wait times out, if not decided
}

// errNoWaiter fails wait_event() in a run without EventWaiter.
var errNoWaiter = errors.New("wait_event needs a durable run (a worker's); here nothing can deliver an event")

// waitEvent is wait_event(filter, timeout): it returns the first event that
// matches filter (a map, like a filter of config.on) and arrives after the
// wait began, or nil if none has arrived within timeout (a duration string
// or a number of seconds, at most 24h). The run checkpoints and suspends
// meanwhile: it holds no worker while it waits.
func waitEvent(ctx context.Context, st *runState, args []object.Object) object.Object {
	if err := arg.Require("wait_event", 2, args); err != nil {
		return err
	}
	m, ok := args[0].(*object.Map)
	if !ok {
		return object.TypeErrorf("type error: wait_event: filter must be a map (%s given)", args[0].Type())
	}
	source, err := plainMap(m)
	if err != nil {
		return object.Errorf("value error: wait_event: filter: %v", err)
	}
	filter, err := match.Compile(source)
	if fe, ok := errors.AsType[*match.FilterError](err); ok {
		return object.Errorf("value error: wait_event: %s", filterError("filter", fe))
	}
	if err != nil {
		return object.Errorf("value error: wait_event: filter: %v", err)
	}
	timeout, errObj := durationArg("wait_event", args[1])
	if errObj != nil {
		return errObj
	}
	result, errObj := st.do(ctx, Call{Name: "wait_event", Args: []any{source, timeout.String()}}, func(ctx context.Context) (any, error) {
		w, ok := st.effects.(EventWaiter)
		if !ok {
			return nil, errNoWaiter
		}
		out, err := w.WaitEvent(ctx, filter, timeout)
		if err != nil {
			return nil, err
		}
		if !out.Decided {
			// A *RunError: the journal records nothing, and the run stops.
			return nil, &RunError{Kind: KindSuspended, Until: out.Deadline, Message: fmt.Sprintf(
				"waiting for an event until %s", out.Deadline.UTC().Format(time.RFC3339))}
		}
		return out.Event, nil
	})
	if errObj != nil {
		return errObj
	}
	return st.object(result)
}

// plainMap converts a Risor map to plain data, as JSON would.
func plainMap(m *object.Map) (map[string]any, error) {
	data, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	value, err := decodeJSON(data)
	if err != nil {
		return nil, err
	}
	plain, _ := value.(map[string]any)
	return plain, nil
}
