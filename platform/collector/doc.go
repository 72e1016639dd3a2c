// Package collector keeps invocations moving and the database tidy:
//
//   - it takes back the invocations of workers that stopped heartbeating
//     (store.RescueLost): each moves to a fresh River job, and another worker
//     resumes it from its last checkpoint;
//   - it wakes sleeping invocations when they are due (store.WakeDue);
//   - it starts the functions whose config.schedule is due
//     (store.FireSchedules): once per tick for the whole cluster, fenced by
//     the leader's term with ZooKeeper; after a gap with no leader, the
//     missed ticks are coalesced into one run, for the latest;
//   - it deletes invocations (with their attempts, checkpoints and logs) once
//     they are older than the retention period.
//
// Only the leader of the collectors acts (platform/coord's election). With
// ZooKeeper, it rescues the jobs of a worker the moment its member node
// disappears, and a periodic sweep catches any whose worker is not a live
// member; each new leader takes the next term in Postgres and its rescues
// check it, so two leaders never act at once. Without ZooKeeper, workers
// heartbeat in Postgres, and every collector process acts (its statements skip
// the rows another holds).
//
// This package may import platform/store, platform/coord and the standard
// library.
package collector
