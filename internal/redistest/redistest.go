// Package redistest gives tests a real Redis. It owns nothing but test
// plumbing: it starts and stops redis-server processes and hands out URLs
// and key prefixes; it never talks to the engine's stores.
//
// URL returns AUTHENGINE_TEST_REDIS_URL when it is set, and otherwise the
// URL of one private redis-server shared by the whole test binary, started
// on first use on a free loopback port. When neither is possible the test
// fails (it never skips) and says how to get Redis. Private always starts a
// server of the test's own, for fault tests that stop and restart it.
// StartCluster and StartSentinel start a real Redis Cluster (three masters,
// three replicas) and a real Sentinel set (master, replica, three
// Sentinels) of the test's own, for failover tests that kill -9 a master;
// they skip when redis-server, redis-sentinel or redis-cli is missing, and
// fail instead under CI=true.
//
// The shared server is the package's only state: a sync.Once and the
// result it guards. It is stopped by Main (call it from TestMain) when the
// test binary ends; on Linux the server also dies with the test binary
// (parent-death signal), so a binary that does not call Main leaks no
// process either.
package redistest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// EnvURL is the environment variable that points tests at an existing
// Redis, e.g. redis://127.0.0.1:6379/0.
const EnvURL = "AUTHENGINE_TEST_REDIS_URL"

// howToGetRedis ends every failure message so a developer knows what to do.
const howToGetRedis = "set " + EnvURL + "=redis://HOST:PORT/DB to use a running Redis, " +
	"or install redis-server (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) " +
	"so the tests can start a private one"

// shared is the one server URL starts per test binary. The sync.Once is
// the only package-level state; see the package doc.
var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// URL returns the URL of a Redis for t: AUTHENGINE_TEST_REDIS_URL when
// set, otherwise the test binary's shared private redis-server (started on
// first use). It fails t when neither is possible. Tests sharing one Redis
// keep apart with Prefix.
func URL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "redistest-shared-")
		if err != nil {
			shared.err = fmt.Errorf("make a directory for redis-server: %w", err)
			return
		}
		srv := &Server{dir: dir, removeDir: true}
		if err := srv.start(); err != nil {
			_ = os.RemoveAll(dir)
			shared.err = err
			return
		}
		shared.srv = srv
	})
	if shared.err != nil {
		t.Fatalf("redistest: no Redis for this test: %v; %s", shared.err, howToGetRedis)
	}
	return shared.srv.URL()
}

// Main runs the tests of a package and then stops the shared server that
// URL may have started. Call it from TestMain:
//
//	func TestMain(m *testing.M) { redistest.Main(m) }
func Main(m *testing.M) { os.Exit(run(m)) }

// MainNoLeaks is Main for a package that must stop every goroutine it
// starts: once the tests passed and the shared server stopped, a goroutine
// still running fails the package (goleak).
//
//	func TestMain(m *testing.M) { redistest.MainNoLeaks(m) }
func MainNoLeaks(m *testing.M) {
	code := run(m)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// run runs the tests, then stops the shared server.
func run(m *testing.M) int {
	code := m.Run()
	if shared.srv != nil {
		_ = shared.srv.stop()
		_ = os.RemoveAll(shared.srv.dir)
	}
	return code
}

// Prefix returns a key prefix unique to t (its name plus random bytes),
// ending in ':', so that tests sharing one Redis never touch each other's
// keys. It contains no '{' or '}', so it never changes a key's hash slot.
func Prefix(t testing.TB) string {
	t.Helper()
	name := []byte(t.Name())
	for i, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '/'
		if !ok {
			name[i] = '_'
		}
	}
	if len(name) > 48 {
		name = name[:48]
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("redistest: random prefix: %v", err)
	}
	return "test:" + string(name) + ":" + hex.EncodeToString(b[:]) + ":"
}

// PrivateOptions configures a Private server.
type PrivateOptions struct {
	// AppendOnly turns on the append-only file (fsync always), so data
	// written before Stop is back after Start.
	AppendOnly bool
}

// Server is a redis-server process owned by a test. Its port and directory
// stay the same across Stop and Start.
type Server struct {
	t          testing.TB // fails on Stop/Start errors; nil for the shared server
	dir        string
	port       int
	appendOnly bool
	removeDir  bool // the shared server's dir is not a t.TempDir
	// extra are more redis-server arguments (cluster mode, replicaof).
	extra []string
	// sentinelConf, when set, makes this a redis-sentinel: the
	// configuration file's text, written before each launch, with %d for
	// the port.
	sentinelConf string

	mu  sync.Mutex
	cmd *exec.Cmd
	// exited is closed when cmd has been waited for.
	exited chan struct{}
}

// Private starts a redis-server of t's own, in a temporary directory on a
// free loopback port, and stops it when t ends. It fails t when
// redis-server cannot be started. It ignores AUTHENGINE_TEST_REDIS_URL:
// fault tests must not stop a server others use.
func Private(t testing.TB, opts PrivateOptions) *Server {
	t.Helper()
	s := &Server{t: t, dir: t.TempDir(), appendOnly: opts.AppendOnly}
	if err := s.start(); err != nil {
		t.Fatalf("redistest: start a private redis-server: %v; install redis-server (Debian/Ubuntu: apt-get install redis-server)", err)
	}
	t.Cleanup(func() { _ = s.stop() })
	return s
}

// URL is the server's redis:// URL (database 0).
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Dir is the server's working directory, where it would write RDB and
// append-only files. Fault tests may take it away to make saves fail.
func (s *Server) Dir() string { return s.dir }

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Stop shuts the server down (SIGTERM, which flushes the append-only file;
// SIGKILL if it has not exited within 10 seconds) and waits for it to exit.
// Stopping a stopped server does nothing. An error fails the test that
// made the server; call Stop from that test's goroutine.
func (s *Server) Stop() {
	s.t.Helper()
	if err := s.stop(); err != nil {
		s.t.Fatalf("redistest: stop redis-server: %v", err)
	}
}

// Start restarts a stopped server on the same port and directory, so data
// in its append-only file comes back. It waits until the server answers
// PING. Starting a running server does nothing. An error fails the test
// that made the server; call Start from that test's goroutine.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	running := s.cmd != nil
	s.mu.Unlock()
	if running {
		return
	}
	if err := s.launch(s.port); err != nil {
		s.t.Fatalf("redistest: restart redis-server on port %d: %v", s.port, err)
	}
}

// start picks a free port and launches the server, retrying when another
// process takes the port between the pick and the bind.
func (s *Server) start() error {
	bin := "redis-server"
	if s.sentinelConf != "" {
		bin = "redis-sentinel"
	}
	if _, err := exec.LookPath(bin); err != nil {
		return fmt.Errorf("%s is not on PATH: %w", bin, err)
	}
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		var port int
		port, err = freePort()
		if err != nil {
			return err
		}
		if err = s.launch(port); err == nil {
			return nil
		}
	}
	return err
}

// launch runs redis-server on port and waits until it answers PING.
func (s *Server) launch(port int) error {
	logPath := filepath.Join(s.dir, "redis.log")
	args := []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--dir", s.dir,
		"--logfile", logPath,
		"--daemonize", "no",
		"--save", "",
		"--appendonly", "no",
	}
	if s.appendOnly {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	}
	args = append(args, s.extra...)
	bin := "redis-server"
	if s.sentinelConf != "" {
		// Sentinel rewrites its configuration file, so it gets one of its own.
		conf := filepath.Join(s.dir, "sentinel.conf")
		text := fmt.Sprintf(s.sentinelConf, port) + fmt.Sprintf("\nlogfile %q\ndir %q\n", logPath, s.dir)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			return fmt.Errorf("write sentinel configuration: %w", err)
		}
		bin, args = "redis-sentinel", []string{conf}
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = s.dir
	cmd.SysProcAttr = ProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()

	deadline := time.Now().Add(15 * time.Second)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for {
		select {
		case <-exited:
			return fmt.Errorf("redis-server exited on start: %s", tail(logPath))
		default:
		}
		if ping(addr) == nil {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("redis-server did not answer PING on %s within 15s: %s", addr, tail(logPath))
		}
		time.Sleep(20 * time.Millisecond)
	}

	s.mu.Lock()
	s.port, s.cmd, s.exited = port, cmd, exited
	s.mu.Unlock()
	return nil
}

// Kill kills the server with SIGKILL (no flush, no goodbye to clients or
// replicas) and waits for it to exit, as a crashed machine would. Killing
// a stopped server does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

func (s *Server) stop() error {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal redis-server: %w", err)
	}
	select {
	case <-exited:
		return nil
	case <-time.After(10 * time.Second):
	}
	_ = cmd.Process.Kill()
	<-exited
	return errors.New("redis-server ignored SIGTERM for 10s and was killed")
}

// freePort asks the kernel for a free loopback port. Another process may
// take it before redis-server binds it; start retries then.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	return port, nil
}

// ping sends a RESP PING and expects +PONG (not -LOADING while the
// append-only file is read back).
func ping(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// tail returns the last lines of redis-server's log for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return "log: " + string(bytes.Join(lines, []byte(" | ")))
}
