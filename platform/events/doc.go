// Package events accepts events: it matches each one against the trigger
// filters of every deployed function (config.on), and against the filters of
// the invocations waiting in wait_event(), and hands the store one
// transaction that stores the events, starts the matching functions and
// delivers the events to the waits they end (store.AcceptEvents).
//
// The trigger filters are kept in memory as a match.Index, so that matching
// costs a few lookups per event rather than one evaluation per function.
// Each accept first reads the trigger revision, which every deploy and
// rollback bumps in its transaction, and reloads the index when it moved: an
// event accepted after a deploy returned is matched against it, whichever
// API process takes it.
//
// This package may import platform/store, platform/match, pgx and the
// standard library.
package events
