// Package zkpg kills a worker while PostgreSQL restarts, with ZooKeeper
// coordinating the processes: once the database is back, the worker's
// invocations must have been rescued, nothing left running. It is a package
// of its own because the restart ends every session on the server that its
// test binary shares (see crashtest/pgrestart).
//
// It has only tests; it may import crashtest, testcontainers and
// platform/testdb.
package zkpg
