package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Handler answers requests.
type Handler interface {
	// Serve answers one request whose header has been parsed; body is the
	// rest of the frame and is only valid until Serve returns. A nil
	// response with a nil error sends nothing (a produce with acks=0). An
	// error closes the connection: it is for frames that cannot be
	// answered, never for a Kafka error code. ctx is cancelled when the
	// server shuts down, so that parked requests answer at once.
	Serve(ctx context.Context, c *Conn, h Header, body []byte) (kmsg.Response, error)
}

// Conn describes one client connection to the handler. The handler may
// keep per-connection state in it (Session): requests of one connection
// are served one at a time by one goroutine.
type Conn struct {
	Remote net.Addr
	Local  net.Addr
	// Listener is the listener the connection came in on.
	Listener *Listener
	// TLS is the state of the connection's completed TLS handshake; nil
	// for a connection without TLS.
	TLS *tls.ConnectionState
	// Session is the handler's: who the client is, its SASL exchange.
	Session any
	// CloseAfterResponse, set by the handler, closes the connection once
	// the response to the request being served is sent (a failed
	// authentication).
	CloseAfterResponse bool
}

// Listener names a listener and says how its connections are secured.
type Listener struct {
	Name     string // Kafka's listener name: PLAINTEXT, SASL_SSL, ...
	Protocol string // its security protocol
	// TLS, when set, is the configuration of the TLS handshake every
	// connection starts with.
	TLS *tls.Config
}

// plaintext is the listener of Serve and Listen.
var plaintext = &Listener{Name: "PLAINTEXT", Protocol: "PLAINTEXT"}

// handshakeTimeout bounds a TLS handshake: a client that connects and
// sends nothing holds no slot for longer.
const handshakeTimeout = 10 * time.Second

// Config tunes a Server.
type Config struct {
	// MaxRequestBytes bounds a request frame (socket.request.max.bytes).
	MaxRequestBytes int32
	// Limits bounds connections; nil means no limits.
	Limits *Limits
	Logger *slog.Logger
}

// Server accepts connections and serves Kafka requests on them.
type Server struct {
	cfg     Config
	idle    time.Duration // connections.max.idle.ms; negative: never
	handler Handler
	ctx     context.Context
	cancel  context.CancelFunc
	logs    *LogLimiter
	// closing is closed, readable without mu: a reader that has just moved
	// its idle deadline checks it so that Close's deadline is never lost.
	closing atomic.Bool

	mu        sync.Mutex
	closed    bool
	listeners []net.Listener
	limits    Limits                  // SetLimits may change them
	conns     map[net.Conn]netip.Addr // open connections and their remote IPs
	perIP     map[netip.Addr]int      // open connections by remote IP
	slotFree  *sync.Cond              // on mu: a connection closed, or the server did
	wg        sync.WaitGroup
}

// New returns a server that hands requests to h.
func New(cfg Config, h Handler) *Server {
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = 100 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	limits := noLimits
	if cfg.Limits != nil {
		limits = *cfg.Limits
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg: cfg, idle: limits.MaxIdle, limits: limits, handler: h, ctx: ctx, cancel: cancel,
		logs:  NewLogLimiter(acceptLogInterval, nil),
		conns: make(map[net.Conn]netip.Addr), perIP: make(map[netip.Addr]int),
	}
	s.slotFree = sync.NewCond(&s.mu)
	return s
}

// Listen starts accepting on addr (host:port; port 0 picks a free one) and
// returns the address it listens on.
func (s *Server) Listen(addr string) (net.Addr, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if err := s.Serve(l); err != nil {
		return nil, err
	}
	return l.Addr(), nil
}

// Serve starts accepting connections on l, which the server then owns, as
// a PLAINTEXT listener.
func (s *Server) Serve(l net.Listener) error { return s.ServeListener(l, plaintext) }

// ServeListener starts accepting connections on l, which the server then
// owns, secured as info says.
func (s *Server) ServeListener(l net.Listener, info *Listener) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		l.Close()
		return errors.New("server: closed")
	}
	s.listeners = append(s.listeners, l)
	s.wg.Add(1)
	go s.accept(l, info)
	return nil
}

// Close stops accepting, answers requests already being served, closes
// every connection and waits for all goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	s.closing.Store(true)
	s.slotFree.Broadcast()
	for _, l := range s.listeners {
		l.Close()
	}
	// Unblock readers waiting for the next request; a request being served
	// finishes and its response is written before the connection closes.
	for c := range s.conns {
		c.SetReadDeadline(time.Now())
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}

// Deferred is a response that waits before it is complete: an acks=all
// produce whose records are appended but not yet replicated. Finish waits
// (bounded by the request's own timeout and the server's context) and
// completes the response. The connection's writer calls it, in request
// order, while the reader goes on with the next produce: the records of
// requests pipelined on one connection are appended in order as before,
// but the leader appends the next produce while the followers fetch the
// last one, rather than only after its acknowledgement. Any other request
// waits until every deferred response before it is finished, so what it
// sees is what it would see had the connection been served strictly one
// request at a time, as Kafka does.
type Deferred interface {
	kmsg.Response
	Finish()
}

// produceKey is the API key of Produce, the only request that may be
// served while a deferred response before it is unfinished.
const produceKey = 0

// response is one encoded frame on its way to the writer: the bytes in
// buf, or, for a response with file regions, the parts that make it up;
// or a deferred response, which the writer finishes and encodes, closing
// done once it has (or once the connection failed).
type response struct {
	buf     *[]byte
	parts   []part
	regions []FileRegion

	deferred Deferred
	header   Header
	done     chan struct{}
}

// release lets go of the response's regions and buffer.
func (r response) release() {
	for _, fr := range r.regions {
		if fr.Release != nil {
			fr.Release()
		}
	}
	if r.buf != nil {
		putBuf(r.buf)
	}
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooledBuffer keeps huge one-off buffers out of the pool. Fetch
// responses of many partitions run to several MiB; those are worth reusing.
const maxPooledBuffer = 32 << 20

func putBuf(b *[]byte) {
	if cap(*b) <= maxPooledBuffer {
		*b = (*b)[:0]
		bufPool.Put(b)
	}
}

func (s *Server) serveConn(raw net.Conn, info *Listener) {
	defer s.wg.Done()
	defer s.release(raw)
	defer raw.Close()
	conn := &Conn{Remote: raw.RemoteAddr(), Local: raw.LocalAddr(), Listener: info}
	nc := raw
	if info.TLS != nil {
		tc := tls.Server(raw, info.TLS)
		raw.SetDeadline(time.Now().Add(handshakeTimeout))
		ctx, cancel := context.WithTimeout(s.ctx, handshakeTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			if ok, suppressed := s.logs.Allow("tls " + info.Name); ok && !s.closing.Load() {
				s.cfg.Logger.Info("closing connection: TLS handshake failed", "listener", info.Name, "remote", conn.Remote.String(), "err", err, "suppressed", suppressed)
			}
			return
		}
		raw.SetDeadline(time.Time{})
		state := tc.ConnectionState()
		conn.TLS, nc = &state, tc
	}
	out := make(chan response, 32)
	writerDone := make(chan struct{})
	go s.write(nc, out, writerDone)
	s.read(nc, conn, out)
	close(out)
	<-writerDone
	nc.Close()
}

// write sends encoded responses in order. After a write error it drains the
// queue so the reader never blocks, and closes the connection so the reader
// stops.
func (s *Server) write(nc net.Conn, out <-chan response, done chan<- struct{}) {
	defer close(done)
	w := bufio.NewWriterSize(nc, 64<<10)
	failed := false
	for r := range out {
		if r.deferred != nil {
			if !failed && w.Buffered() > 0 {
				// The responses before it go out now, not after the wait.
				if err := w.Flush(); err != nil {
					failed = true
					nc.Close()
				}
			}
			r = s.finish(nc, r, failed)
			if r.buf == nil {
				failed = true
				continue
			}
		}
		if !failed {
			var err error
			if r.parts == nil {
				_, err = w.Write(*r.buf)
			} else {
				err = writeParts(nc, w, r.parts)
			}
			if err == nil && len(out) == 0 {
				// Flush when nothing else is queued: pipelined responses share a syscall.
				err = w.Flush()
			}
			if err != nil {
				failed = true
				nc.Close()
			}
		}
		r.release()
	}
	if !failed {
		w.Flush()
	}
}

// finish waits for a deferred response and encodes it; a response with no
// buffer means the connection failed (before, or in the encoding, which
// closes it).
func (s *Server) finish(nc net.Conn, r response, failed bool) response {
	defer close(r.done)
	if failed {
		return response{}
	}
	r.deferred.Finish()
	enc, err := encodeResponse(r.header, r.deferred)
	if err != nil {
		s.cfg.Logger.Error("closing connection: encoding response", "remote", nc.RemoteAddr(), "key", r.header.Key, "err", err)
		nc.Close()
		return response{}
	}
	return enc
}

func (s *Server) read(nc net.Conn, conn *Conn, out chan<- response) {
	r := bufio.NewReaderSize(nc, 64<<10)
	var frame []byte
	var sizeBuf [4]byte
	var lastMoved time.Time // when extendIdle last moved the read deadline
	// deferred is closed once the last deferred response handed to the
	// writer is finished (nil: none unfinished).
	var deferred chan struct{}
	for {
		if !s.extendIdle(nc, &lastMoved) {
			return
		}
		if _, err := io.ReadFull(r, sizeBuf[:]); err != nil {
			s.logIdle(conn, err)
			return
		}
		size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
		if size < 10 || size > s.cfg.MaxRequestBytes {
			s.cfg.Logger.Warn("closing connection: bad request size", "remote", conn.Remote, "size", size, "max", s.cfg.MaxRequestBytes)
			return
		}
		if cap(frame) < int(size) {
			frame = getFrame(int(size))
		}
		frame = frame[:size]
		if !s.extendIdle(nc, &lastMoved) {
			return
		}
		if _, err := io.ReadFull(r, frame); err != nil {
			s.logIdle(conn, err)
			return
		}
		h, body, err := ParseHeader(frame)
		if err != nil {
			s.cfg.Logger.Warn("closing connection: malformed request header", "remote", conn.Remote)
			return
		}
		if deferred != nil && h.Key != produceKey {
			<-deferred // the writer finishes them in order: this one last
			deferred = nil
		}
		resp, err := s.serve(conn, h, body)
		if err != nil {
			s.cfg.Logger.Debug("closing connection", "remote", conn.Remote, "key", h.Key, "version", h.Version, "err", err)
			return
		}
		if d, ok := resp.(Deferred); ok {
			deferred = make(chan struct{})
			out <- response{deferred: d, header: h, done: deferred}
		} else if resp != nil {
			r, err := encodeResponse(h, resp)
			if err != nil {
				s.cfg.Logger.Error("closing connection: encoding response", "remote", conn.Remote, "key", h.Key, "err", err)
				return
			}
			out <- r
		}
		if conn.CloseAfterResponse {
			return // the writer sends what is queued, then the connection closes
		}
		// Do not keep a large frame buffer alive for an idle connection:
		// hand it to the next connection that needs one instead.
		if cap(frame) > 1<<20 {
			putFrame(frame)
			frame = nil
		}
	}
}

// extendIdle moves the connection's read deadline to connections.max.idle.ms
// from now. It reports false when the server is closing: Close has set (or is
// about to set) a deadline of its own that this one must not replace.
//
// Moving a deadline costs a timer update in the runtime's poller, so it is
// moved at most once per idle/64 (9 s at Kafka's default), by idle+idle/64:
// a connection is closed between idle and idle+idle/64 after it last sent
// something, never before. lastMoved is the connection's own record.
func (s *Server) extendIdle(nc net.Conn, lastMoved *time.Time) bool {
	if s.idle >= 0 {
		slack := s.idle / 64
		if now := time.Now(); slack == 0 || now.Sub(*lastMoved) >= slack {
			nc.SetReadDeadline(now.Add(s.idle + slack))
			*lastMoved = now
		}
	}
	return !s.closing.Load()
}

// logIdle notes a connection closed for idling (a read that timed out while
// the server is not closing).
func (s *Server) logIdle(conn *Conn, err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && !s.closing.Load() {
		s.cfg.Logger.Debug("closing idle connection", "remote", conn.Remote, "connections.max.idle.ms", s.idle.Milliseconds())
	}
}

// serve runs the handler. A panic in a handler is a bug, but one request
// must not take the broker down with every other client: it is logged with
// its stack and the connection closed, as a Go error from the handler is.
func (s *Server) serve(conn *Conn, h Header, body []byte) (resp kmsg.Response, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.cfg.Logger.Error("handler panic; closing the connection", "remote", conn.Remote, "key", h.Key, "version", h.Version, "panic", r, "stack", string(debug.Stack()))
			resp, err = nil, fmt.Errorf("server: handler panic: %v", r)
		}
	}()
	return s.handler.Serve(s.ctx, conn, h, body)
}

// encodeResponse frames resp: size, correlation ID, the header's tagged
// fields for flexible versions (never for ApiVersions, whose response header
// stays v0 so that a client can always read it), then the body.
func encodeResponse(h Header, resp kmsg.Response) (response, error) {
	bp := bufPool.Get().(*[]byte)
	if need := sizeHint(resp); cap(*bp) < need {
		// Grow once rather than by doubling through a large fetch.
		*bp = make([]byte, 0, need)
	}
	b := append((*bp)[:0], 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(h.CorrelationID))
	if resp.IsFlexible() && h.Key != 18 {
		b = append(b, 0)
	}
	b = resp.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	*bp = b
	r := response{buf: bp}
	if rr, ok := resp.(RegionResponse); ok && len(rr.Regions()) > 0 {
		r.regions = rr.Regions()
		parts, err := splitRegions(b, r.regions, resp.IsFlexible())
		if err != nil {
			r.release()
			return response{}, err
		}
		r.parts = parts
	}
	return r, nil
}

// writeParts writes a frame made of bytes and file regions; a region goes
// out with sendfile once the buffered bytes before it are flushed.
func writeParts(nc net.Conn, w *bufio.Writer, parts []part) error {
	for _, p := range parts {
		if p.region == nil {
			if _, err := w.Write(p.data); err != nil {
				return err
			}
			continue
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if err := sendFile(nc, p.region); err != nil {
			return err
		}
	}
	return nil
}

// String names the connection in logs.
func (c *Conn) String() string { return fmt.Sprint(c.Remote) }

// sizeHint estimates the encoded size of responses that carry records, so
// that their buffer is allocated once.
func sizeHint(resp kmsg.Response) int {
	f, ok := resp.(*kmsg.FetchResponse)
	if !ok {
		return 0
	}
	n := 64
	for i := range f.Topics {
		n += 64
		for j := range f.Topics[i].Partitions {
			n += 96 + len(f.Topics[i].Partitions[j].RecordBatches)
		}
	}
	return n
}

// largeFrames recycles request buffers above 1 MiB between connections:
// producers send multi-MiB requests back to back, and allocating (and
// zeroing) each one cost more than the write to the log.
var largeFrames sync.Pool

func getFrame(size int) []byte {
	if size > 1<<20 {
		if b, ok := largeFrames.Get().(*[]byte); ok && cap(*b) >= size {
			return (*b)[:size]
		} else if ok {
			largeFrames.Put(b)
		}
	}
	return make([]byte, size)
}

func putFrame(b []byte) {
	if cap(b) <= maxPooledBuffer {
		b = b[:0]
		largeFrames.Put(&b)
	}
}
