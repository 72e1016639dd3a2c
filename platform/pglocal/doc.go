// Package pglocal runs a private PostgreSQL cluster from the PostgreSQL server
// binaries installed on the machine. `powny dev` uses it for a zero-set-up local
// database, and the testcontainers package uses it for tests when no Docker
// engine answers.
//
// # Life cycle
//
// [Start] creates the cluster with initdb when [Config.DataDir] holds none yet
// (a later Start reuses it), then runs `postgres` as a child process (never
// daemonized through pg_ctl) listening on 127.0.0.1 only, with its unix socket
// inside the data directory. Start returns once the server accepts connections.
// [Server.Stop] asks for a fast shutdown (SIGINT) and waits for the process to
// exit; [Server.Restart] stops and starts the same cluster on the same port.
//
// The child gets SIGKILL when the thread that started it dies (Linux parent-death
// signal), so a test binary or `powny dev` that dies does not leave PostgreSQL
// running. It runs in its own process group, so a Ctrl-C at a terminal reaches
// the Go program, which then stops PostgreSQL in order.
//
// # Users
//
// PostgreSQL refuses to run as root. When the process runs as root, the cluster
// runs as [Config.RunAs] (default "postgres"): the data directory is chowned to
// that user, and Start checks up front that the user can traverse every parent
// of the data directory (a directory under /root usually is not).
//
// # Logs
//
// The server's output goes to postgres.log inside the data directory. When the
// server fails to start, the error carries the tail of that log.
//
// # Imports
//
// Only the standard library and pgx (to wait for readiness). Nothing of Powny.
package pglocal
