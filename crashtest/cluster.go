package crashtest

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/powny/powny/platform/cli"
	"github.com/powny/powny/platform/client"
)

// RunMainEnv makes a re-executed test binary run powny's main instead of the
// tests (see RunMainIfChild).
const RunMainEnv = "POWNY_TEST_RUN_MAIN"

// RunMainIfChild runs powny's main and exits when the test binary was started
// by a Cluster (RunMainEnv=1); otherwise it returns at once. Call it first in
// TestMain, before the testing flags are parsed: the arguments are powny's.
func RunMainIfChild() {
	if os.Getenv(RunMainEnv) != "1" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "powny:", err)
		os.Exit(1) //nolint:forbidigo // this is the binary's main
	}
	os.Exit(0) //nolint:forbidigo // this is the binary's main
}

// errExitedCleanly stands for the exit error of a process that exited 0.
var errExitedCleanly = errors.New("exit status 0")

// Time limits of the harness.
const (
	// StartTimeout bounds a process's start, until it logs that it runs.
	StartTimeout = 30 * time.Second
	// StopTimeout bounds a process's exit after SIGTERM (its shutdown grace
	// is 10s by default).
	StopTimeout = 20 * time.Second
	killTimeout = 10 * time.Second
)

// EnvKeepLogs names the variable that, when set, keeps the processes' logs
// of passing tests too.
const EnvKeepLogs = "POWNY_CRASHTEST_KEEP_LOGS"

// RescueAfter is the POWNY_RESCUE_AFTER every process of a Cluster gets:
// workers heartbeat every RescueAfter/4, and the collector takes back the
// invocations of a worker silent for longer.
const RescueAfter = time.Second

// Process is one powny daemon started by a Cluster.
type Process struct {
	// Name says which daemon: "api", "collector" or "worker w1".
	Name string
	// WorkerID is the worker's POWNY_WORKER_ID; "" for others.
	WorkerID string
	// LogPath is the file its stderr (its logs) goes to.
	LogPath string
	// Started is when it was started.
	Started time.Time

	cmd    *exec.Cmd
	exited chan struct{} // closed once it exited; err is set then
	err    error
}

// PID is the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited is closed once the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Alive reports whether the process has not exited yet.
func (p *Process) Alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Err is how the process exited; nil while it runs or after exit status 0.
func (p *Process) Err() error {
	select {
	case <-p.exited:
		return p.err
	default:
		return nil
	}
}

// Signal sends sig to the process.
func (p *Process) Signal(sig syscall.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %s to %s: %w", sig, p.Name, err)
	}
	return nil
}

// Kill sends SIGKILL and waits for the process to be gone. It returns when
// the kernel has reaped it: its sockets are closed, so Postgres sees its
// sessions end.
func (p *Process) Kill() error {
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill %s: %w", p.Name, err)
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(killTimeout):
		return fmt.Errorf("%s still runs %s after SIGKILL", p.Name, killTimeout)
	}
}

// Terminate sends SIGTERM, waits for the exit (at most StopTimeout) and
// returns the exit error: nil for a clean exit with status 0.
func (p *Process) Terminate() error {
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-p.exited:
		return p.err
	case <-time.After(StopTimeout):
		return fmt.Errorf("%s did not exit within %s of SIGTERM", p.Name, StopTimeout)
	}
}

// Logs returns what the process logged so far.
func (p *Process) Logs() string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// WaitLog waits until the process's log contains s, at most timeout.
func (p *Process) WaitLog(s string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if strings.Contains(p.Logs(), s) {
			return nil
		}
		select {
		case <-p.exited:
			if strings.Contains(p.Logs(), s) {
				return nil
			}
			return fmt.Errorf("%s exited before logging %q: %w", p.Name, s, cmp.Or(p.err, errExitedCleanly))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not log %q within %s", p.Name, s, timeout)
		}
	}
}

// Cluster runs powny daemons as separate processes of the binary under test
// (the test binary, re-executed) against one database. Everything it starts
// is killed when the test ends; if the test failed, the end of every
// process's log is printed and the log folder is kept (EnvKeepLogs keeps it
// in any case).
type Cluster struct {
	// DSN is the database every process uses.
	DSN string
	// Token is the API's bearer token.
	Token string
	// Dir holds the processes' logs.
	Dir string
	// Env is added to the environment of every process started after it is
	// set, after the cluster's own variables, which it overrides: e.g.
	// POWNY_ZOOKEEPER, POWNY_SESSION_TIMEOUT, or another POWNY_RESCUE_AFTER.
	// Set it from the test's goroutine, before starting processes.
	Env []string

	t    testing.TB
	http *http.Client

	mu    sync.Mutex
	procs []*Process
	api   *API
}

// NewCluster returns a cluster on the database dsn, which must be migrated.
func NewCluster(tb testing.TB, dsn string) *Cluster {
	tb.Helper()
	// Not tb.TempDir: the logs of a failed test must outlive it.
	dir, err := os.MkdirTemp("", "powny-crashtest-") //nolint:usetesting // kept when the test fails
	if err != nil {
		tb.Fatalf("crashtest: log folder: %v", err)
	}
	token := make([]byte, 16)
	_, _ = rand.Read(token)
	c := &Cluster{
		DSN: dsn, Token: hex.EncodeToString(token), Dir: dir, t: tb,
		// Its own transport, so that its idle connections are closed at the end.
		http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 30 * time.Second},
	}
	tb.Cleanup(c.cleanup)
	return c
}

func (c *Cluster) cleanup() {
	c.mu.Lock()
	procs := append([]*Process(nil), c.procs...)
	c.mu.Unlock()
	for _, p := range procs {
		if p.Alive() {
			if err := p.Kill(); err != nil {
				c.t.Errorf("crashtest: %v", err)
			}
		}
	}
	c.http.CloseIdleConnections()
	if !c.t.Failed() {
		if os.Getenv(EnvKeepLogs) != "" {
			c.t.Logf("crashtest: the processes' logs are kept in %s (%s is set)", c.Dir, EnvKeepLogs)
			return
		}
		_ = os.RemoveAll(c.Dir)
		return
	}
	for _, p := range procs {
		c.t.Logf("--- %s (pid %d, %s) ---\n%s", p.Name, p.PID(), p.LogPath, tail(p.Logs(), 40))
	}
	c.t.Logf("crashtest: the processes' logs are kept in %s", c.Dir)
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[... %d lines before]", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// Processes returns every process started so far, running or not.
func (c *Cluster) Processes() []*Process {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Process(nil), c.procs...)
}

// API returns a client of the API process started last.
func (c *Cluster) API() *API {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.api == nil {
		c.t.Fatal("crashtest: no API started")
	}
	return c.api
}

// StartAPI starts `powny api` on a free port and waits until it answers.
func (c *Cluster) StartAPI() *Process {
	c.t.Helper()
	p, api := c.startListening("api", "", []string{"api"})
	c.mu.Lock()
	c.api = api
	c.mu.Unlock()
	return p
}

// startListening starts a process that serves the API on a free port,
// waits until it answers, and returns it with a client of its API.
func (c *Cluster) startListening(name, workerID string, args []string, extra ...string) (*Process, *API) {
	c.t.Helper()
	addr := freeAddr(c.t)
	p := c.start(name, workerID, args, append(extra, "POWNY_LISTEN="+addr, "POWNY_TOKEN="+c.Token)...)
	c.waitStarted(p, "api listening")
	return p, &API{c: client.New("http://"+addr, c.Token, c.http)}
}

// StartWorker starts `powny worker` with POWNY_WORKER_ID id and waits until
// its River client runs.
func (c *Cluster) StartWorker(id string) *Process {
	c.t.Helper()
	p := c.start("worker "+id, id, []string{"worker"}, "POWNY_WORKER_ID="+id)
	c.waitStarted(p, "worker started")
	return p
}

// StartCollector starts `powny collector` and waits until it runs.
func (c *Cluster) StartCollector() *Process {
	c.t.Helper()
	p := c.start("collector", "", []string{"collector"})
	c.waitStarted(p, "collector started")
	return p
}

func (c *Cluster) waitStarted(p *Process, line string) {
	c.t.Helper()
	if err := p.WaitLog(line, StartTimeout); err != nil {
		c.t.Fatalf("crashtest: %v\n%s", err, tail(p.Logs(), 40))
	}
}

// start runs the binary under test with args; its environment is the
// test's without POWNY_ variables, plus the cluster's and extra.
func (c *Cluster) start(name, workerID string, args []string, extra ...string) *Process {
	c.t.Helper()
	c.mu.Lock()
	n := len(c.procs) + 1
	c.mu.Unlock()
	logPath := filepath.Join(c.Dir, fmt.Sprintf("%02d-%s.log", n, strings.ReplaceAll(name, " ", "-")))
	logFile, err := os.Create(logPath)
	if err != nil {
		c.t.Fatalf("crashtest: %v", err)
	}
	defer func() { _ = logFile.Close() }() // the process has its own descriptor
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(environ(),
		RunMainEnv+"=1",
		"POWNY_DATABASE_URL="+c.DSN,
		"POWNY_RESCUE_AFTER="+RescueAfter.String(),
		"POWNY_LOG_LEVEL=debug",
		"TZ=UTC",
	)
	cmd.Env = append(cmd.Env, c.Env...)
	// exec keeps the last value of a variable set twice.
	cmd.Env = append(cmd.Env, extra...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The backstop if the test binary dies: no daemon outlives it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &Process{Name: name, WorkerID: workerID, LogPath: logPath, cmd: cmd, exited: make(chan struct{}), Started: time.Now()}
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("crashtest: start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	return p
}

// environ is the test's environment without POWNY_ variables.
func environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "POWNY_") {
			env = append(env, kv)
		}
	}
	return env
}

// freeAddr returns a free 127.0.0.1 address.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("crashtest: %v", err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// Eventually calls cond every poll until it returns true, and fails the test
// with cond's last message when timeout passes first. It is for conditions
// in other processes, which send the test no signal.
func Eventually(tb testing.TB, timeout, poll time.Duration, what string, cond func() (bool, string)) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("crashtest: %s: not within %s: %s", what, timeout, msg)
		}
		time.Sleep(poll)
	}
}

// countLines counts the lines of s that contain sub.
func countLines(s, sub string) int {
	n := 0
	for line := range bytes.Lines([]byte(s)) {
		if bytes.Contains(line, []byte(sub)) {
			n++
		}
	}
	return n
}
