// Package api is Powny's HTTP API (v1): deploying functions, invoking them,
// and reading what ran. docs/api.md is its reference.
//
// Handlers decode and validate input, call platform/store, platform/invoke
// and platform/fnrun, and answer JSON; they hold no SQL. Every error is an
// RFC 9457 problem (application/problem+json) with a stable type and, where
// known, the field, line, column or limit at fault. Every route but /healthz
// needs the bearer token.
//
// This package may import platform/store, platform/invoke, platform/fnrun,
// platform/journal, platform/coord, platform/events and the standard library.
package api
