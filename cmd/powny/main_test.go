package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/powny/powny/testcontainers"
)

// runMainEnv makes the test binary run main instead of the tests: the tests
// run the binary under test as os.Args[0] with this set, so it needs no
// second build.
const runMainEnv = "POWNY_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	testcontainers.Main(m)
}

// Time limits of the steps.
const (
	startTimeout   = 45 * time.Second // initdb, Postgres, migrations, deploy of ./functions
	stopTimeout    = 20 * time.Second
	commandTimeout = 40 * time.Second // a client command; invoke waits up to 30s
)

// environ returns the test's environment without any POWNY_ variable, plus
// the one that runs main and extra.
func environ(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "POWNY_") {
			env = append(env, kv)
		}
	}
	return append(append(env, runMainEnv+"=1"), extra...)
}

// result is how a command ended.
type result struct {
	stdout, stderr string
	err            error
}

// exitCode is the command's exit code (-1 when it did not exit by itself).
func (r result) exitCode() int {
	if r.err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(r.err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

func (r result) String() string {
	return fmt.Sprintf("err: %v\nstdout:\n%s\nstderr:\n%s", r.err, r.stdout, r.stderr)
}

// powny runs the binary with args and env (on top of environ()) and waits
// for it.
func powny(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = environ(env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return result{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// mustPowny runs a command that must succeed and returns its stdout.
func mustPowny(t *testing.T, env []string, args ...string) string {
	t.Helper()
	r := powny(t, env, args...)
	require.NoError(t, r.err, "powny %s\n%s", strings.Join(args, " "), r)
	return r.stdout
}

// failPowny runs a command that must fail with exit code 1 and returns it.
func failPowny(t *testing.T, env []string, args ...string) result {
	t.Helper()
	r := powny(t, env, args...)
	require.Equal(t, 1, r.exitCode(), "powny %s\n%s", strings.Join(args, " "), r)
	return r
}

// dataDir returns a fresh data dir that the postgres user can reach (we may
// run as root, and Postgres then runs as postgres). t.TempDir is not: its
// parent is 0700.
func dataDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp(os.TempDir(), "powny-e2e-") //nolint:usetesting // see above: t.TempDir is not reachable
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Logf("remove data dir: %v", err)
		}
	})
	require.NoError(t, os.Chmod(dir, 0o755))
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		require.NoError(t, err)
		require.NotZero(t, fi.Mode().Perm()&0o001,
			"%s is not traversable by other users, so Postgres cannot reach %s: set TMPDIR", p, dir)
		if p == filepath.Dir(p) {
			break
		}
	}
	return dir
}

// freeAddr returns a free 127.0.0.1 address.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// banner is what `powny dev` prints once it runs.
type banner struct {
	url, token, dataDir string
}

// devProcess is a running `powny dev`.
type devProcess struct {
	banner
	cmd        *exec.Cmd
	stderrPath string

	banners chan banner
	exited  chan struct{} // closed when the process exited; then err is set
	err     error

	mu     sync.Mutex
	stdout strings.Builder
}

// The banner lines of the API URL and of the token (with the data dir).
var (
	bannerAPIRE   = regexp.MustCompile(`^\s+API\s+(http://\S+)$`)                     //nolint:gochecknoglobals // a compiled constant
	bannerTokenRE = regexp.MustCompile(`^\s+token\s+(\S+)\s+\(kept in (.+)/token\)$`) //nolint:gochecknoglobals // a compiled constant
)

// startDev runs `powny dev` from the repository root (so ./functions is
// deployed) and waits for its banner. The process is killed at cleanup if
// the test has not stopped it.
func startDev(t *testing.T, dataDir, listen string) *devProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "dev")
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = environ("POWNY_DATA_DIR="+dataDir, "POWNY_LISTEN="+listen)
	// Logs go to a file rather than a pipe: no copying goroutine to wait for.
	stderr, err := os.CreateTemp(t.TempDir(), "dev-stderr-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = stderr.Close() })
	cmd.Stderr = stderr
	r, w, err := os.Pipe()
	require.NoError(t, err)
	cmd.Stdout = w
	d := &devProcess{
		cmd: cmd, stderrPath: stderr.Name(),
		banners: make(chan banner, 1), exited: make(chan struct{}),
	}
	began := time.Now()
	require.NoError(t, cmd.Start())
	require.NoError(t, w.Close())
	go d.readStdout(r)
	go func() {
		d.err = cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-d.exited:
		default:
			// The test failed before stopping it. Postgres gets SIGKILL with
			// its parent (pglocal sets the parent-death signal).
			_ = cmd.Process.Kill()
			<-d.exited
		}
		if t.Failed() {
			t.Logf("powny dev stdout:\n%s\npowny dev stderr:\n%s", d.output(), d.logs())
		}
	})

	select {
	case d.banner = <-d.banners:
		t.Logf("powny dev printed its banner after %s", time.Since(began).Round(time.Millisecond))
		return d
	case <-d.exited:
		t.Fatalf("powny dev exited before its banner: %v", d.err)
	case <-time.After(startTimeout):
		t.Fatalf("powny dev printed no banner within %s", startTimeout)
	}
	return nil
}

// readStdout keeps what dev prints and sends its banner once complete.
func (d *devProcess) readStdout(r *os.File) {
	defer func() { _ = r.Close() }()
	var (
		b       banner
		inside  bool
		reached bool
	)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		d.mu.Lock()
		d.stdout.WriteString(line + "\n")
		d.mu.Unlock()
		switch {
		case reached:
		case line == "Powny is running.":
			inside = true
		case !inside:
		case bannerAPIRE.MatchString(line):
			b.url = bannerAPIRE.FindStringSubmatch(line)[1]
		case bannerTokenRE.MatchString(line):
			m := bannerTokenRE.FindStringSubmatch(line)
			b.token, b.dataDir = m[1], m[2]
		}
		if inside && !reached && b.url != "" && b.token != "" {
			reached = true
			d.banners <- b
		}
	}
}

func (d *devProcess) output() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stdout.String()
}

func (d *devProcess) logs() string {
	b, err := os.ReadFile(d.stderrPath)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// stop sends SIGINT, as Ctrl-C does, and requires dev to exit 0 in time.
func (d *devProcess) stop(t *testing.T) {
	t.Helper()
	began := time.Now()
	require.NoError(t, d.cmd.Process.Signal(os.Interrupt))
	select {
	case <-d.exited:
		t.Logf("powny dev stopped %s after SIGINT", time.Since(began).Round(time.Millisecond))
	case <-time.After(stopTimeout):
		t.Fatalf("powny dev did not exit within %s of SIGINT", stopTimeout)
	}
	require.NoError(t, d.err, "powny dev exit status")
}

// postmasterPID reads the pid of the Postgres server running on dataDir.
func postmasterPID(t *testing.T, dataDir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "postgres", "postmaster.pid"))
	require.NoError(t, err)
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	require.NoError(t, err)
	return pid
}

// requirePostgresStopped checks that the Postgres of dataDir, which ran as
// pid, is gone: postmaster.pid removed (a clean shutdown) and no process of
// it left.
func requirePostgresStopped(t *testing.T, dataDir string, pid int) {
	t.Helper()
	_, err := os.Stat(filepath.Join(dataDir, "postgres", "postmaster.pid"))
	require.ErrorIs(t, err, os.ErrNotExist, "postmaster.pid left behind")
	// A zombie would still answer signal 0, so look at what the pid runs.
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err == nil {
		require.NotContains(t, string(cmdline), dataDir, "the postmaster still runs")
	}
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue // gone meanwhile
		}
		require.NotContains(t, string(cmdline), filepath.Join(dataDir, "postgres"),
			"process %s still runs on the data dir", e.Name())
	}
}

// jobRow finds the row of invocation id (or, with id 0, the first row of
// function) in the output of `powny jobs ls`, as its cells.
func jobRow(t *testing.T, out string, id, function string) []string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && (f[0] == id || id == "" && f[1] == function) {
			return f
		}
	}
	require.FailNow(t, "no row in powny jobs ls", "invocation %q, function %q:\n%s", id, function, out)
	return nil
}

func TestDev(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	listen := freeAddr(t)
	client := []string{"POWNY_URL=http://" + listen, "POWNY_DATA_DIR=" + dir} // no POWNY_TOKEN: the token file

	// First start: a new cluster and token.
	dev := startDev(t, dir, listen)
	require.Equal(t, "http://"+listen, dev.url)
	require.Equal(t, dir, dev.dataDir)
	tokenFile, err := os.ReadFile(filepath.Join(dir, "token"))
	require.NoError(t, err)
	require.Equal(t, dev.token, strings.TrimSpace(string(tokenFile)))
	fi, err := os.Stat(filepath.Join(dir, "token"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the token file is a secret")
	pid := postmasterPID(t, dir)

	out := mustPowny(t, client, "functions", "ls")
	require.Regexp(t, `(?m)^hello\s+1\s`, out)

	out = mustPowny(t, client, "invoke", "hello", `{"name":"x"}`)
	require.Contains(t, out, "hello, x")

	out = mustPowny(t, client, "jobs", "ls")
	row := jobRow(t, out, "", "hello")
	require.Equal(t, []string{"hello", "1", "succeeded", "1/1"}, row[1:5], out)
	id := row[0]

	out = mustPowny(t, client, "jobs", "show", id)
	require.Regexp(t, `(?m)^ID:\s+`+id+`$`, out)
	require.Regexp(t, `(?m)^State:\s+succeeded$`, out)
	require.Contains(t, out, "hello, x")

	// The events path of the issue, through the binary: a CRIT starts disk,
	// which waits; the host's OK wakes it, and the answers say so.
	out = mustPowny(t, client, "events", "send", `{"host": "db-3", "service": "disk", "status": "CRIT"}`)
	started := regexp.MustCompile(`(?m)^\d+\s+no\s+disk:(\d+)\s+-$`).FindStringSubmatch(out)
	require.NotNil(t, started, out)
	require.Eventually(t, func() bool {
		return strings.Contains(mustPowny(t, client, "jobs", "show", started[1]), "waiting until")
	}, 20*time.Second, 50*time.Millisecond, "disk waits for its OK")
	out = mustPowny(t, client, "events", "send", `{"host": "db-3", "service": "disk", "status": "OK"}`)
	require.Regexp(t, `(?m)^\d+\s+no\s+-\s+disk:`+started[1]+`$`, out)
	require.Eventually(t, func() bool {
		return regexp.MustCompile(`(?m)^State:\s+succeeded$`).MatchString(mustPowny(t, client, "jobs", "show", started[1]))
	}, 20*time.Second, 50*time.Millisecond, "disk finishes once woken")

	r := failPowny(t, client, "invoke", "hello", "not json")
	require.Contains(t, r.stderr, "line 1, column 2", r)

	broken := filepath.Join(t.TempDir(), "broken.risor")
	require.NoError(t, os.WriteFile(broken, []byte("func main(input) {\n  return {\"a\": }\n}\n"), 0o600))
	r = failPowny(t, client, "deploy", broken)
	// The `}` where a value should be: line 2, column 16.
	require.Regexp(t, `(?m)^`+regexp.QuoteMeta(broken)+`:2:16: .*unexpected "}"`, r.stderr, r)

	dev.stop(t)
	requirePostgresStopped(t, dir, pid)

	// Second start: the same cluster, token and data.
	dev = startDev(t, dir, listen)
	require.Equal(t, strings.TrimSpace(string(tokenFile)), dev.token, "the token changed")
	again, err := os.ReadFile(filepath.Join(dir, "token"))
	require.NoError(t, err)
	require.Equal(t, tokenFile, again, "the token file changed")
	pid = postmasterPID(t, dir)

	out = mustPowny(t, client, "jobs", "ls")
	row = jobRow(t, out, id, "")
	require.Equal(t, []string{id, "hello", "1", "succeeded"}, row[:4], out)

	dev.stop(t)
	requirePostgresStopped(t, dir, pid)
}

func TestServerRefusesBadSettingsAtOnce(t *testing.T) {
	t.Parallel()
	// A database nobody listens on: the checks must come before any connection.
	db := "POWNY_DATABASE_URL=postgres://powny@127.0.0.1:1/powny?connect_timeout=30"
	for _, tc := range []struct {
		name     string
		env      []string
		expected []string
	}{
		{"no token", []string{db}, []string{"POWNY_TOKEN"}},
		{"bad retention", []string{db, "POWNY_TOKEN=t", "POWNY_RETENTION=abc"}, []string{"POWNY_RETENTION", `"abc"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			began := time.Now()
			r := failPowny(t, tc.env, "server")
			require.Less(t, time.Since(began), 10*time.Second, "it did not fail fast")
			for _, e := range tc.expected {
				require.Contains(t, r.stderr, e, r)
			}
			require.NotContains(t, r.stderr, "connect", r)
		})
	}
}
