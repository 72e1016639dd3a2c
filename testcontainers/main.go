package testcontainers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// Main is the body of a TestMain for packages that use this package:
//
//	func TestMain(m *testing.M) { testcontainers.Main(m) }
//
// It runs the tests, stops the shared servers and removes their files, then,
// if the tests passed, checks that no goroutine leaked (goleak; leakOpts are
// passed to it, e.g. goleak.IgnoreTopFunction for a known one), and exits
// with the tests' status. A failed stop or a leak fails the run.
func Main(m *testing.M, leakOpts ...goleak.Option) {
	os.Exit(run(m, leakOpts...))
}

func run(m *testing.M, leakOpts ...goleak.Option) int {
	shared.mainCalled.Store(true)
	code := m.Run()

	backendOpts, err := shutdown()
	if err != nil {
		fmt.Fprintf(os.Stderr, "testcontainers: %v\n", err)
		return cmp.Or(code, 1)
	}
	if code != 0 {
		return code
	}
	if err := goleak.Find(append(leakOpts, backendOpts...)...); err != nil {
		fmt.Fprintf(os.Stderr, "testcontainers: goroutines leaked by the tests: %v\n", err)
		return 1
	}
	return 0
}

// shutdown stops the shared servers and returns the leak options of their
// backends.
func shutdown() ([]goleak.Option, error) {
	zkOpts, zkErr := shutdownZooKeeper()
	pgOpts, pgErr := shutdownPostgres()
	return append(pgOpts, zkOpts...), errors.Join(pgErr, zkErr)
}

func shutdownPostgres() ([]goleak.Option, error) {
	// Settle pgOnce: no server can start after this.
	shared.pgOnce.Do(func() { shared.pgErr = errors.New("the tests are over") })
	s := shared.pg
	if s == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	if err := s.stop(ctx); err != nil {
		return nil, fmt.Errorf("stop PostgreSQL (%s): %w", s.backendName, err)
	}
	return s.backend.leakOptions(), nil
}
