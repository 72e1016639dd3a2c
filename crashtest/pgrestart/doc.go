// Package pgrestart restarts PostgreSQL under running invocations. It is a
// package of its own because the restart ends every session on the server
// that its test binary shares: no other test may run on it meanwhile.
//
// It has only tests; it may import crashtest, testcontainers and
// platform/testdb.
package pgrestart
