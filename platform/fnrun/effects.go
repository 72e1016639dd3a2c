package fnrun

import "context"

// Call describes one call to the outside world.
type Call struct {
	// Name is the effect: "now", "random", "uuid", "sleep", "http.request",
	// "log.info", "log.warn", "log.error".
	Name string
	// Args are the call's arguments as JSON-serialisable plain data (nil, bool,
	// int64, float64, string, []any, map[string]any): a journal keeps a digest
	// of them to check that a replay makes the same call.
	Args any
	// Line is the source line of the call, 0 when unknown.
	Line int
}

// Checkpointer is implemented by Effects that keep a journal. checkpoint()
// calls Checkpoint (line is its source line) to make the effects performed so
// far durable; a sleep longer than RunnerConfig.SuspendAfter checkpoints and
// ends the run with a *RunError of kind KindSuspended, to resume later. With
// Effects that are not Checkpointers, checkpoint() does nothing and sleep
// waits in place.
type Checkpointer interface {
	// Checkpoint makes the effects performed so far durable.
	Checkpoint(ctx context.Context, line int) error
}

// Effects performs, or replays, the calls a function makes to the outside
// world. Every effectful builtin goes through Do, and builds its Risor value
// only from what Do returns, so that a recorded result replays to the same
// value.
//
// perform does the call for real and returns JSON-serialisable plain data
// (nil, bool, int64, float64, string, []any, map[string]any). A replaying Do
// may return that data after a JSON round trip instead (numbers as float64 or
// json.Number): builtins accept both.
//
// If Do returns a *RunError, the run fails with it (a fatal error no try() can
// catch). Any other error becomes an ordinary error raised in the function.
type Effects interface {
	// Do performs call, by calling perform or by replaying a recorded result.
	Do(ctx context.Context, call Call, perform func(ctx context.Context) (any, error)) (any, error)
}

// Live performs every call directly, with no journal.
type Live struct{}

// Do calls perform.
func (Live) Do(ctx context.Context, _ Call, perform func(ctx context.Context) (any, error)) (any, error) {
	return perform(ctx)
}

// LogSink receives the lines a function logs with log.info, log.warn and
// log.error. Level is "info", "warn" or "error".
type LogSink interface {
	// Log stores one line logged at level.
	Log(ctx context.Context, level, message string) error
}
