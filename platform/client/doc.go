// Package client is a Go client for Powny's HTTP API (docs/api.md): deploy
// functions, list and roll back their versions, invoke them, and follow
// invocations and their logs.
//
// # Errors
//
// An answer that is not 2xx becomes a *ProblemError decoded from the RFC 9457
// problem document the API sends (or built from the raw body when the answer is
// not problem+json). Match it with errors.As, or with errors.Is against
// ErrBadRequest, ErrUnauthorized, ErrNotFound, ErrConflict, ErrTooLarge and
// ErrUnavailable, which compare the HTTP status.
//
// # Timeouts
//
// A Client built with a nil *http.Client bounds every request by
// DefaultTimeout plus the wait asked of Invoke. A caller's own *http.Client is
// used as given: bound its requests with its Timeout or with the context.
//
// This package imports only the standard library.
package client
