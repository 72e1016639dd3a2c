// Package invoke starts invocations and waits for them to finish.
//
// Starting an invocation stores its audit row and the River job that runs it
// in one statement (store.InsertInvocations), so an accepted invocation is
// never lost and never has a job without a row (or a row without a job).
// Concurrent starts share statements (platform/groupcommit); a start with
// an idempotency key runs alone, in a transaction. Finishing is the worker's
// business; it sends the invocation's id on store.DoneChannel, which the Waiter
// here listens on to answer callers that asked to wait.
//
// The River client settings live here too (NewRiverClient), so that every
// process agrees on them.
//
// This package may import platform/store, platform/groupcommit, River, pgx
// and the standard library.
package invoke
