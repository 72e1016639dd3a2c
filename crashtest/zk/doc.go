// Package zk holds the failure tests of Powny's ZooKeeper coordination: the
// real binary runs as separate processes (api, workers, collectors) with
// POWNY_ZOOKEEPER set, and the tests kill and pause them and stop the
// ZooKeeper servers under them.
//
//   - TestKillWorkerResumesWithinSessionTimeout: 20 SIGKILLs of the worker
//     running a checkpointing invocation; each resumes on another worker
//     within the session timeout plus a second (p50 and max reported), with
//     no committed effect performed again. Postgres heartbeats cannot be what
//     rescues it: POWNY_RESCUE_AFTER is a minute.
//   - TestCollectorLeaderFailover: the leading collector is SIGKILLed, the
//     other leads within the session timeout (plus a second); then the
//     leader is paused (SIGSTOP) past its session, the standby leads and
//     rescues, and the paused one, resumed, acts on nothing.
//   - TestEnsemble: a three-server ensemble loses its leader (nothing
//     notices), then a second (no quorum: no new leader, no rescue), then
//     gets both back; Powny converges without a restart.
//   - TestZooKeeperDownUnderLoad: the only ZooKeeper server is down for 10 s
//     under a stream of invocations; every one completes, none performs a
//     committed effect again.
//   - TestScheduleLeaderFailover: two `powny server` processes and a
//     function scheduled every second; only the leader fires, each tick
//     once; the leader is SIGKILLed, the other takes over, fires the latest
//     missed tick once (coalescing) and goes on; no tick runs twice.
//   - TestSessionExpiryCancelsRuns: a worker paused past its session
//     timeout, once resumed, cancels its runs, writes and performs nothing
//     stale, and registers again.
//
// crashtest/zkpg restarts PostgreSQL (a package of its own, as
// crashtest/pgrestart).
//
// It has only tests; it may import crashtest, testcontainers and
// platform/testdb.
package zk
