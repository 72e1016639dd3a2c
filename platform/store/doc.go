// Package store is the only place that speaks SQL to Powny's tables: functions
// and their immutable versions, invocations and their attempts, and logs.
//
// Methods that must commit together with a River job (starting or finishing an
// invocation) take a pgx.Tx; the caller owns the transaction. pgx.ErrNoRows
// becomes ErrNotFound here, and unique violations become ErrConflict, so no
// caller needs to know pgx's error types.
//
// Schedules (schedules.go): every deploy and rollback makes the function's
// row of powny.schedules follow the activated version's config.schedule,
// and FireSchedules, called by the collector leader, starts each due tick
// once (its idempotency key is the tick).
//
// This package may import pgx, platform/schedule (to compute the ticks of
// schedules) and the standard library; no other Powny package.
package store
