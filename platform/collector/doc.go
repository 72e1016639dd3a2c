// Package collector keeps the database tidy: it deletes invocations (with
// their attempts, checkpoints and logs) once they are older than the
// retention period.
//
// Deletes skip rows another collector holds, so running a collector on
// every node is safe. (Leader election, and rescuing the jobs of dead
// workers, come with ZooKeeper membership.)
//
// This package may import platform/store and the standard library.
package collector
