// Package cli is the powny command line: the daemons (api, worker,
// collector, server, dev), migrations, and the client commands that talk to
// the HTTP API (deploy, invoke, functions, jobs).
//
// Every command writes to the writers it is given, never to os.Stdout
// directly, so tests can run it. Settings come from flags with environment
// fallbacks (POWNY_*); an environment value that does not parse is an error
// naming the variable.
//
// This package may import every platform package.
package cli
