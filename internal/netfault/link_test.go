package netfault

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// noLeaks fails t if goroutines started during the test outlive it. It
// must be called first, so that its cleanup runs after every other one.
func noLeaks(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// target is a TCP server for link tests: it hands every accepted
// connection to the test, or echoes it when echo is set.
type target struct {
	ln    net.Listener
	echo  bool
	conns chan net.Conn
	wg    sync.WaitGroup

	mu       sync.Mutex
	accepted int
	open     []net.Conn
}

func startTarget(t *testing.T, echo bool) *target {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &target{ln: ln, echo: echo, conns: make(chan net.Conn, 100)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.accepted++
			s.open = append(s.open, c)
			s.mu.Unlock()
			if !echo {
				s.conns <- c
				continue
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				_, _ = io.Copy(c, c)
				_ = c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.open {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *target) addr() string { return s.ln.Addr().String() }

func (s *target) acceptedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// next returns the next connection the target accepted.
func (s *target) next(t *testing.T) net.Conn {
	t.Helper()
	select {
	case c := <-s.conns:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("the target accepted no connection")
		return nil
	}
}

func newLink(t *testing.T, cfg LinkConfig) *Link {
	t.Helper()
	l, err := NewLink(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// echoThrough starts an echo target, a link to it and a connection through
// the link that has made one round trip.
func echoThrough(t *testing.T) (*target, *Link, net.Conn) {
	t.Helper()
	echo := startTarget(t, true)
	l := newLink(t, LinkConfig{Target: echo.addr()})
	c := dial(t, l.Addr())
	write(t, c, "warm")
	readExactly(t, c, "warm")
	return echo, l, c
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func write(t *testing.T, c net.Conn, p string) {
	t.Helper()
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(p)); err != nil {
		t.Fatalf("write %q: %v", p, err)
	}
}

// readExactly reads len(want) bytes within 10 seconds and compares them.
func readExactly(t *testing.T, c net.Conn, want string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read %q: got %q: %v", want, got, err)
	}
	if string(got) != want {
		t.Fatalf("read %q, want %q", got, want)
	}
}

// readTimesOut checks that nothing arrives on c within d.
func readTimesOut(t *testing.T, c net.Conn, d time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	var ne net.Error
	if n != 0 || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read through a blackhole: %d bytes %q, err %v; want a timeout and no bytes", n, buf[:n], err)
	}
}

// readFails checks that c ends with a reset or an end of stream, not a
// timeout.
func readFails(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := c.Read(make([]byte, 64))
	var ne net.Error
	if n != 0 || err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("read of a dropped connection: %d bytes, err %v; want a reset or EOF", n, err)
	}
}

// TestLinkPassesBytes sends random bytes through a link to an echo server
// on many connections at once, one of them large, each half-closing when
// done, and checks that every byte came back in order and that the link
// counted them in both directions.
func TestLinkPassesBytes(t *testing.T) {
	noLeaks(t)
	echo := startTarget(t, true)
	l := newLink(t, LinkConfig{Target: echo.addr()})
	sizes := []int{16 << 20}
	for range 16 {
		sizes = append(sizes, 1<<20+rand.IntN(1<<16))
	}
	var total int64
	for _, n := range sizes {
		total += int64(n)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(sizes))
	for i, n := range sizes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- roundTrip(l.Addr(), uint64(i), n)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s := l.Stats()
	if s.Accepted != int64(len(sizes)) || s.Bytes[ToTarget] != total || s.Bytes[FromTarget] != total {
		t.Fatalf("stats %+v, want %d connections and %d bytes each way", s, len(sizes), total)
	}
}

// roundTrip writes n seeded random bytes on a new connection to addr,
// half-closes, and checks that exactly the same bytes come back before
// the end of stream.
func roundTrip(addr string, seed uint64, n int) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	sent := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed))
	for i := range sent {
		sent[i] = byte(r.Uint32())
	}
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(sent)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		werr <- err
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		return err
	}
	if err := <-werr; err != nil {
		return err
	}
	if !bytes.Equal(got, sent) {
		return errors.New("netfault: the bytes that came back differ from those sent")
	}
	return nil
}

// TestLinkBlackhole: with ToTarget blackholed, what a client sends never
// reaches the target and the client's read times out with no bytes; a
// connection made meanwhile is not dialled; healing delivers what was held
// on both, in order.
func TestLinkBlackhole(t *testing.T) {
	noLeaks(t)
	echo, l, c := echoThrough(t)

	l.Set(ToTarget, Fault{Mode: Blackhole})
	write(t, c, "held")
	readTimesOut(t, c, 300*time.Millisecond)
	fresh := dial(t, l.Addr())
	write(t, fresh, "fresh")
	readTimesOut(t, fresh, 300*time.Millisecond)
	if n := echo.acceptedCount(); n != 1 {
		t.Fatalf("the target accepted %d connections during the blackhole, want only the first", n)
	}
	if s := l.Stats(); s.Bytes[ToTarget] != int64(len("warm")) {
		t.Fatalf("%d bytes reached the target, want only %q", s.Bytes[ToTarget], "warm")
	}

	l.Heal()
	readExactly(t, c, "held")
	readExactly(t, fresh, "fresh")
	write(t, c, "after")
	readExactly(t, c, "after")
}

// TestLinkDrop: Drop resets the open connections and resets new ones
// without reaching the target; Heal lets new connections through again.
func TestLinkDrop(t *testing.T) {
	noLeaks(t)
	echo, l, c := echoThrough(t)

	l.Set(FromTarget, Fault{Mode: Drop})
	readFails(t, c)
	for range 3 {
		if c, err := net.DialTimeout("tcp", l.Addr(), 5*time.Second); err == nil {
			readFails(t, c)
			c.Close()
		}
	}
	if n := echo.acceptedCount(); n != 1 {
		t.Fatalf("the target accepted %d connections while dropping, want 1", n)
	}

	l.Heal()
	c = dial(t, l.Addr())
	write(t, c, "healed")
	readExactly(t, c, "healed")
}

// TestLinkOneWay blackholes one direction of an open connection at a time:
// the other keeps passing.
func TestLinkOneWay(t *testing.T) {
	noLeaks(t)
	srv := startTarget(t, false)
	l := newLink(t, LinkConfig{Target: srv.addr()})
	c := dial(t, l.Addr())
	write(t, c, "hello")
	s := srv.next(t)
	readExactly(t, s, "hello")

	l.Set(ToTarget, Fault{Mode: Blackhole})
	write(t, s, "down")
	readExactly(t, c, "down")
	write(t, c, "up")
	readTimesOut(t, s, 300*time.Millisecond)

	l.Set(ToTarget, Fault{})
	l.Set(FromTarget, Fault{Mode: Blackhole})
	readExactly(t, s, "up")
	write(t, c, "up2")
	readExactly(t, s, "up2")
	write(t, s, "down2")
	readTimesOut(t, c, 300*time.Millisecond)

	l.Heal()
	readExactly(t, c, "down2")
}

// TestLinkDelay: a delayed direction delivers no sooner than the delay,
// and lowering the delay releases what is waiting at once.
func TestLinkDelay(t *testing.T) {
	noLeaks(t)
	_, l, c := echoThrough(t)

	const delay = 200 * time.Millisecond
	l.Set(ToTarget, Fault{Delay: delay})
	start := time.Now()
	write(t, c, "slow")
	readExactly(t, c, "slow")
	if took := time.Since(start); took < delay {
		t.Fatalf("a round trip with %v delay took %v", delay, took)
	}

	l.Set(FromTarget, Fault{Delay: time.Hour})
	write(t, c, "held")
	readTimesOut(t, c, delay+300*time.Millisecond)
	l.Heal()
	readExactly(t, c, "held")
}

// TestLinkLoss: Loss 1 resets every connection at its first chunk; with a
// fractional loss the outcomes of one connection after another are the
// same for the same seed, and include both losses and deliveries.
func TestLinkLoss(t *testing.T) {
	noLeaks(t)
	echo := startTarget(t, true)
	always := newLink(t, LinkConfig{Target: echo.addr()})
	always.Set(ToTarget, Fault{Loss: 1})
	c := dial(t, always.Addr())
	write(t, c, "x")
	readFails(t, c)

	outcomes := func(seed uint64) []bool {
		l := newLink(t, LinkConfig{Target: echo.addr(), Seed: seed})
		l.Set(ToTarget, Fault{Loss: 0.5})
		var got []bool
		for range 40 {
			c := dial(t, l.Addr())
			write(t, c, "x")
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, err := c.Read(make([]byte, 1))
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("a lossy link held a connection instead of passing or resetting it")
			}
			got = append(got, n == 1)
			c.Close()
		}
		return got
	}
	a, b := outcomes(7), outcomes(7)
	passed := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("connection %d: %v with seed 7, then %v with seed 7", i, a[i], b[i])
		}
		if a[i] {
			passed++
		}
	}
	if passed == 0 || passed == len(a) {
		t.Fatalf("%d of %d connections passed with loss 0.5", passed, len(a))
	}
}

// TestLinkCloseStopsEverything closes a link with connections in every
// state (passing, held by a blackhole before and after dialling, delayed,
// waiting to write to a peer that does not read) and checks that no
// goroutine is left and the peers see their connections end.
func TestLinkCloseStopsEverything(t *testing.T) {
	noLeaks(t)
	srv := startTarget(t, false)
	l, err := NewLink(LinkConfig{Target: srv.addr()})
	if err != nil {
		t.Fatal(err)
	}
	passing := dial(t, l.Addr())
	write(t, passing, "p")
	srvPassing := srv.next(t)
	readExactly(t, srvPassing, "p")
	// The target never reads: the link's writer blocks on a full socket.
	flood := dial(t, l.Addr())
	srv.next(t)
	go func() { _, _ = flood.Write(make([]byte, 64<<20)) }()
	l.Set(FromTarget, Fault{Delay: time.Hour})
	write(t, srvPassing, "delayed")
	l.Set(ToTarget, Fault{Mode: Blackhole})
	held := dial(t, l.Addr())
	write(t, held, "held")
	time.Sleep(100 * time.Millisecond)

	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	readFails(t, passing)
	readFails(t, held)
	if s := l.Stats(); s.Open != 0 {
		t.Fatalf("%d connections open after Close", s.Open)
	}
	if _, err := net.DialTimeout("tcp", l.Addr(), time.Second); err == nil {
		t.Fatal("a closed link accepted a connection")
	}
}
