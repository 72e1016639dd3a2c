package pglocal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrPortInUse is returned by [Start] and [Server.Restart] when the requested
// port is taken by another process.
var ErrPortInUse = errors.New("pglocal: port in use")

// ErrAlreadyRunning is returned by [Start] when a PostgreSQL server already
// runs on the data directory.
var ErrAlreadyRunning = errors.New("pglocal: a PostgreSQL server already runs on this data directory")

// LogFileName is the name of the server's log file inside the data directory.
const LogFileName = "postgres.log"

const (
	superuser = "postgres"
	// maxSocketPath is the longest unix socket path PostgreSQL accepts, with room
	// for "/.s.PGSQL.65535".
	maxSocketPath = 107 - len("/.s.PGSQL.65535")
	// portAttempts bounds the retries when a picked port is taken before
	// PostgreSQL binds it.
	portAttempts = 5
	logTailBytes = 4096
	// shmemWait bounds the wait for the processes of a killed server to exit.
	shmemWait = 10 * time.Second
)

// Server is a running local cluster. Its methods are safe for concurrent use.
type Server struct {
	cfg     Config
	account *account
	logger  *slog.Logger

	mu   sync.Mutex
	port int
	proc *process // nil when stopped
}

// process is one run of the postgres executable.
type process struct {
	cmd     *exec.Cmd
	logFile *os.File
	done    chan struct{} // closed when the process has exited
	err     error         // exit status, set before done is closed
}

// Start creates the cluster if needed, starts PostgreSQL and returns once it
// accepts connections. ctx bounds the whole start, initdb included.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	acct, err := lookupAccount(cfg.RunAs)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:     cfg,
		account: acct,
		logger:  cfg.Logger.With(slog.String("data_dir", cfg.DataDir)),
		port:    cfg.Port,
	}
	if err := acct.prepareDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	if err := s.removeStalePID(ctx); err != nil {
		return nil, err
	}
	if err := s.initdb(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.start(ctx, cfg.Port == 0); err != nil {
		return nil, err
	}
	return s, nil
}

// DSN returns the connection string of database on this server, as the
// superuser "postgres" over TCP without TLS.
func (s *Server) DSN(database string) string {
	return dsn(s.Port(), database)
}

func dsn(port int, database string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", superuser, port, url.PathEscape(database))
}

// Port returns the TCP port the server listens on.
func (s *Server) Port() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.port
}

// DataDir returns the absolute path of the data directory.
func (s *Server) DataDir() string { return s.cfg.DataDir }

// LogPath returns the path of the server's log file.
func (s *Server) LogPath() string { return filepath.Join(s.cfg.DataDir, LogFileName) }

// Stop shuts the server down (fast shutdown: sessions are ended, a checkpoint
// is written) and waits for it to exit. When ctx ends first, the server is
// killed. Stopping a stopped server does nothing.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stop(ctx)
}

// Restart stops the server and starts it again on the same port and data
// directory. Open connections are ended. It also starts a server that died
// (a crash test may SIGKILL it).
func (s *Server) Restart(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.stop(ctx); err != nil {
		return err
	}
	if err := s.removeStalePID(ctx); err != nil {
		return err
	}
	return s.start(ctx, false)
}

// Pid returns the process id of the postmaster, or 0 when it is stopped.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	return s.proc.cmd.Process.Pid
}

func (s *Server) stop(ctx context.Context) error {
	p := s.proc
	if p == nil {
		return nil
	}
	s.proc = nil
	// postgres has its own descriptor of the log; ours was never written to.
	defer func() { _ = p.logFile.Close() }()
	logger := s.logger.With(slog.Int("port", s.port), slog.Int("pid", p.cmd.Process.Pid))
	select {
	case <-p.done:
		logger.WarnContext(ctx, "postgres had already exited", slog.Any("error", p.err))
		return nil
	default:
	}
	logger.DebugContext(ctx, "stopping postgres")
	// SIGINT is PostgreSQL's fast shutdown.
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("pglocal: signal postgres: %w", err)
	}
	select {
	case <-p.done:
		logger.InfoContext(ctx, "postgres stopped")
		return nil
	case <-ctx.Done():
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("pglocal: postgres did not stop in time, killed it: %w", ctx.Err())
	}
}

// errShmemInUse: the backends of a killed postmaster have not exited yet.
var errShmemInUse = errors.New("pglocal: the processes of a killed server still hold its shared memory")

// start runs postgres and waits until it accepts connections. With pickPort,
// a port is picked (again) when the current one is 0 or taken. s.mu is held.
func (s *Server) start(ctx context.Context, pickPort bool) error {
	shmemDeadline := time.Now().Add(shmemWait)
	for attempt := 1; ; attempt++ {
		if pickPort {
			port, err := freePort()
			if err != nil {
				return err
			}
			s.port = port
		} else if !portFree(s.port) {
			return fmt.Errorf("%w: 127.0.0.1:%d is taken by another process", ErrPortInUse, s.port)
		}
		err := s.startOnce(ctx)
		if err == nil {
			return nil
		}
		if errors.Is(err, errShmemInUse) && time.Now().Before(shmemDeadline) {
			// After a crash, the orphaned backends notice their postmaster's
			// death within moments; PostgreSQL refuses to start until then.
			s.logger.DebugContext(ctx, "waiting for the processes of the killed server to exit")
			select {
			case <-ctx.Done():
				return err
			case <-time.After(50 * time.Millisecond):
			}
			attempt--
			continue
		}
		if !pickPort || !errors.Is(err, ErrPortInUse) || attempt == portAttempts {
			return err
		}
		s.logger.DebugContext(ctx, "picked port was taken, picking another", slog.Int("port", s.port))
	}
}

func (s *Server) startOnce(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pglocal: start postgres: %w", err)
	}
	logPath := s.LogPath()
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("pglocal: open log: %w", err)
	}
	logStart, err := logFile.Seek(0, io.SeekEnd)
	if err != nil {
		_ = logFile.Close()
		return fmt.Errorf("pglocal: open log: %w", err)
	}

	cmd := exec.Command(filepath.Join(s.cfg.BinDir, "postgres"), s.args()...)
	cmd.Dir = s.cfg.DataDir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: s.account.cred,
		Setpgid:    true,            // terminal signals go to the Go program only
		Pdeathsig:  syscall.SIGKILL, // backstop: the Go program died
	}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return fmt.Errorf("pglocal: run postgres: %w", err)
	}
	p := &process{cmd: cmd, logFile: logFile, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	logger := s.logger.With(slog.Int("port", s.port), slog.Int("pid", cmd.Process.Pid))
	logger.DebugContext(ctx, "started postgres, waiting until it accepts connections")

	began := time.Now()
	if err := s.waitReady(ctx, p); err != nil {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		_ = logFile.Close()
		tail := readTail(logPath, logStart)
		switch {
		case strings.Contains(tail, "Address already in use") || strings.Contains(tail, "could not bind IPv4"):
			err = fmt.Errorf("%w: 127.0.0.1:%d: %w", ErrPortInUse, s.port, err)
		case strings.Contains(tail, "pre-existing shared memory block"):
			err = fmt.Errorf("%w: %w", errShmemInUse, err)
		}
		return fmt.Errorf("%w\n--- %s ---\n%s", err, logPath, tail)
	}
	s.proc = p
	logger.InfoContext(ctx, "postgres ready", slog.Duration("wait", time.Since(began)))
	return nil
}

func (s *Server) args() []string {
	socketDir := s.cfg.DataDir
	if len(socketDir) > maxSocketPath {
		socketDir = "" // too long for a unix socket path: TCP only
	}
	args := []string{
		"-D", s.cfg.DataDir,
		"-p", strconv.Itoa(s.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" + socketDir,
	}
	names := make([]string, 0, len(s.cfg.Settings))
	for name := range s.cfg.Settings {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		args = append(args, "-c", name+"="+s.cfg.Settings[name])
	}
	return args
}

// waitReady polls until the server accepts connections, it exits, or ctx ends.
func (s *Server) waitReady(ctx context.Context, p *process) error {
	delay := 5 * time.Millisecond
	var lastErr error
	for {
		select {
		case <-p.done:
			return fmt.Errorf("pglocal: postgres exited during start: %w", exitError(p.err))
		default:
		}
		err := s.ping(ctx)
		if err == nil {
			return nil
		}
		if errors.Is(err, errForeignServer) {
			return err
		}
		lastErr = err
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("pglocal: postgres not ready: %w (last attempt: %w)", ctx.Err(), lastErr)
		case <-p.done:
			timer.Stop()
			return fmt.Errorf("pglocal: postgres exited during start: %w", exitError(p.err))
		case <-timer.C:
		}
		delay = min(delay*2, 200*time.Millisecond)
	}
}

var errForeignServer = errors.New("pglocal: another PostgreSQL server answers on the port")

// ping connects once and checks that the server answering is ours.
func (s *Server) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn(s.port, "postgres"))
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	var dataDir string
	if err := conn.QueryRow(ctx, "SHOW data_directory").Scan(&dataDir); err != nil {
		return err
	}
	if filepath.Clean(dataDir) != s.cfg.DataDir {
		return fmt.Errorf("%w %d (its data directory is %s)", errForeignServer, s.port, dataDir)
	}
	return nil
}

// initdb creates the cluster unless the data directory already holds one. It
// runs initdb on a sibling directory and renames it into place, so that an
// interrupted initdb never leaves a half-made cluster to be reused.
func (s *Server) initdb(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(s.cfg.DataDir, "PG_VERSION")); err == nil {
		s.logger.DebugContext(ctx, "reusing cluster")
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("pglocal: data directory: %w", err)
	}
	if entries, err := os.ReadDir(s.cfg.DataDir); err != nil {
		return fmt.Errorf("pglocal: data directory: %w", err)
	} else if len(entries) > 0 {
		return fmt.Errorf("pglocal: data directory %s holds files but no PostgreSQL cluster (no PG_VERSION): empty it or choose another", s.cfg.DataDir)
	}
	// Where DataDir is a mount point or its parent is not writable, initdb
	// has to run in place.
	target := s.cfg.DataDir
	if tmp := s.cfg.DataDir + ".initdb"; sameDevice(s.cfg.DataDir, filepath.Dir(s.cfg.DataDir)) {
		if err := os.RemoveAll(tmp); err == nil && s.account.makeDir(tmp) == nil {
			target = tmp
		}
	}
	args := []string{
		"-D", target,
		"-U", superuser,
		"--auth=trust",
		"-E", "UTF8",
		"--locale=C",
	}
	if s.cfg.Settings["fsync"] == "off" {
		args = append(args, "--no-sync")
	}
	began := time.Now()
	cmd := exec.CommandContext(ctx, filepath.Join(s.cfg.BinDir, "initdb"), args...)
	cmd.Dir = target
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.account.cred, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil {
		if target != s.cfg.DataDir {
			_ = os.RemoveAll(target)
		}
		return fmt.Errorf("pglocal: initdb %s: %w\n%s", s.cfg.DataDir, err, strings.TrimSpace(lastBytes(string(out), logTailBytes)))
	}
	if target != s.cfg.DataDir {
		// rename(2) replaces the empty data directory (os.Rename refuses to).
		if err := syscall.Rename(target, s.cfg.DataDir); err != nil {
			_ = os.RemoveAll(target)
			return fmt.Errorf("pglocal: move the new cluster %s into place: %w", target, err)
		}
	}
	s.logger.InfoContext(ctx, "created cluster", slog.Duration("took", time.Since(began)))
	return nil
}

// removeStalePID removes postmaster.pid when the process it names is not a
// postmaster of this data directory (killed run, pid since reused), so that
// PostgreSQL does not refuse to start.
func (s *Server) removeStalePID(ctx context.Context) error {
	pidFile := filepath.Join(s.cfg.DataDir, "postmaster.pid")
	data, err := os.ReadFile(pidFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pglocal: read postmaster.pid: %w", err)
	}
	first, _, _ := strings.Cut(string(data), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err == nil && pid > 0 {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		switch {
		case err == nil:
			if isPostmasterOf(cmdline, s.cfg.DataDir) {
				return fmt.Errorf("%w (pid %d, data directory %s)", ErrAlreadyRunning, pid, s.cfg.DataDir)
			}
		case errors.Is(err, fs.ErrNotExist):
			if _, err := os.Stat("/proc/self"); err != nil {
				return nil // no procfs: let PostgreSQL judge
			}
		default:
			return nil // cannot tell: let PostgreSQL judge
		}
	}
	s.logger.InfoContext(ctx, "removing stale postmaster.pid", slog.String("pid", first))
	if err := os.Remove(pidFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("pglocal: remove stale postmaster.pid: %w", err)
	}
	return nil
}

// sameDevice reports whether a and b are on the same file system.
func sameDevice(a, b string) bool {
	var sa, sb syscall.Stat_t
	return syscall.Stat(a, &sa) == nil && syscall.Stat(b, &sb) == nil && sa.Dev == sb.Dev
}

// isPostmasterOf reports whether a /proc/PID/cmdline is a postgres postmaster
// started with -D dataDir.
func isPostmasterOf(cmdline []byte, dataDir string) bool {
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	if len(args) == 0 {
		return false
	}
	switch filepath.Base(args[0]) {
	case "postgres", "postmaster":
	default:
		return false
	}
	for i, a := range args {
		if a == "-D" && i+1 < len(args) && filepath.Clean(args[i+1]) == dataDir {
			return true
		}
		if d, ok := strings.CutPrefix(a, "-D"); ok && d != "" && filepath.Clean(d) == dataDir {
			return true
		}
	}
	return false
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pglocal: pick a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("pglocal: pick a free port: %w", err)
	}
	return port, nil
}

// portFree reports whether 127.0.0.1:port can be bound now.
func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

func exitError(err error) error {
	if err == nil {
		return errors.New("exit status 0")
	}
	return err
}

// readTail returns the end of the log written since offset.
func readTail(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	defer func() { _ = f.Close() }() // read only
	fi, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	offset = max(offset, fi.Size()-logTailBytes)
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	return strings.TrimSpace(string(data))
}

func lastBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
