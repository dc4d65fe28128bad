package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// syncBuffer is a log destination tests can read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func startServer(t *testing.T, cfg Config) (*Server, string, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := New(cfg, panicky{})
	addr, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, addr.String(), logs
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// apiVersions sends ApiVersions on c and reads the answer within wait.
func apiVersions(c net.Conn, wait time.Duration) error {
	c.SetDeadline(time.Now().Add(wait))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(kmsg.NewRequestFormatter().AppendRequest(nil, kmsg.NewPtrApiVersionsRequest(), 1)); err != nil {
		return err
	}
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		return err
	}
	_, err := io.ReadFull(c, make([]byte, binary.BigEndian.Uint32(size[:])))
	return err
}

// closedByServer reports whether the server closed c (a read sees EOF or a
// reset) within wait.
func closedByServer(c net.Conn, wait time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(wait))
	defer c.SetReadDeadline(time.Time{})
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// failingListener fails its first n accepts with EMFILE, as a process at its
// file descriptor limit does.
type failingListener struct {
	net.Listener
	mu sync.Mutex
	n  int
}

func (l *failingListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	fail := l.n > 0
	l.n--
	l.mu.Unlock()
	if fail {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// TestAcceptErrorsBackOff checks that accept errors no longer stop the
// accept loop: the server backs off, logs once (rate-limited) and serves
// the connection that waited.
func TestAcceptErrorsBackOff(t *testing.T) {
	logs := &syncBuffer{}
	s := New(Config{Logger: slog.New(slog.NewTextHandler(logs, nil))}, panicky{})
	defer s.Close()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &failingListener{Listener: inner, n: 5}
	if err := s.Serve(l); err != nil {
		t.Fatal(err)
	}
	c := dial(t, inner.Addr().String())
	if err := apiVersions(c, 10*time.Second); err != nil {
		t.Fatalf("not served after 5 accept errors: %v", err)
	}
	if got := strings.Count(logs.String(), "accepting a connection failed"); got != 1 {
		t.Errorf("%d accept-error lines for 5 errors in well under %v, want 1 (rate-limited):\n%s", got, acceptLogInterval, logs)
	}
	if !strings.Contains(logs.String(), "too many open files") {
		t.Errorf("the log does not say why:\n%s", logs)
	}
}

// TestAcceptSurvivesFileDescriptorExhaustion is the reproduction:
// the process runs out of file descriptors (RLIMIT_NOFILE) while a client
// connects; once descriptors are free again the waiting client is served.
func TestAcceptSurvivesFileDescriptorExhaustion(t *testing.T) {
	_, addr, logs := startServer(t, Config{})
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	var fillers []*os.File
	restore := func() {
		for _, f := range fillers {
			f.Close()
		}
		fillers = nil
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old)
	}
	defer restore()
	// Open descriptors up to a lowered limit (a few above those open now),
	// then free one for the client.
	open, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open descriptors: %v", err)
	}
	lowered := old
	lowered.Cur = min(old.Cur, uint64(len(open)+32))
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lowered); err != nil {
		t.Skipf("cannot lower RLIMIT_NOFILE: %v", err)
	}
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			if !errors.Is(err, syscall.EMFILE) {
				t.Fatal(err)
			}
			break
		}
		fillers = append(fillers, f)
	}
	if len(fillers) == 0 {
		t.Fatal("no descriptor could be opened under the lowered limit")
	}
	fillers[len(fillers)-1].Close()
	fillers = fillers[:len(fillers)-1]
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial with one descriptor left: %v", err)
	}
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "too many open files") {
		if time.Now().After(deadline) {
			t.Fatalf("no accept error logged at the descriptor limit:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	restore()
	if err := apiVersions(c, 10*time.Second); err != nil {
		t.Fatalf("the client that connected at the limit is not served once descriptors are free: %v", err)
	}
	if err := apiVersions(dial(t, addr), 10*time.Second); err != nil {
		t.Fatalf("a new client is not served: %v", err)
	}
}

// TestMaxConnectionsPerIP checks Kafka's per-IP quota: the connection past
// it is closed at once, the ones before keep working, and a closed one frees
// its place; an override replaces the default for its address.
func TestMaxConnectionsPerIP(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limits Limits
		want   int
	}{
		{"default", Limits{MaxConnections: 100, MaxConnectionsPerIP: 2, MaxIdle: -1}, 2},
		{"override", Limits{MaxConnections: 100, MaxConnectionsPerIP: 0, MaxIdle: -1,
			PerIPOverrides: map[netip.Addr]int{netip.MustParseAddr("127.0.0.1"): 3}}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, addr, logs := startServer(t, Config{Limits: &tc.limits})
			var open []net.Conn
			for i := 0; i < tc.want; i++ {
				c := dial(t, addr)
				if err := apiVersions(c, 5*time.Second); err != nil {
					t.Fatalf("connection %d within the limit: %v", i+1, err)
				}
				open = append(open, c)
			}
			extra := dial(t, addr)
			if !closedByServer(extra, 5*time.Second) {
				t.Fatalf("connection %d past max.connections.per.ip=%d was not closed", tc.want+1, tc.want)
			}
			for i, c := range open {
				if err := apiVersions(c, 5*time.Second); err != nil {
					t.Fatalf("connection %d stopped working after the extra one was refused: %v", i+1, err)
				}
			}
			if !strings.Contains(logs.String(), "rejected a connection") {
				t.Errorf("the refusal is not logged:\n%s", logs)
			}
			open[0].Close()
			// The server notices the close asynchronously; a new connection
			// gets the freed place once it has.
			deadline := time.Now().Add(10 * time.Second)
			for {
				c := dial(t, addr)
				if apiVersions(c, time.Second) == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("a closed connection's place was never freed")
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// TestMaxConnections checks the broker-wide limit: at it the server stops
// accepting (the newcomer waits, unanswered but not closed) until a
// connection closes or the limit is raised, then serves the newcomer.
func TestMaxConnections(t *testing.T) {
	limits := Limits{MaxConnections: 2, MaxConnectionsPerIP: 100, MaxIdle: -1}
	s, addr, logs := startServer(t, Config{Limits: &limits})
	a, b := dial(t, addr), dial(t, addr)
	for _, c := range []net.Conn{a, b} {
		if err := apiVersions(c, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	// waits sends ApiVersions on a new connection and checks that no
	// answer comes; answered then reads the answer once it may.
	waits := func() net.Conn {
		t.Helper()
		c := dial(t, addr)
		var ne net.Error
		if err := apiVersions(c, 300*time.Millisecond); !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("a connection past max.connections=%d: %v, want no answer (a timeout)", limits.MaxConnections, err)
		}
		return c
	}
	answered := func(c net.Conn, after string) {
		t.Helper()
		// The request sent by waits is still queued on the connection.
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		var size [4]byte
		if _, err := io.ReadFull(c, size[:]); err != nil {
			t.Fatalf("the waiting connection was not served after %s: %v", after, err)
		}
	}
	third := waits()
	if !strings.Contains(logs.String(), "max.connections reached") {
		t.Errorf("the pause is not logged:\n%s", logs)
	}
	a.Close()
	answered(third, "a connection closed")

	fourth := waits()
	limits.MaxConnections = 3
	s.SetLimits(limits)
	answered(fourth, "max.connections was raised")
	if err := apiVersions(b, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

// TestIdleConnectionsClosed checks connections.max.idle.ms: a connection
// that sends nothing is closed after it, one that keeps sending is not.
func TestIdleConnectionsClosed(t *testing.T) {
	const idle = 300 * time.Millisecond
	_, addr, logs := startServer(t, Config{Limits: &Limits{MaxConnections: 100, MaxConnectionsPerIP: 100, MaxIdle: idle}})
	quiet, busy := dial(t, addr), dial(t, addr)
	if err := apiVersions(quiet, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for time.Since(start) < 3*idle {
		if err := apiVersions(busy, 5*time.Second); err != nil {
			t.Fatalf("a connection sending every %v was closed: %v", idle/6, err)
		}
		time.Sleep(idle / 6)
	}
	if !closedByServer(quiet, 10*time.Second) {
		t.Fatal("an idle connection was not closed")
	}
	if !strings.Contains(logs.String(), "closing idle connection") {
		t.Errorf("the close is not logged:\n%s", logs)
	}
}
