// Package daemon assembles Powny's roles (api, worker, collector) from one
// Config and runs them until the context ends, then stops them in order:
// the HTTP server stops taking requests, running invocations get a grace
// period to finish, then the pool closes.
//
// `powny server` runs every role in one process; `powny api`, `powny worker`
// and `powny collector` run one each.
//
// This package may import every platform package but cli.
package daemon
