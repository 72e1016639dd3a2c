// Package testcontainers gives tests real services: a PostgreSQL server shared
// by the whole test binary, and a fresh, empty database for each test on it;
// and ZooKeeper: a shared server ([ZooKeeper], with a chroot per test from
// [ZooKeeperChroot]), a private one a test may stop and start
// ([ZooKeeperServer]), or a private ensemble ([ZooKeeperEnsemble]).
//
// It is for tests only. Never import it from non-test code: it would link
// Docker's client into the binary (a depguard rule should block it).
//
// # Use
//
//	func TestMain(m *testing.M) { testcontainers.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		t.Parallel()
//		dsn := testcontainers.Postgres(t, testcontainers.WithTemplate("migrated", migrate))
//		...
//	}
//
// [Postgres] returns the DSN of a new database and drops it (WITH (FORCE)) when
// the test ends. With [WithTemplate], the init function (migrations) runs once per
// test binary on a template database, and each test gets a copy of it, which
// takes milliseconds. [Main] runs the tests, stops the shared server, removes its
// files, checks for leaked goroutines with goleak, and exits; [Postgres] fails a
// test whose package has no such TestMain.
//
// The server starts on first use, once per test binary. If it cannot start,
// every test that asks for it fails with the reason.
//
// # Backend
//
// The server runs in one of two ways, chosen once per test binary:
//
//   - docker: a postgres:15-alpine container through testcontainers-go (the
//     image can be changed with POWNY_TEST_PG_IMAGE).
//   - local: a private cluster from the PostgreSQL binaries installed on the
//     machine (see platform/pglocal), with fsync, synchronous_commit and
//     full_page_writes off. It lives in $POWNY_TEST_PG_DIR, else in /dev/shm
//     when that has 1 GiB free (creating a database on a disk here took
//     100–600 ms, in RAM about 10 ms), else in the temporary directory. It is
//     removed after the tests; a test binary that was killed leaves its
//     directory, which the next one removes.
//
// POWNY_TEST_BACKEND=docker or POWNY_TEST_BACKEND=local forces one. Otherwise
// the package asks the Docker engine for its info (2 s timeout) and uses docker
// when it answers, local otherwise.
//
// Both backends allow 200 connections and give the superuser "postgres".
// Databases are created with STRATEGY FILE_COPY (PostgreSQL 15+), faster than
// the default when tests create them in parallel.
//
// # Restarting the server
//
// [PostgresServer] returns the shared server so that a test can restart it
// ([Server.Restart]). A restart ends the sessions of every test of the binary:
// keep such tests in a package of their own, or out of t.Parallel.
//
// # Imports
//
// pgx, goleak, testcontainers-go and platform/pglocal.
package testcontainers
