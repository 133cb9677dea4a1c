package redistest

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m) }

// do sends one command in RESP and returns the first reply line.
func do(t *testing.T, addr string, args ...string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		t.Fatalf("write: %v", err)
	}
	rd := bufio.NewReader(conn)
	line, err := rd.ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if strings.HasPrefix(line, "$") && !strings.HasPrefix(line, "$-1") {
		line, err = rd.ReadString('\n')
		if err != nil {
			t.Fatalf("read: %v", err)
		}
	}
	return strings.TrimSpace(line)
}

func hostPort(t *testing.T, url string) string {
	t.Helper()
	rest, ok := strings.CutPrefix(url, "redis://")
	if !ok {
		t.Fatalf("URL %q does not start with redis://", url)
	}
	host, _, _ := strings.Cut(rest, "/")
	return host
}

func TestURL(t *testing.T) {
	t.Run("returns AUTHENGINE_TEST_REDIS_URL when it is set", func(t *testing.T) {
		t.Setenv(EnvURL, "redis://example.invalid:1/3")
		if got := URL(t); got != "redis://example.invalid:1/3" {
			t.Fatalf("URL = %q, want the env value", got)
		}
	})
	t.Run("starts one shared server that answers and is reused", func(t *testing.T) {
		t.Setenv(EnvURL, "")
		first := URL(t)
		if got := do(t, hostPort(t, first), "PING"); got != "+PONG" {
			t.Fatalf("PING = %q", got)
		}
		if second := URL(t); second != first {
			t.Fatalf("second URL %q differs from first %q", second, first)
		}
	})
}

func TestPrefix(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		p := Prefix(t)
		if seen[p] {
			t.Fatalf("Prefix repeated %q", p)
		}
		seen[p] = true
		if strings.ContainsAny(p, "{} ") || !strings.HasSuffix(p, ":") {
			t.Fatalf("Prefix %q has a brace or space, or lacks the ':' suffix", p)
		}
	}
	t.Run("a name with {braces} and spaces is made safe", func(t *testing.T) {
		if p := Prefix(t); strings.ContainsAny(p, "{} ") {
			t.Fatalf("Prefix %q", p)
		}
	})
}

func TestPrivate(t *testing.T) {
	t.Run("append-only data survives a stop and a start on the same port", func(t *testing.T) {
		s := Private(t, PrivateOptions{AppendOnly: true})
		addr := s.Addr()
		if got := do(t, addr, "SET", "k", "v"); got != "+OK" {
			t.Fatalf("SET = %q", got)
		}
		s.Stop()
		if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			t.Fatal("server still accepts connections after Stop")
		}
		s.Stop() // a second Stop does nothing
		s.Start()
		if s.Addr() != addr {
			t.Fatalf("restarted on %s, want %s", s.Addr(), addr)
		}
		if got := do(t, addr, "GET", "k"); got != "v" {
			t.Fatalf("GET after restart = %q, want v", got)
		}
	})
	t.Run("without append-only the data is gone after a restart", func(t *testing.T) {
		s := Private(t, PrivateOptions{})
		do(t, s.Addr(), "SET", "k", "v")
		s.Stop()
		s.Start()
		if got := do(t, s.Addr(), "GET", "k"); got != "$-1" {
			t.Fatalf("GET after restart = %q, want nil", got)
		}
	})
	t.Run("two private servers get different ports", func(t *testing.T) {
		a, b := Private(t, PrivateOptions{}), Private(t, PrivateOptions{})
		if a.URL() == b.URL() {
			t.Fatalf("both servers at %s", a.URL())
		}
	})
}

// recordingTB records Fatalf instead of stopping the test, so the failure
// message itself can be checked.
type recordingTB struct {
	testing.TB
	mu    sync.Mutex
	fatal string
}

func (r *recordingTB) Fatalf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fatal = fmt.Sprintf(format, args...)
}

func TestPrivateFailsWithInstructionsWithoutRedisServer(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	rec := &recordingTB{TB: t}
	Private(rec, PrivateOptions{})
	if !strings.Contains(rec.fatal, "install redis-server") {
		t.Fatalf("failure message %q does not say how to get Redis", rec.fatal)
	}
}
