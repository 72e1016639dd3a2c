// Package collector keeps invocations moving and the database tidy:
//
//   - it takes back the invocations of workers that stopped heartbeating
//     (store.RescueLost): each moves to a fresh River job, and another worker
//     resumes it from its last checkpoint;
//   - it wakes sleeping invocations when they are due (store.WakeDue);
//   - it deletes invocations (with their attempts, checkpoints and logs) once
//     they are older than the retention period.
//
// Every statement skips rows another collector holds, so running a collector
// on every node is safe. (Leader election comes with ZooKeeper membership.)
//
// This package may import platform/store and the standard library.
package collector
