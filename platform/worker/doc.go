// Package worker runs invocations: it is the River worker for invoke.Args.
//
// One attempt: mark the invocation running (recording which worker and River
// job run it), load the version it is pinned to (compiled once at deploy,
// cached here by version id), run main(input) in a fresh sandboxed VM under
// the function's timeout, then record the outcome in one statement that also
// notifies waiting callers (claims, checkpoints and ends of runs made at the
// same moment share statements: platform/groupcommit), so a result is durable and answered within
// milliseconds; River's batched completer finalizes the job later (a job
// fetched again finds its invocation finished and does nothing). A failure
// with attempts left returns the error to River, which schedules the retry;
// after the last attempt the function's config allows, the job is cancelled.
//
// This package may import platform/store, platform/fnrun, platform/invoke,
// platform/journal, platform/coord, platform/groupcommit, platform/match,
// River, pgx and the standard library.
package worker
