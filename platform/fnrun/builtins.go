package fnrun

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/risor-io/risor/arg"
	"github.com/risor-io/risor/object"
)

// Effect builtins. Each goes through runState.do and builds its value only
// from the effect's result, so that a replayed result gives the same value.

// now() returns the current time in UTC. The effect's result is an RFC 3339
// string with nanoseconds.
func now(ctx context.Context, st *runState, args []object.Object) object.Object {
	if err := arg.Require("now", 0, args); err != nil {
		return err
	}
	result, errObj := st.do(ctx, Call{Name: "now"}, func(context.Context) (any, error) {
		return time.Now().UTC().Format(time.RFC3339Nano), nil
	})
	if errObj != nil {
		return errObj
	}
	s, _ := result.(string)
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return st.badResult(result)
	}
	return object.NewTime(t.UTC())
}

// random() returns a float in [0, 1); random(n) an int in [0, n).
func random(ctx context.Context, st *runState, args []object.Object) object.Object {
	if err := arg.RequireRange("random", 0, 1, args); err != nil {
		return err
	}
	if len(args) == 0 {
		result, errObj := st.do(ctx, Call{Name: "random"}, func(context.Context) (any, error) {
			return rand.Float64(), nil
		})
		if errObj != nil {
			return errObj
		}
		f, ok := plainFloat(result)
		if !ok {
			return st.badResult(result)
		}
		return object.NewFloat(f)
	}
	n, errObj := object.AsInt(args[0])
	if errObj != nil {
		return errObj
	}
	if n <= 0 {
		return object.Errorf("value error: random(n) needs n > 0 (got %d)", n)
	}
	result, errObj := st.do(ctx, Call{Name: "random", Args: []any{n}}, func(context.Context) (any, error) {
		return rand.Int64N(n), nil
	})
	if errObj != nil {
		return errObj
	}
	i, ok := plainInt(result)
	if !ok {
		return st.badResult(result)
	}
	return object.NewInt(i)
}

// uuid() returns a random (version 4) UUID string.
func newUUID(ctx context.Context, st *runState, args []object.Object) object.Object {
	if err := arg.Require("uuid", 0, args); err != nil {
		return err
	}
	result, errObj := st.do(ctx, Call{Name: "uuid"}, func(context.Context) (any, error) {
		return uuid.NewString(), nil
	})
	if errObj != nil {
		return errObj
	}
	s, ok := result.(string)
	if !ok {
		return st.badResult(result)
	}
	return object.NewString(s)
}

// sleep(d) waits for d, a duration string ("2s") or a number of seconds. The
// effect's result is the time it ends (RFC 3339, UTC), so that a resumed run
// waits only for what is left. With a journal (Effects is a Checkpointer), a
// wait longer than RunnerConfig.SuspendAfter checkpoints and suspends the run
// (a *RunError of kind KindSuspended): it holds no worker while it sleeps. A
// timeout or cancellation interrupts a wait in place and ends the run.
func sleep(ctx context.Context, st *runState, args []object.Object) object.Object {
	if err := arg.Require("sleep", 1, args); err != nil {
		return err
	}
	d, errObj := durationArg("sleep", args[0])
	if errObj != nil {
		return errObj
	}
	result, errObj := st.do(ctx, Call{Name: "sleep", Args: []any{d.String()}}, func(context.Context) (any, error) {
		return time.Now().Add(d).UTC().Format(time.RFC3339Nano), nil
	})
	if errObj != nil {
		return errObj
	}
	s, _ := result.(string)
	until, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return st.badResult(result)
	}
	left := time.Until(until)
	if left <= 0 {
		return object.Nil
	}
	if cp, ok := st.effects.(Checkpointer); ok && left > st.suspend {
		line, _ := st.position()
		if err := cp.Checkpoint(ctx, line); err != nil {
			return st.checkpointFailed(err)
		}
		return st.fail(&RunError{Kind: KindSuspended, Until: until, Message: "sleeping until " + until.Format(time.RFC3339)})
	}
	timer := time.NewTimer(left)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return st.fail(st.interrupted(ctx))
	case <-timer.C:
		return object.Nil
	}
}

// checkpoint() makes the effects performed so far durable: a run that
// resumes after a crash replays them from the journal and never performs
// them again. Without a journal it does nothing.
func checkpoint(ctx context.Context, st *runState, args []object.Object) object.Object {
	if err := arg.Require("checkpoint", 0, args); err != nil {
		return err
	}
	if st.fatal != nil {
		return object.NewError(st.fatal)
	}
	cp, ok := st.effects.(Checkpointer)
	if !ok {
		return object.Nil
	}
	line, _ := st.position()
	if err := cp.Checkpoint(ctx, line); err != nil {
		return st.checkpointFailed(err)
	}
	return object.Nil
}

// durationArg reads a duration given as a string ("1m30s") or a number of
// seconds, between 0 and 24h.
func durationArg(name string, obj object.Object) (time.Duration, *object.Error) {
	var d time.Duration
	switch v := obj.(type) {
	case *object.String:
		parsed, err := time.ParseDuration(v.Value())
		if err != nil {
			return 0, object.Errorf("value error: %s: invalid duration %q (use a number with a unit: \"500ms\", \"30s\", \"2m\")", name, v.Value())
		}
		d = parsed
	case *object.Int:
		if v.Value() < 0 || v.Value() > int64(maxTimeout/time.Second) {
			return 0, object.Errorf("value error: %s: duration must be between 0 and 24h (got %d seconds)", name, v.Value())
		}
		d = time.Duration(v.Value()) * time.Second
	case *object.Float:
		if v.Value() < 0 || v.Value() > maxTimeout.Seconds() {
			return 0, object.Errorf("value error: %s: duration must be between 0 and 24h (got %v seconds)", name, v.Value())
		}
		d = time.Duration(v.Value() * float64(time.Second))
	default:
		return 0, object.TypeErrorf("type error: %s: expected a duration string or a number of seconds (%s given)", name, obj.Type())
	}
	if d < 0 || d > maxTimeout {
		return 0, object.Errorf("value error: %s: duration must be between 0 and 24h (got %s)", name, d)
	}
	return d, nil
}

// logModule is log.info, log.warn and log.error: values joined with spaces,
// written to RunOptions.Logs through Effects (Call "log.info", Args [message]).
func (r *Runner) logModule() *object.Module {
	fns := map[string]object.Object{}
	for _, level := range []string{"info", "warn", "error"} {
		fns[level] = object.NewBuiltin(level, withState(r.logFunc(level)))
	}
	return object.NewBuiltinsModule("log", fns)
}

func (r *Runner) logFunc(level string) stateFunc {
	return func(ctx context.Context, st *runState, args []object.Object) object.Object {
		// Secrets are masked before the line is journaled or stored.
		msg := truncate(st.secrets.Scrub(logMessage(args)), r.cfg.MaxLogMessage)
		_, errObj := st.do(ctx, Call{Name: "log." + level, Args: []any{msg}}, func(ctx context.Context) (any, error) {
			if st.logs == nil {
				return nil, nil
			}
			return nil, st.logs.Log(ctx, level, msg)
		})
		if errObj != nil {
			return errObj
		}
		return object.Nil
	}
}
