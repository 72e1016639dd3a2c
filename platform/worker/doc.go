// Package worker runs invocations: it is the River worker for invoke.Args.
//
// One attempt: mark the invocation running (recording which worker and River
// job run it), load the version it is pinned to (compiled once at deploy,
// cached here by version id), run main(input) in a fresh sandboxed VM under
// the function's timeout, then record the outcome. A success completes the
// River job in the same transaction as the result (river.JobCompleteTx), so
// the result is durable and the caller is notified within milliseconds rather
// than after River's batched completer. A failure with attempts left returns
// the error to River, which schedules the retry.
//
// This package may import platform/store, platform/fnrun, platform/invoke,
// River, pgx and the standard library.
package worker
