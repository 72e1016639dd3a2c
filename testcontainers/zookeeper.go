package testcontainers

// ZooKeeper for tests: a server shared by the test binary ([ZooKeeper]), and
// private servers and ensembles that a test may stop, start and kill
// ([ZooKeeperServer], [ZooKeeperEnsemble]).
//
// The backend is chosen as for PostgreSQL (POWNY_TEST_BACKEND, else docker
// when a Docker engine answers): docker runs the zookeeper:3.8 image
// (POWNY_TEST_ZK_IMAGE changes it); local runs Java ZooKeeper from the jars
// of Debian's zookeeper package (POWNY_TEST_ZK_CLASSPATH changes the
// classpath), in a directory next to the PostgreSQL clusters (see
// POWNY_TEST_PG_DIR). Each local server writes its log to zookeeper.log in
// its directory; a server that fails to start reports the log's tail.
//
// Every server runs with tickTime 200 ms, so sessions may be as short as
// 400 ms and at most 4 s, with the four-letter words enabled (wchp and the
// like, on the client port), the admin server disabled and no fsync.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	tc "github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
	"go.uber.org/goleak"
)

// Environment variables of the ZooKeeper backends.
const (
	// EnvZooKeeperImage overrides the image of the docker backend.
	EnvZooKeeperImage = "POWNY_TEST_ZK_IMAGE"
	// EnvZooKeeperClasspath overrides the classpath of the local backend: it
	// must hold ZooKeeper, its dependencies and a log4j 1.2 binding of slf4j.
	EnvZooKeeperClasspath = "POWNY_TEST_ZK_CLASSPATH"
)

// ZooKeeperTickTime is the tickTime of every test server: session timeouts
// are clamped to [2, 20] ticks.
const ZooKeeperTickTime = 200 * time.Millisecond

const (
	defaultZooKeeperImage = "zookeeper:3.8"
	// Debian's zookeeper.jar names its dependencies in its manifest.
	defaultZooKeeperClasspath = "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar"
	zkDirPattern              = "powny-test-zk-"
	zkClientPort              = "2181/tcp"
	zkLogFile                 = "zookeeper.log"
	zkStopWait                = 10 * time.Second // then SIGKILL
	zkPingTimeout             = 3 * time.Second
	zkLogTailBytes            = 4 << 10
)

// zkShared holds the ZooKeeper server shared by the test binary.
//
//nolint:gochecknoglobals // one shared server per test binary is the point
var zkShared struct {
	once sync.Once
	e    *Ensemble
	err  error
	seq  atomic.Int64 // suffix of chroots

	backendOnce sync.Once
	backend     string
	reason      string
	backendErr  error
}

// ZooKeeper returns the connect string ("127.0.0.1:PORT") of the ZooKeeper
// server shared by the test binary, starting it on first use. Tests isolate
// themselves under a chroot of their own ([ZooKeeperChroot]); they must not
// stop the server (use [ZooKeeperServer] for that).
func ZooKeeper(tb testing.TB) string {
	tb.Helper()
	requireMain(tb)
	var took time.Duration
	zkShared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		began := time.Now()
		zkShared.e, zkShared.err = startEnsemble(ctx, 1)
		took = time.Since(began)
	})
	if zkShared.err != nil {
		tb.Fatalf("testcontainers: ZooKeeper: %v", zkShared.err)
	}
	if took > 0 {
		tb.Logf("testcontainers: ZooKeeper (%s backend: %s) started in %s",
			zkShared.backend, zkShared.reason, took.Round(time.Millisecond))
	}
	return zkShared.e.Connect()[0]
}

// ZooKeeperChroot returns a node path unique to this call, "/t-<test name>-<n>",
// under which a test keeps its nodes on a shared server. It is not created.
func ZooKeeperChroot(tb testing.TB) string {
	tb.Helper()
	var b strings.Builder
	for _, r := range tb.Name() {
		if b.Len() >= maxNameLen {
			break
		}
		if r < 0x80 && (r == '_' || r == '-' || r == '.' && b.Len() > 0 ||
			'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return fmt.Sprintf("/t-%s-%d", b.String(), zkShared.seq.Add(1))
}

// ZooKeeperServer starts a private single ZooKeeper server for this test, which
// the test may stop and start; it is removed when the test ends.
func ZooKeeperServer(tb testing.TB) *Ensemble {
	tb.Helper()
	return ZooKeeperEnsemble(tb, 1)
}

// ZooKeeperEnsemble starts a private ensemble of n servers for this test and
// returns once each server serves; it is removed when the test ends.
func ZooKeeperEnsemble(tb testing.TB, n int) *Ensemble {
	tb.Helper()
	requireMain(tb)
	if n < 1 {
		tb.Fatalf("testcontainers: ZooKeeperEnsemble: n = %d, want at least 1", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	began := time.Now()
	e, err := startEnsemble(ctx, n)
	if err != nil {
		tb.Fatalf("testcontainers: ZooKeeper ensemble of %d: %v", n, err)
	}
	tb.Logf("testcontainers: ZooKeeper ensemble of %d (%s) started in %s", n, e.backend, time.Since(began).Round(time.Millisecond))
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		if err := e.close(ctx); err != nil {
			tb.Errorf("testcontainers: remove ZooKeeper ensemble: %v", err)
		}
	})
	return e
}

func requireMain(tb testing.TB) {
	tb.Helper()
	if !shared.mainCalled.Load() {
		tb.Fatal("testcontainers: the package's TestMain must call testcontainers.Main(m), " +
			"which stops the shared servers after the tests: func TestMain(m *testing.M) { testcontainers.Main(m) }")
	}
}

// Ensemble is a set of ZooKeeper servers forming one ensemble (or a single
// standalone server). Its methods are safe for concurrent use.
type Ensemble struct {
	backend string
	nodes   []zkNode
	cleanup func(ctx context.Context) error // after the nodes are removed

	mu sync.Mutex // serializes Start, Stop, Kill and close
}

// zkNode is one server of an ensemble.
type zkNode interface {
	addr() string
	// launch starts the server without waiting for it.
	launch(ctx context.Context) error
	// waitReady waits until the server serves clients (withQuorum) or just
	// accepts connections.
	waitReady(ctx context.Context, withQuorum bool) error
	stop(ctx context.Context) error
	kill(ctx context.Context) error
	running() bool
	// remove stops the server for good and removes what it left.
	remove(ctx context.Context) error
}

// Connect returns the address ("127.0.0.1:PORT") of each server, in order.
func (e *Ensemble) Connect() []string {
	addrs := make([]string, len(e.nodes))
	for i, n := range e.nodes {
		addrs[i] = n.addr()
	}
	return addrs
}

// Len returns the number of servers.
func (e *Ensemble) Len() int { return len(e.nodes) }

// Backend returns BackendDocker or BackendLocal.
func (e *Ensemble) Backend() string { return e.backend }

func (e *Ensemble) node(i int) (zkNode, error) {
	if i < 0 || i >= len(e.nodes) {
		return nil, fmt.Errorf("testcontainers: ZooKeeper server %d: the ensemble has servers 0 to %d", i, len(e.nodes)-1)
	}
	return e.nodes[i], nil
}

// Stop stops server i (SIGTERM) and waits for it to exit. Stopping a stopped
// server does nothing.
func (e *Ensemble) Stop(i int) error {
	return e.halt(i, "stop", zkNode.stop)
}

// Kill kills server i (SIGKILL) and waits for it to exit.
func (e *Ensemble) Kill(i int) error {
	return e.halt(i, "kill", zkNode.kill)
}

// halt stops server i with how and waits for it to exit.
func (e *Ensemble) halt(i int, verb string, how func(zkNode, context.Context) error) error {
	n, err := e.node(i)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	if err := how(n, ctx); err != nil {
		return fmt.Errorf("testcontainers: %s ZooKeeper server %d: %w", verb, i, err)
	}
	return nil
}

// Start starts server i again, with its data, on its address. It returns
// once the server serves clients when the running servers form a quorum,
// else once it accepts connections. Starting a running server does nothing.
func (e *Ensemble) Start(i int) error {
	n, err := e.node(i)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if n.running() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := n.launch(ctx); err != nil {
		return fmt.Errorf("testcontainers: start ZooKeeper server %d: %w", i, err)
	}
	up := 0
	for _, n := range e.nodes {
		if n.running() {
			up++
		}
	}
	if err := n.waitReady(ctx, up > len(e.nodes)/2); err != nil {
		return fmt.Errorf("testcontainers: start ZooKeeper server %d: %w", i, err)
	}
	return nil
}

// close removes the servers and what they left.
func (e *Ensemble) close(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for i, n := range e.nodes {
		if err := n.remove(ctx); err != nil {
			errs = append(errs, fmt.Errorf("server %d: %w", i, err))
		}
	}
	if e.cleanup != nil {
		errs = append(errs, e.cleanup(ctx))
	}
	return errors.Join(errs...)
}

// zkBackend chooses the backend once per test binary.
func zkBackend(ctx context.Context) (name, reason string, err error) {
	zkShared.backendOnce.Do(func() {
		zkShared.backend, zkShared.reason, zkShared.backendErr = chooseBackend(ctx)
	})
	return zkShared.backend, zkShared.reason, zkShared.backendErr
}

func startEnsemble(ctx context.Context, n int) (*Ensemble, error) {
	name, reason, err := zkBackend(ctx)
	if err != nil {
		return nil, err
	}
	var e *Ensemble
	if name == BackendDocker {
		e, err = startDockerEnsemble(ctx, n)
	} else {
		e, err = startLocalEnsemble(ctx, n)
	}
	if err != nil {
		return nil, fmt.Errorf("start %s backend (%s): %w", name, reason, err)
	}
	return e, nil
}

// launchAll starts every server of e, then waits for each to serve; on
// failure it removes them.
func (e *Ensemble) launchAll(ctx context.Context) error {
	err := func() error {
		for i, n := range e.nodes {
			if err := n.launch(ctx); err != nil {
				return fmt.Errorf("server %d: %w", i, err)
			}
		}
		for i, n := range e.nodes {
			if err := n.waitReady(ctx, true); err != nil {
				return fmt.Errorf("server %d: %w", i, err)
			}
		}
		return nil
	}()
	if err != nil {
		_ = e.close(context.WithoutCancel(ctx))
	}
	return err
}

// shutdownZooKeeper stops the shared server; Main calls it after the tests.
func shutdownZooKeeper() ([]goleak.Option, error) {
	zkShared.once.Do(func() { zkShared.err = errors.New("the tests are over") })
	e := zkShared.e
	if e == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	if err := e.close(ctx); err != nil {
		return nil, fmt.Errorf("stop ZooKeeper (%s): %w", e.backend, err)
	}
	if e.backend == BackendDocker {
		return (&dockerBackend{}).leakOptions(), nil
	}
	return nil, nil
}

// zkPing connects to the server at addr and reads "/": it serves clients.
func zkPing(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, zkPingTimeout)
	defer cancel()
	conn, events, err := zk.Connect([]string{addr}, 20*ZooKeeperTickTime,
		zk.WithLogger(zkNopLogger{}), zk.WithLogInfo(false))
	if err != nil {
		return err
	}
	defer conn.Close()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("no session: %w", ctx.Err())
		case ev := <-events:
			if ev.State != zk.StateHasSession {
				continue
			}
			if _, _, err := conn.Exists("/"); err != nil {
				return fmt.Errorf("read /: %w", err)
			}
			return nil
		}
	}
}

type zkNopLogger struct{}

func (zkNopLogger) Printf(string, ...any) {}

// zkServing asks the server with the four-letter word srvr whether it
// serves clients: it is up and, in an ensemble, part of a quorum. It is
// cheaper than a failed zkPing, whose client takes a second to close.
func zkServing(ctx context.Context, addr string) error {
	var d net.Dialer
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	if deadline, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(deadline)
	}
	if _, err := io.WriteString(c, "srvr"); err != nil {
		return err
	}
	out, err := io.ReadAll(c)
	if err != nil {
		return err
	}
	if !strings.Contains(string(out), "Mode: ") {
		return fmt.Errorf("not serving: %q", strings.TrimSpace(string(out)))
	}
	return nil
}

// serves checks that the server at addr serves clients.
func serves(ctx context.Context, addr string) error {
	if err := zkServing(ctx, addr); err != nil {
		return err
	}
	return zkPing(ctx, addr)
}

// tcpAccepts reports whether a TCP connection to addr succeeds.
func tcpAccepts(ctx context.Context, addr string) error {
	var d net.Dialer
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// pollReady calls check until it succeeds, failed reports a fatal state, or
// ctx ends.
func pollReady(ctx context.Context, check func(context.Context) error, failed func() error) error {
	delay := 10 * time.Millisecond
	var last error
	for {
		if err := failed(); err != nil {
			return err
		}
		err := check(ctx)
		if err == nil {
			return nil
		}
		last = err
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("not ready: %w (last attempt: %w)", ctx.Err(), last)
		case <-t.C:
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}

// --- local backend -----------------------------------------------------------

// localZK is a ZooKeeper server run with the local Java.
type localZK struct {
	dir      string // holds zoo.cfg, log4j.properties, zookeeper.log, data/
	port     int
	quorum   bool // QuorumPeerMain, else ZooKeeperServerMain
	java     string
	classp   string
	mu       sync.Mutex
	proc     *zkProcess // nil when stopped
	logStart int64      // log offset at the last launch
}

type zkProcess struct {
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
	err  error
}

func startLocalEnsemble(ctx context.Context, n int) (*Ensemble, error) {
	java, classpath, err := localJava()
	if err != nil {
		return nil, err
	}
	base := baseDir()
	sweepStaleDirs(base, zkDirPattern)
	dir, err := os.MkdirTemp(base, zkDirPattern)
	if err != nil {
		return nil, fmt.Errorf("create temporary directory: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("create temporary directory: %w", err)
	}
	perNode := 1
	if n > 1 {
		perNode = 3 // client, peer, election
	}
	ports, err := freePorts(n * perNode)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	var servers strings.Builder
	if n > 1 {
		for i := range n {
			fmt.Fprintf(&servers, "server.%d=127.0.0.1:%d:%d\n", i+1, ports[i*perNode+1], ports[i*perNode+2])
		}
	}
	e := &Ensemble{backend: BackendLocal, cleanup: func(context.Context) error { return os.RemoveAll(dir) }}
	for i := range n {
		node := &localZK{
			dir:    filepath.Join(dir, fmt.Sprintf("zk%d", i+1)),
			port:   ports[i*perNode],
			quorum: n > 1,
			java:   java,
			classp: classpath,
		}
		if err := node.writeConfig(i+1, servers.String()); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		e.nodes = append(e.nodes, node)
	}
	if err := e.launchAll(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// localJava finds java and checks the ZooKeeper classpath.
func localJava() (java, classpath string, err error) {
	java = "java"
	if home := os.Getenv("JAVA_HOME"); home != "" {
		java = filepath.Join(home, "bin", "java")
	}
	if java, err = exec.LookPath(java); err != nil {
		return "", "", fmt.Errorf("no Java to run ZooKeeper (install default-jre-headless, or set JAVA_HOME): %w", err)
	}
	classpath = cmp.Or(os.Getenv(EnvZooKeeperClasspath), defaultZooKeeperClasspath)
	first, _, _ := strings.Cut(classpath, ":")
	if _, err := os.Stat(first); err != nil {
		return "", "", fmt.Errorf("no ZooKeeper jar (install the zookeeper package, or set %s): %w", EnvZooKeeperClasspath, err)
	}
	return java, classpath, nil
}

func (s *localZK) writeConfig(id int, servers string) error {
	if err := os.MkdirAll(filepath.Join(s.dir, "data"), 0o755); err != nil {
		return fmt.Errorf("create server directory: %w", err)
	}
	cfg := fmt.Sprintf(`tickTime=%d
initLimit=10
syncLimit=5
dataDir=%s
clientPort=%d
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=*
forceSync=no
%s`, ZooKeeperTickTime.Milliseconds(), filepath.Join(s.dir, "data"), s.port, servers)
	log4j := `log4j.rootLogger=INFO, FILE
log4j.appender.FILE=org.apache.log4j.ConsoleAppender
log4j.appender.FILE.layout=org.apache.log4j.PatternLayout
log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} %-5p [%t] %c{1}: %m%n
`
	files := map[string]string{"zoo.cfg": cfg, "log4j.properties": log4j}
	if s.quorum {
		files[filepath.Join("data", "myid")] = strconv.Itoa(id) + "\n"
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(s.dir, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

func (s *localZK) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

func (s *localZK) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil
}

func (s *localZK) launch(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return nil
	}
	logPath := filepath.Join(s.dir, zkLogFile)
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	if s.logStart, err = logFile.Seek(0, io.SeekEnd); err != nil {
		_ = logFile.Close()
		return fmt.Errorf("open log: %w", err)
	}
	mainClass := "org.apache.zookeeper.server.ZooKeeperServerMain"
	if s.quorum {
		mainClass = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
	}
	cmd := exec.Command(s.java,
		"-Xms16m", "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData",
		"-Djava.net.preferIPv4Stack=true",
		"-Dlog4j.configuration=file:"+filepath.Join(s.dir, "log4j.properties"),
		"-Dzookeeper.jmx.log4j.disable=true",
		"-Dzookeeper.admin.enableServer=false",
		"-Dzookeeper.snapshot.trust.empty=true",
		"-Dzookeeper.cnxTimeout=500",
		"-Dzookeeper.fastleader.minNotificationInterval=100",
		"-Dzookeeper.fastleader.maxNotificationInterval=1000",
		"-cp", s.dir+":"+s.classp,
		mainClass, filepath.Join(s.dir, "zoo.cfg"))
	cmd.Dir = s.dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,            // terminal signals go to the Go program only
		Pdeathsig: syscall.SIGKILL, // backstop: the test binary died
	}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return fmt.Errorf("run java: %w", err)
	}
	p := &zkProcess{cmd: cmd, log: logFile, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = p.log.Close()
		close(p.done)
	}()
	s.proc = p
	return nil
}

func (s *localZK) waitReady(ctx context.Context, withQuorum bool) error {
	s.mu.Lock()
	p, logStart := s.proc, s.logStart
	s.mu.Unlock()
	if p == nil {
		return errors.New("not running")
	}
	check := func(ctx context.Context) error { return tcpAccepts(ctx, s.addr()) }
	if withQuorum {
		check = func(ctx context.Context) error { return serves(ctx, s.addr()) }
	}
	exited := func() error {
		select {
		case <-p.done:
			return fmt.Errorf("ZooKeeper exited during start: %w", cmp.Or(p.err, errors.New("exit status 0")))
		default:
			return nil
		}
	}
	if err := pollReady(ctx, check, exited); err != nil {
		logPath := filepath.Join(s.dir, zkLogFile)
		return fmt.Errorf("%w\n--- %s ---\n%s", err, logPath, zkLogTail(logPath, logStart))
	}
	return nil
}

func (s *localZK) stop(ctx context.Context) error {
	return s.signal(ctx, syscall.SIGTERM)
}

func (s *localZK) kill(ctx context.Context) error {
	return s.signal(ctx, syscall.SIGKILL)
}

// signal sends sig to the server and waits for it to exit, killing it if it
// takes longer than zkStopWait.
func (s *localZK) signal(ctx context.Context, sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc
	if p == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(sig)
	t := time.NewTimer(zkStopWait)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.done
	case <-ctx.Done():
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	s.proc = nil
	return nil
}

func (s *localZK) remove(ctx context.Context) error {
	return s.kill(ctx) // its directory goes with the ensemble's
}

// zkLogTail returns the end of the log written since offset.
func zkLogTail(path string, offset int64) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	offset = max(min(offset, int64(len(data))), int64(len(data))-zkLogTailBytes)
	return strings.TrimSpace(string(data[offset:]))
}

// freePorts picks n distinct free TCP ports on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// --- docker backend ----------------------------------------------------------

// dockerZK is a ZooKeeper container.
type dockerZK struct {
	ctr *tc.DockerContainer

	mu   sync.Mutex
	host string
	port string
	up   bool
}

func startDockerEnsemble(ctx context.Context, n int) (*Ensemble, error) {
	image := cmp.Or(os.Getenv(EnvZooKeeperImage), defaultZooKeeperImage)
	e := &Ensemble{backend: BackendDocker}
	env := map[string]string{
		"ZOO_TICK_TIME":              strconv.FormatInt(ZooKeeperTickTime.Milliseconds(), 10),
		"ZOO_INIT_LIMIT":             "10",
		"ZOO_SYNC_LIMIT":             "5",
		"ZOO_4LW_COMMANDS_WHITELIST": "*",
		"ZOO_ADMINSERVER_ENABLED":    "false",
		"ZOO_CFG_EXTRA":              "forceSync=no",
		"JVMFLAGS": "-Xmx128m -Dzookeeper.cnxTimeout=500 -Dzookeeper.snapshot.trust.empty=true " +
			"-Dzookeeper.fastleader.minNotificationInterval=100 -Dzookeeper.fastleader.maxNotificationInterval=1000",
	}
	var nw *tc.DockerNetwork
	if n > 1 {
		var err error
		if nw, err = tcnetwork.New(ctx); err != nil {
			return nil, fmt.Errorf("create network: %w", err)
		}
		e.cleanup = nw.Remove
		var servers []string
		for i := range n {
			servers = append(servers, fmt.Sprintf("server.%d=zk%d:2888:3888;2181", i+1, i+1))
		}
		env["ZOO_SERVERS"] = strings.Join(servers, " ")
	}
	for i := range n {
		nodeEnv := map[string]string{"ZOO_MY_ID": strconv.Itoa(i + 1)}
		for k, v := range env {
			nodeEnv[k] = v
		}
		opts := []tc.ContainerCustomizer{
			tc.WithEnv(nodeEnv),
			tc.WithExposedPorts(zkClientPort),
			fixedZooKeeperPort(),
		}
		if nw != nil {
			opts = append(opts, tcnetwork.WithNetwork([]string{fmt.Sprintf("zk%d", i+1)}, nw))
		}
		ctr, err := tc.Run(ctx, image, opts...)
		if err != nil {
			_ = tc.TerminateContainer(ctr)
			_ = e.close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("run %s: %w", image, err)
		}
		e.nodes = append(e.nodes, &dockerZK{ctr: ctr, up: true})
	}
	for i, node := range e.nodes {
		if err := node.(*dockerZK).refreshAddr(ctx); err != nil {
			_ = e.close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("server %d: %w", i, err)
		}
	}
	for i, node := range e.nodes {
		if err := node.waitReady(ctx, true); err != nil {
			_ = e.close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("server %d: %w", i, err)
		}
	}
	return e, nil
}

// fixedZooKeeperPort binds the client port to a port free on this machine,
// so that the address stays valid across Stop and Start.
func fixedZooKeeperPort() tc.CustomizeRequestOption {
	port := "0"
	if ps, err := freePorts(1); err == nil {
		port = strconv.Itoa(ps[0])
	}
	return tc.WithHostConfigModifier(func(hc *container.HostConfig) {
		hc.PortBindings = network.PortMap{network.MustParsePort(zkClientPort): {{HostPort: port}}}
	})
}

func (d *dockerZK) refreshAddr(ctx context.Context) error {
	host, err := d.ctr.Host(ctx)
	if err != nil {
		return fmt.Errorf("container host: %w", err)
	}
	port, err := d.ctr.MappedPort(ctx, zkClientPort)
	if err != nil {
		return fmt.Errorf("container port: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.host, d.port = host, port.Port()
	return nil
}

func (d *dockerZK) addr() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return net.JoinHostPort(d.host, d.port)
}

func (d *dockerZK) running() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.up
}

func (d *dockerZK) setUp(up bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.up = up
}

func (d *dockerZK) launch(ctx context.Context) error {
	if err := d.ctr.Start(ctx); err != nil {
		return err
	}
	d.setUp(true)
	return d.refreshAddr(ctx)
}

func (d *dockerZK) waitReady(ctx context.Context, withQuorum bool) error {
	check := func(ctx context.Context) error { return tcpAccepts(ctx, d.addr()) }
	if withQuorum {
		check = func(ctx context.Context) error { return serves(ctx, d.addr()) }
	}
	return pollReady(ctx, check, func() error { return nil })
}

func (d *dockerZK) stop(ctx context.Context) error {
	timeout := zkStopWait
	if err := d.ctr.Stop(ctx, &timeout); err != nil {
		return err
	}
	d.setUp(false)
	return nil
}

func (d *dockerZK) kill(ctx context.Context) error {
	var timeout time.Duration // SIGKILL at once
	if err := d.ctr.Stop(ctx, &timeout); err != nil {
		return err
	}
	d.setUp(false)
	return nil
}

func (d *dockerZK) remove(ctx context.Context) error {
	d.setUp(false)
	return d.ctr.Terminate(ctx)
}
