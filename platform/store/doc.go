// Package store is the only place that speaks SQL to Powny's tables: functions
// and their immutable versions, invocations and their attempts, and logs.
//
// Methods that must commit together with a River job (starting or finishing an
// invocation) take a pgx.Tx; the caller owns the transaction. pgx.ErrNoRows
// becomes ErrNotFound here, and unique violations become ErrConflict, so no
// caller needs to know pgx's error types.
//
// This package may import pgx and the standard library; no other Powny package.
package store
