package quorum

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// Peer is a voter of a quorum of several nodes: its node ID and the
// address of its controller listener.
type Peer struct {
	ID   int32
	Addr string
}

// rpcMagic is the first byte of a connection to the controller RPC
// (rpc.go). Raft's network transport opens every connection with the type
// of its first RPC, 0 to 4 (AppendEntries ... RequestPreVote), so one
// listener carries both: raft's transport cannot carry our requests, and a
// controller has one listener.
const rpcMagic byte = 0xA5

// Transport timings: how long a raft RPC or a connection's first byte may
// take, and how many idle connections raft keeps per peer.
const (
	transportTimeout = 10 * time.Second
	transportPool    = 3
)

// newTransport returns this node's raft transport. A standalone node talks
// to no one, so it is in memory with a fixed address; a restart with the
// same Dir finds itself in the stored configuration under that address. A
// node of a quorum of several listens on cfg.Listen for raft and for the
// controller RPC (serveRPC), telling peers it is at cfg.Advertise.
func newTransport(cfg Config, hl hclog.Logger, serveRPC func(net.Conn)) (raft.ServerAddress, raft.Transport, error) {
	if !cfg.clustered() {
		addr, t := raft.NewInmemTransport(raft.ServerAddress("samsa-node-" + strconv.Itoa(int(cfg.NodeID))))
		return addr, t, nil
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return "", nil, fmt.Errorf("quorum: listen on the controller listener %s: %w", cfg.Listen, err)
	}
	advertise, err := advertisedAddr(cfg, ln.Addr())
	if err != nil {
		ln.Close()
		return "", nil, err
	}
	s := newStreamLayer(ln, advertise, serveRPC, cfg.dial)
	t := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: s, MaxPool: transportPool, Timeout: transportTimeout, Logger: hl,
	})
	return raft.ServerAddress(advertise), t, nil
}

// advertisedAddr is the address peers reach this node at: cfg.Advertise,
// else a voter's own entry in Voters, else the bound address (its host
// replaced by Advertise's host when that has port 0).
func advertisedAddr(cfg Config, bound net.Addr) (string, error) {
	_, boundPort, err := net.SplitHostPort(bound.String())
	if err != nil {
		return "", fmt.Errorf("quorum: bound address %s: %w", bound, err)
	}
	if cfg.Advertise != "" {
		host, port, err := net.SplitHostPort(cfg.Advertise)
		if err != nil {
			return "", fmt.Errorf("quorum: advertised address %q: %w", cfg.Advertise, err)
		}
		if port == "0" {
			port = boundPort
		}
		return net.JoinHostPort(host, port), nil
	}
	for _, v := range cfg.Voters {
		if v.ID == cfg.NodeID {
			return v.Addr, nil
		}
	}
	return bound.String(), nil
}

// streamLayer is raft's StreamLayer over one TCP listener shared with the
// controller RPC: a goroutine per new connection reads its first byte and
// hands it to serveRPC (rpcMagic) or to raft's Accept.
type streamLayer struct {
	ln        net.Listener
	advertise string
	serveRPC  func(net.Conn)
	dial      func(context.Context, string) (net.Conn, error) // Config.dial
	raftConns chan net.Conn
	quit      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{} // every accepted connection, closed by Close
}

var _ raft.StreamLayer = (*streamLayer)(nil)

func newStreamLayer(ln net.Listener, advertise string, serveRPC func(net.Conn), dial func(context.Context, string) (net.Conn, error)) *streamLayer {
	s := &streamLayer{ln: ln, advertise: advertise, serveRPC: serveRPC, dial: dial,
		raftConns: make(chan net.Conn), quit: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.acceptLoop()
	return s
}

func (s *streamLayer) acceptLoop() {
	defer s.wg.Done()
	backoff := 5 * time.Millisecond
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.quit:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and the like: wait and retry, as net/http does.
			select {
			case <-s.quit:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		if !s.track(conn) {
			conn.Close()
			return
		}
		s.wg.Add(1)
		go s.route(conn)
	}
}

// track records conn so that Close closes it; false once closed.
func (s *streamLayer) track(conn net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.quit:
		return false
	default:
	}
	s.conns[conn] = struct{}{}
	return true
}

func (s *streamLayer) untrack(conn net.Conn) {
	s.mu.Lock()
	delete(s.conns, conn)
	s.mu.Unlock()
}

// route reads the connection's first byte and hands it on.
func (s *streamLayer) route(conn net.Conn) {
	defer s.wg.Done()
	_ = conn.SetReadDeadline(time.Now().Add(transportTimeout))
	r := bufio.NewReader(conn)
	first, err := r.Peek(1)
	_ = conn.SetReadDeadline(time.Time{})
	if err != nil {
		s.untrack(conn)
		conn.Close()
		return
	}
	c := &bufferedConn{Conn: conn, r: r, release: func() { s.untrack(conn) }}
	if first[0] == rpcMagic {
		_, _ = r.Discard(1)
		s.serveRPC(c)
		s.untrack(conn)
		conn.Close()
		return
	}
	select {
	case s.raftConns <- c:
	case <-s.quit:
		conn.Close()
	}
}

// Accept returns the next raft connection.
func (s *streamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-s.raftConns:
		return c, nil
	case <-s.quit:
		return nil, net.ErrClosed
	}
}

// Close stops accepting, closes every accepted connection and waits for
// the goroutines routing and serving them.
func (s *streamLayer) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.mu.Lock()
		close(s.quit)
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		err = s.ln.Close()
		s.wg.Wait()
	})
	return err
}

// Addr is the address peers reach this node at.
func (s *streamLayer) Addr() net.Addr { return tcpAddr(s.advertise) }

// Dial connects to a peer's raft transport.
func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.dial(ctx, string(address))
}

// tcpAddr is an address as configured (a host name stays a name).
type tcpAddr string

func (a tcpAddr) Network() string { return "tcp" }
func (a tcpAddr) String() string  { return string(a) }

// bufferedConn is a connection whose first bytes were read ahead; closing
// it forgets it in the stream layer.
type bufferedConn struct {
	net.Conn
	r       *bufio.Reader
	release func()
	once    sync.Once
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *bufferedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
