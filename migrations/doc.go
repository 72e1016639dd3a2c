// Package migrations holds Powny's database schema as goose migrations, embedded
// in the binary, and runs them.
//
// River's own schema is applied through goose too (migration 1 calls River's
// migrator inside goose's transaction), so one tool and one version table say
// what schema a database has. Runs take a Postgres session lock, so two daemons
// starting together do not race.
//
// Powny's tables live in the `powny` schema and may change between versions.
// The views in the public schema (powny_invocations, powny_functions, ...) are
// the stable contract for auditing by SQL; their columns are documented in
// the README.
//
// This package may import goose, River's migrator and the standard library; no
// other Powny package.
package migrations
