package fnrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/risor-io/risor/object"
	"github.com/risor-io/risor/vm"
)

// RunnerConfig configures a Runner. A zero or negative field takes its default.
type RunnerConfig struct {
	// HTTPClient serves http.*. Its Timeout bounds every request, also one
	// whose timeout option asks for more. Default: a client with a 30s
	// timeout that follows at most 10 redirects, to http and https URLs only.
	HTTPClient *http.Client
	// MaxHTTPBody is the largest response body http.* reads; a larger one
	// fails the run (kind "limit"). Default 10 MiB.
	MaxHTTPBody int64
	// MaxResult is the largest JSON result main may return; a larger one fails
	// the run (kind "limit"). Default 1 MiB.
	MaxResult int
	// MaxLogMessage is the length in bytes beyond which a log message is
	// truncated. Default 16 KiB.
	MaxLogMessage int
	// SuspendAfter is the longest sleep done in place when Effects is a
	// Checkpointer: a longer one checkpoints and suspends the run, which then
	// holds no worker until it is due. Default 1s.
	SuspendAfter time.Duration
}

func (c RunnerConfig) withDefaults() RunnerConfig {
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 30 * time.Second, CheckRedirect: checkRedirect}
	}
	if c.MaxHTTPBody <= 0 {
		c.MaxHTTPBody = 10 << 20
	}
	if c.MaxResult <= 0 {
		c.MaxResult = 1 << 20
	}
	if c.MaxLogMessage <= 0 {
		c.MaxLogMessage = 16 << 10
	}
	if c.SuspendAfter <= 0 {
		c.SuspendAfter = time.Second
	}
	return c
}

// Runner runs programs in the sandbox. It is safe for concurrent use.
type Runner struct {
	cfg RunnerConfig
	// globals are built once and shared by every run: per-run state travels
	// in the run's ctx (see runState).
	globals map[string]any
}

// NewRunner builds the sandbox's globals.
func NewRunner(cfg RunnerConfig) *Runner {
	r := &Runner{cfg: cfg.withDefaults()}
	r.globals = r.buildGlobals()
	return r
}

// RunOptions are one run's options.
type RunOptions struct {
	// Timeout is the wall clock allowed for the whole run; 0 means no limit
	// beyond ctx.
	Timeout time.Duration
	// Effects performs every call to the outside world. Required.
	Effects Effects
	// Logs receives the function's log lines (each written through Effects:
	// a log line is itself an effect). Nil drops them.
	Logs LogSink
	// KV serves kv.*. Nil: every kv call raises "kv is not available here"
	// (a replay still returns the recorded results).
	KV KV
	// KVNamespace is the namespace of kv.get and friends; kv.ns(name)
	// names another. The worker passes the function's name.
	KVNamespace string
	// Settings serves env() and secret(). Nil: they raise "settings are not
	// available here" (a replayed env() still returns its recorded value).
	Settings Settings
	// Secrets collects the secret values the run reads, and masks them out
	// of its logs, effects, result and errors. Pass one (NewSecrets) to mask
	// them also out of what you store, such as journal entries; nil: the run
	// uses its own.
	Secrets *Secrets
}

// Kinds of RunError.
const (
	KindRuntime  = "runtime"  // an error raised by the function or by Risor
	KindTimeout  = "timeout"  // RunOptions.Timeout was reached
	KindCanceled = "canceled" // the caller's ctx ended
	KindLimit    = "limit"    // a size or depth limit was exceeded
	KindInternal = "internal" // a bad call to Run, a bad effect result, or a Risor crash
	// KindSuspended is not a failure: the run checkpointed at a durable sleep
	// and stopped; RunError.Until says when to resume it.
	KindSuspended = "suspended"
)

// RunError is the error Runner.Run returns.
type RunError struct {
	Kind    string // one of the Kind constants
	Message string // for a timeout: "timed out after 30s"
	// Line and Column locate the call that failed, 1-based, when known: a
	// builtin that raised an error or an effect that failed. Errors raised by
	// the VM itself (a type error in an operator, an index out of range) carry
	// no position in Risor v1.8.1, and have 0.
	Line, Column int
	// Builtin is the builtin that failed, or else the last builtin called
	// before the error, such as "http.get"; "" if none was called.
	Builtin string
	// Until is when a suspended run resumes.
	Until time.Time
}

func (e *RunError) Error() string {
	if e.Line == 0 {
		return e.Message
	}
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Message)
}

// Run calls main(input), or main() if main takes no parameter. input is JSON:
// integers become Risor ints and other numbers floats, objects maps and arrays
// lists; empty input is nil. The result is main's return value as JSON. Every
// error is a *RunError.
//
// Secrets read with secret() are masked out of the result and the error.
func (r *Runner) Run(ctx context.Context, prog *Program, input []byte, opts RunOptions) ([]byte, error) {
	if opts.Secrets == nil {
		opts.Secrets = NewSecrets()
	}
	result, err := r.run(ctx, prog, input, opts)
	return opts.Secrets.scrubOutcome(result, err)
}

// run is Run before secrets are masked out of its outcome.
func (r *Runner) run(ctx context.Context, prog *Program, input []byte, opts RunOptions) ([]byte, error) {
	if prog == nil || opts.Effects == nil {
		return nil, &RunError{Kind: KindInternal, Message: "fnrun: Run needs a program and RunOptions.Effects"}
	}
	arg, err := inputObject(input)
	if err != nil {
		return nil, &RunError{Kind: KindInternal, Message: fmt.Sprintf("input is not valid JSON: %v", err)}
	}
	// Every run gets its own cancel: the VM watches ctx.Done() in a goroutine
	// that only ends when ctx does.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if opts.Timeout > 0 {
		var cancelTimeout context.CancelFunc
		ctx, cancelTimeout = context.WithTimeoutCause(ctx, opts.Timeout, errTimedOut)
		defer cancelTimeout()
	}
	st := &runState{
		effects: opts.Effects,
		logs:    opts.Logs,
		timeout: opts.Timeout,
		suspend: r.cfg.SuspendAfter,
		cancel:  cancel,
		sites:   prog.sites,

		kv:          opts.KV,
		kvNamespace: opts.KVNamespace,
		settings:    opts.Settings,
		secrets:     opts.Secrets,
	}
	ctx = context.WithValue(ctx, runStateKey{}, st)

	result, err := r.execute(ctx, st, prog, arg)
	switch {
	case st.fatal != nil:
		return nil, st.fatal
	case ctx.Err() != nil:
		// Also when main returned: a builtin may have swallowed the cancellation.
		return nil, st.interrupted(ctx)
	case err != nil:
		return nil, st.runtimeError(err)
	}
	data, err := json.Marshal(result)
	if err != nil {
		// Risor objects encode themselves, each nesting level wrapping the
		// error of the one inside: keep the innermost complaint.
		for {
			merr, ok := errors.AsType[*json.MarshalerError](err)
			if !ok {
				break
			}
			err = merr.Unwrap()
		}
		return nil, &RunError{
			Kind: KindRuntime, Builtin: st.last.name,
			Message: "main returned a value that cannot be encoded as JSON: " + err.Error(),
		}
	}
	if len(data) > r.cfg.MaxResult {
		return nil, &RunError{
			Kind: KindLimit, Builtin: st.last.name,
			Message: fmt.Sprintf("main's result is %d bytes of JSON, more than the limit of %d", len(data), r.cfg.MaxResult),
		}
	}
	return data, nil
}

// execute runs the program: its top level, then main (see withMainCall).
func (r *Runner) execute(ctx context.Context, st *runState, prog *Program, input object.Object) (result object.Object, err error) {
	// vm.Run recovers panics in the VM; this covers the rest.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	machine := vm.New(prog.code, vm.WithGlobals(r.globals), vm.WithGlobals(map[string]any{inputGlobal: input}))
	st.vm = machine
	if err := machine.Run(ctx); err != nil {
		return nil, err
	}
	result, ok := machine.TOS()
	if !ok {
		return object.Nil, nil
	}
	return result, nil
}
