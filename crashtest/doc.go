// Package crashtest holds Powny's failure tests: the real binary runs as
// separate OS processes (api, workers, collector) against a real PostgreSQL,
// and the tests kill, pause and restart them (and, in crashtest/pgrestart,
// the database server) while durable functions run.
//
// # The tests
//
//   - TestCrashResume: 50 SIGKILLs of workers that run invocations (and of
//     the collector now and then) under a stream of invocations; every
//     invocation succeeds exactly once with a whole journal, and an effect
//     recorded by a committed checkpoint is never performed again. It
//     reports the time from a kill to the next attempt.
//   - TestFencing: the worker running an invocation is paused (SIGSTOP) in
//     an effect or in a sleep, the invocation is rescued onto another
//     worker, then the paused worker resumes (SIGCONT): its stale run writes
//     nothing, the journal stays contiguous.
//   - TestDurableSleepSurvivesFullRestart: every process is stopped while
//     an invocation sleeps durably; new ones wake it on time.
//   - TestRestartSameWorkerID: a worker restarted at once under the same id
//     does not strand what its dead predecessor was running.
//   - TestScheduleOncePerCluster: two `powny server` processes without
//     ZooKeeper (both collectors act) and a function scheduled every second:
//     each tick runs once, none is missing, before and after one server is
//     SIGKILLed.
//   - crashtest/pgrestart: PostgreSQL restarts under 200 running
//     invocations (a package of its own: the restart ends every session on
//     the server its test binary shares).
//   - crashtest/zk: the processes coordinate through ZooKeeper; workers,
//     collector leaders and ZooKeeper servers are killed, paused and
//     stopped. crashtest/zkpg: a worker dies while PostgreSQL restarts.
//
// Every process runs with POWNY_RESCUE_AFTER=1s (unless [Cluster.Env] says
// otherwise, as it does with POWNY_ZOOKEEPER in crashtest/zk) and logs at
// debug level to a file; a failed test prints the end of each log and keeps
// the folder (POWNY_CRASHTEST_KEEP_LOGS=1 keeps it for passing tests too).
//
// # The harness
//
// The non-test files are the harness that the test packages share:
// [Cluster] starts and signals the processes ([Cluster.StartServer] runs
// every role in one; [Process.LogLines] reads their logs), [API] calls the HTTP API (GET /v1/system included), [Sink] is
// the HTTP endpoint the test functions post their effects to (it records
// each one, and can say which attempt performed it), and the audit helpers
// ([Attempts], [Checkpoints], [CheckJournal], [WaitAllFinished],
// [CheckEffects], [AuditInvocation], [ScheduledTicks]) read the powny_* views and the journal
// back. The test binary is the
// binary under test: [RunMainIfChild], first in TestMain, makes a
// re-executed test binary run powny's main instead of the tests.
//
// # Imports
//
// crashtest is for tests only and is never linked into the powny binary. It
// may import platform/cli (to run as the binary), platform/journal (to
// decode journals), pgx and the standard library. Only its test files (and
// those of its subpackages) import testcontainers and platform/testdb,
// which the harness must not (see depguard in .golangci.yaml): tests hand
// it a DSN, a pool and a ZooKeeper connect string.
package crashtest
