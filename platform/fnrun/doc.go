// Package fnrun compiles Powny functions written in Risor and runs them in a
// sandbox.
//
// # Compiling
//
// [Compile] parses one function source, compiles it against the sandbox's
// allow-list of globals (a name outside it is a compile error with its line and
// column), reads the top-level `config := {...}` map from the syntax tree (only
// literals are accepted, nothing runs) and checks that a top-level
// `func main(input)` exists. Every problem is a [*SourceError].
//
// [Compiled.Code] is the bytecode to store with a function version. Workers
// [Load] those bytes and never recompile: Risor compiles map literals in a
// different order on each compile, so only the stored bytes replay identically.
//
// # Running
//
// A [Runner] holds the sandbox globals, built once. [Runner.Run] calls
// `main(input)` with JSON input and returns its result as JSON. Every call the
// function makes to the outside world (time, random numbers, ids, sleep, HTTP,
// logs, kv, env) goes through [Effects.Do], which is where a journal records results and
// replays them; builtins build their return values only from what Do returns.
// Errors from Run are [*RunError]s with a Kind.
//
// # State and settings
//
// kv.* reads and writes [RunOptions.KV] (kv.go); env() and secret() read
// [RunOptions.Settings] (settings.go). secret() alone is no effect: a journal
// must never hold a secret, so it reads live, and [Secrets] (secrets.go)
// masks the values read out of everything that leaves the run.
//
// # Waiting for events
//
// wait_event(filter, timeout) (builtins_wait.go) is an effect like the
// others: replayed from the journal when its entry is there. Performed live,
// it asks the run's Effects, an [EventWaiter], where the wait stands; if no
// event has ended it yet, the run stops with a *RunError of kind
// KindSuspended (which the journal does not record) until the deadline, and
// the worker registers the wait as it records the suspension.
//
// # Runtime error positions
//
// Risor v1.8.1 keeps no source positions in bytecode and its runtime errors
// carry none. Compile therefore stores a call-site table with the code (see
// callSites): when a builtin raises an error or an effect fails, the VM's
// instruction pointer and running function locate the call, and the
// RunError gets its line and column. Errors raised by the VM itself (an
// operator's type error, a missing attribute) have no position; RunError.Builtin
// then names the last builtin called.
//
// # Sandbox
//
// The globals are an allow-list: Risor's pure builtins and modules, plus now,
// random, uuid, sleep, log, http, checkpoint, wait_event, kv, env and secret
// (see globals.go for what was dropped and why). There is no importer, no concurrency, no OS, file or network access
// except through http. Risor v1.8.1 has no instruction or memory limits: the
// run's wall-clock timeout (context cancellation halts the VM) is the brake.
//
// # Imports
//
// fnrun may import the Go standard library, github.com/risor-io/risor,
// github.com/google/uuid, platform/schedule (to validate config.schedule) and
// platform/match (to validate config.on and wait_event filters).
// It must not import any other Powny package: the journal, the store and the
// worker build on top of it.
package fnrun
