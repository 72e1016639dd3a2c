package testcontainers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	tc "github.com/testcontainers/testcontainers-go"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"
	"go.uber.org/goleak"
)

// EnvImage overrides the PostgreSQL image of the docker backend.
const EnvImage = "POWNY_TEST_PG_IMAGE"

const (
	defaultImage   = "postgres:15-alpine"
	dockerPassword = "postgres" // testcontainers-go's postgres module default
	pgPort         = "5432/tcp"
	pingTimeout    = 2 * time.Second
)

// pingDocker checks that a Docker engine answers.
func pingDocker(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	cli, err := tc.NewDockerClientWithOpts(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = cli.Close() }()
	if _, err := cli.Ping(ctx, client.PingOptions{}); err != nil {
		return err
	}
	return nil
}

// dockerBackend is a postgres container.
type dockerBackend struct {
	ctr *tcpostgres.PostgresContainer

	mu   sync.Mutex
	host string
	port string
}

func startDocker(ctx context.Context) (*dockerBackend, error) {
	image := cmp.Or(os.Getenv(EnvImage), defaultImage)
	opts := []tc.ContainerCustomizer{
		tcpostgres.BasicWaitStrategies(),
		tc.WithCmdArgs(
			"-c", "max_connections=200",
			"-c", "synchronous_commit=off",
			"-c", "full_page_writes=off",
		), // the module already passes fsync=off
	}
	// Bind a fixed host port so that the DSN stays valid across Restart (Docker
	// picks a new ephemeral port at each start otherwise).
	ctr, err := tcpostgres.Run(ctx, image, append(opts, fixedHostPort())...)
	if err != nil && isPortTaken(err) {
		// The Docker host is not this machine and the port is taken there:
		// fall back to an ephemeral port, re-read after each restart.
		_ = tc.TerminateContainer(ctr)
		ctr, err = tcpostgres.Run(ctx, image, opts...)
	}
	if err != nil {
		_ = tc.TerminateContainer(ctr)
		return nil, fmt.Errorf("run %s: %w", image, err)
	}
	b := &dockerBackend{ctr: ctr}
	if err := b.refreshAddr(ctx); err != nil {
		_ = tc.TerminateContainer(ctr)
		return nil, err
	}
	if err := waitReady(ctx, b.dsn("postgres")); err != nil {
		_ = tc.TerminateContainer(ctr)
		return nil, err
	}
	return b, nil
}

// fixedHostPort binds 5432 to a port that is free on this machine.
func fixedHostPort() tc.CustomizeRequestOption {
	port := "0"
	if l, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		port = strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
		_ = l.Close()
	}
	return tc.WithHostConfigModifier(func(hc *container.HostConfig) {
		hc.PortBindings = network.PortMap{network.MustParsePort(pgPort): {{HostPort: port}}}
	})
}

func isPortTaken(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "port is already allocated") || strings.Contains(msg, "address already in use")
}

func (b *dockerBackend) refreshAddr(ctx context.Context) error {
	host, err := b.ctr.Host(ctx)
	if err != nil {
		return fmt.Errorf("container host: %w", err)
	}
	port, err := b.ctr.MappedPort(ctx, pgPort)
	if err != nil {
		return fmt.Errorf("container port: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.host, b.port = host, port.Port()
	return nil
}

func (b *dockerBackend) dsn(database string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return fmt.Sprintf("postgres://postgres:%s@%s/%s?sslmode=disable",
		dockerPassword, net.JoinHostPort(b.host, b.port), url.PathEscape(database))
}

func (b *dockerBackend) restart(ctx context.Context) error {
	timeout := 30 * time.Second // the image stops PostgreSQL with SIGINT: fast shutdown
	if err := b.ctr.Stop(ctx, &timeout); err != nil {
		return fmt.Errorf("stop container: %w", err)
	}
	if err := b.ctr.Start(ctx); err != nil {
		return fmt.Errorf("start container: %w", err)
	}
	if err := b.refreshAddr(ctx); err != nil {
		return err
	}
	return waitReady(ctx, b.dsn("postgres"))
}

func (b *dockerBackend) stop(ctx context.Context) error {
	return b.ctr.Terminate(ctx)
}

func (b *dockerBackend) leakOptions() []goleak.Option {
	// The Docker client's idle keep-alive connections, and the connection to
	// the reaper container that removes our container if the process dies.
	return []goleak.Option{
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("github.com/testcontainers/testcontainers-go.(*Reaper).connect.func1"),
	}
}

// waitReady polls until PostgreSQL accepts connections or ctx ends.
func waitReady(ctx context.Context, dsn string) error {
	delay := 10 * time.Millisecond
	for {
		pingCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(pingCtx, dsn)
		if err == nil {
			err = conn.Ping(pingCtx)
			_ = conn.Close(context.WithoutCancel(ctx))
		}
		cancel()
		if err == nil {
			return nil
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return errors.Join(fmt.Errorf("PostgreSQL not ready: %w", ctx.Err()), err)
		case <-timer.C:
		}
		delay = min(2*delay, 500*time.Millisecond)
	}
}
