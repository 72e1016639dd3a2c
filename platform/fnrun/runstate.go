package fnrun

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/risor-io/risor/object"
	"github.com/risor-io/risor/vm"
)

// errTimedOut is the cancel cause of a run that reached RunOptions.Timeout.
var errTimedOut = errors.New("run timed out")

// runState is one run's state. The globals are shared by all runs, so
// builtins find it in their ctx (Risor passes the run's ctx to every builtin,
// also inside callbacks such as list.map). A run executes on one goroutine:
// no locking.
type runState struct {
	effects Effects
	logs    LogSink
	timeout time.Duration
	suspend time.Duration // RunnerConfig.SuspendAfter
	cancel  context.CancelCauseFunc
	sites   callSites
	vm      *vm.VirtualMachine

	// kv, kvNamespace, settings and secrets: see RunOptions (kv.go,
	// settings.go, secrets.go).
	kv          KV
	kvNamespace string
	settings    Settings
	secrets     *Secrets

	// last is the last builtin called, failed the last one that raised an error.
	last   builtinCall
	failed builtinFailure
	// fatal, once set, fails the run: every later effect refuses, and Run
	// reports it even if main returned or try() swallowed it.
	fatal *RunError
}

type runStateKey struct{}

func stateFrom(ctx context.Context) *runState {
	st, _ := ctx.Value(runStateKey{}).(*runState)
	return st
}

// builtinCall is a builtin call: its name, and the VM's instruction pointer
// and running code during the call (see callSites). The code is looked up
// only when the call fails.
type builtinCall struct {
	name string
	ip   int
	code string
}

func (c builtinCall) position(sites callSites) (line, column int) {
	return sites.lookup(c.code, c.name, c.ip)
}

type builtinFailure struct {
	builtinCall
	err error
}

// tracked wraps every global builtin to remember which builtin runs, and
// where, so that errors can name it and its line.
func tracked(name string, fn object.BuiltinFunction) *object.Builtin {
	return object.NewBuiltin(name, func(ctx context.Context, args ...object.Object) object.Object {
		st := stateFrom(ctx)
		if st == nil || st.vm == nil {
			return fn(ctx, args...)
		}
		call := builtinCall{name: name, ip: st.vm.GetIP()}
		st.last = call
		result := fn(ctx, args...)
		if e, ok := result.(*object.Error); ok && e.IsRaised() {
			call.code = runningCodeID(st.vm)
			st.failed = builtinFailure{builtinCall: call, err: e.Value()}
		}
		return result
	})
}

// do performs one effect through Effects. It returns the effect's plain
// result, or the error the builtin must return.
func (st *runState) do(ctx context.Context, call Call, perform func(context.Context) (any, error)) (any, *object.Error) {
	if st.fatal != nil {
		return nil, object.NewError(st.fatal)
	}
	// Cancellation reaches the VM from another goroutine: builtins may still
	// be called for a moment after it.
	if ctx.Err() != nil {
		return nil, st.fail(st.interrupted(ctx))
	}
	if call.Line == 0 {
		call.Line, _ = st.position()
	}
	if st.secrets.Len() > 0 {
		// Masked, so that neither a journal digest nor a replayed result
		// depends on a secret (see secret()).
		call.Args = st.secrets.scrubPlain(call.Args)
	}
	result, err := st.effects.Do(ctx, call, perform)
	if ctx.Err() != nil {
		return nil, st.fail(st.interrupted(ctx))
	}
	if st.secrets.Len() > 0 {
		result = st.secrets.scrubPlain(result)
	}
	if err != nil {
		if rerr, ok := errors.AsType[*RunError](err); ok {
			copied := *rerr
			return nil, st.fail(&copied)
		}
		if st.secrets.Len() > 0 {
			err = errors.New(st.secrets.Scrub(err.Error()))
		}
		return nil, object.NewError(fmt.Errorf("%s: %w", st.last.name, err))
	}
	return result, nil
}

// position is the source position of the builtin call in progress.
func (st *runState) position() (line, column int) {
	call := st.last
	call.code = runningCodeID(st.vm)
	return call.position(st.sites)
}

// fail makes err the run's fatal error and stops the VM.
func (st *runState) fail(err *RunError) *object.Error {
	if err.Builtin == "" {
		err.Builtin = st.last.name
		err.Line, err.Column = st.position()
	}
	st.fatal = err
	st.cancel(err)
	return object.NewError(err)
}

// checkpointFailed fails the run when a checkpoint could not be stored: the
// function must not go on as if its effects were durable.
func (st *runState) checkpointFailed(err error) *object.Error {
	if rerr, ok := errors.AsType[*RunError](err); ok {
		copied := *rerr
		return st.fail(&copied)
	}
	return st.fail(&RunError{Kind: KindInternal, Message: "checkpoint: " + err.Error()})
}

// badResult fails the run when an effect result does not have the form its
// builtin expects: a journal returned something perform never does.
func (st *runState) badResult(result any) *object.Error {
	return st.fail(&RunError{
		Kind:    KindInternal,
		Message: fmt.Sprintf("%s: effect result has an unexpected form: %#v", st.last.name, result),
	})
}

// object converts an effect's plain result to a Risor value, failing the
// run when it has no Risor form.
func (st *runState) object(result any) object.Object {
	obj, err := toObject(result)
	if err != nil {
		return st.badResult(result)
	}
	return obj
}

// interrupted describes why ctx ended: the run's timeout, or the caller.
func (st *runState) interrupted(ctx context.Context) *RunError {
	cause := context.Cause(ctx)
	if errors.Is(cause, errTimedOut) {
		return &RunError{Kind: KindTimeout, Message: fmt.Sprintf("timed out after %s", st.timeout)}
	}
	msg := "canceled"
	if cause != nil && !errors.Is(cause, context.Canceled) {
		msg += ": " + cause.Error()
	}
	return &RunError{Kind: KindCanceled, Message: msg}
}

// stackOverflow is how Risor v1.8.1 fails when its fixed frame or value stack
// (1,024 entries) overflows: an index panic that vm.Run recovers.
var stackOverflow = regexp.MustCompile(`^panic: runtime error: index out of range \[\d+\] with length 1024$`)

// runtimeError describes an error raised in the function or by Risor.
func (st *runState) runtimeError(err error) *RunError {
	msg := err.Error()
	if stackOverflow.MatchString(msg) {
		return &RunError{
			Kind: KindLimit, Builtin: st.last.name,
			Message: "stack overflow: more than 1024 nested calls or values on the stack (deep recursion or a very large literal)",
		}
	}
	if strings.HasPrefix(msg, "panic: ") {
		return &RunError{Kind: KindInternal, Builtin: st.last.name, Message: "risor " + msg}
	}
	rerr := &RunError{Kind: KindRuntime, Message: msg, Builtin: st.last.name}
	// Some builtins re-create the errors of their callbacks (list.map does
	// Errorf(err.Error())): the same message counts as the same error.
	if f := st.failed; f.err != nil && (errors.Is(err, f.err) || msg == f.err.Error()) {
		rerr.Builtin = f.name
		rerr.Line, rerr.Column = f.position(st.sites)
	}
	return rerr
}
