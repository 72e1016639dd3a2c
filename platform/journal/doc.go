// Package journal records every effect a run of an invocation performs, and
// replays them when the invocation resumes.
//
// A [Journal] implements [fnrun.Effects]: every call a function makes to the
// outside world (now, random, uuid, sleep, http, log) reaches [Journal.Do]
// with a sequence number, its position among the run's calls.
//
// # Resume is replay
//
// An invocation resumes by running its function from the start with the
// stored journal ([Config.Replay]). A call whose sequence number is in the
// stored journal performs nothing and returns the recorded result (decoded
// JSON, numbers as json.Number) or the recorded error (an ordinary error, so
// a try() in the function catches it as it did the first time). Past the end
// of the stored journal, calls are live again: performed and recorded.
//
// Each replayed call is checked against its entry: the same name and the same
// digest of its arguments ([Digest]). A mismatch fails the run with a
// [*fnrun.RunError] of Kind [KindNondeterminism] that names both calls and
// their lines. A run that returns before replaying every stored entry diverged
// too: [Journal.Finish] reports it.
//
// # Commits
//
//	call ──Do──> live entry (Pending) ──Checkpoint / durability "effect"──> Config.Commit ──> one checkpoint row
//
// [Journal.Checkpoint], which the checkpoint() builtin calls, hands the
// entries recorded since the last commit to [Config.Commit] as one batch;
// the caller stores it as one checkpoint row ([Encode]) in a transaction
// that first checks the fence. With durability "effect" every entry is
// committed before its call returns. The entries still pending when the run
// ends ([Journal.Pending]) are stored with the result. [DecodeAll] reads the
// rows back into the journal of the next resume.
//
// # Failures
//
// Fatal errors are [*fnrun.RunError]s and are sticky: once Do or Checkpoint
// returned one, every later call returns it. They are a replay mismatch
// (Kind [KindNondeterminism]), a limit (entries, total bytes, bytes of one
// entry: Kind fnrun.KindLimit, nothing recorded), a failed Commit, and a
// perform that failed with a RunError (not recorded). A perform that fails
// while the run's ctx ends (a cancelled sleep or request) is not recorded
// either: the resumed run performs it again.
//
// # Imports
//
// journal may import the Go standard library and platform/fnrun, nothing
// else: the store and the worker build on top of it.
package journal
