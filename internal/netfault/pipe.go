package netfault

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// pipe is one connection through a Link: client is the accepted side,
// target the dialled one. Each direction has a reader, which reads chunks
// into a bounded queue (the bytes "on the wire"), and a writer, which
// delivers them when the direction's fault lets it.
type pipe struct {
	l      *Link
	client net.Conn
	ctx    context.Context // done once the pipe is closed
	cancel context.CancelFunc

	mu     sync.Mutex
	target net.Conn // nil until dialled
	closed bool

	eofs atomic.Int32 // directions whose end of stream was delivered
}

// chunk is bytes read from one side, or its end of stream.
type chunk struct {
	data []byte
	at   time.Time // when it was read
	eof  bool
}

var chunkPool = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

func newPipe(l *Link, client net.Conn) *pipe {
	ctx, cancel := context.WithCancel(context.Background())
	return &pipe{l: l, client: client, ctx: ctx, cancel: cancel}
}

// close closes both sides once; with reset, with SO_LINGER 0 so that the
// peers see a reset rather than an orderly end of stream.
func (p *pipe) close(reset bool) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	target := p.target
	p.mu.Unlock()
	p.cancel()
	if reset {
		p.l.count(func(s *LinkStats) { s.Resets++ })
	}
	for _, c := range []net.Conn{p.client, target} {
		if c == nil {
			continue
		}
		if tc, ok := c.(*net.TCPConn); ok && reset {
			_ = tc.SetLinger(0)
		}
		_ = c.Close()
	}
}

// serve dials the target once ToTarget lets a SYN through, then runs the
// four pumps and waits for them.
func (p *pipe) serve() {
	defer p.l.wg.Done()
	defer p.l.untrack(p)
	for {
		if p.l.dropping() {
			p.close(true)
			return
		}
		f, changed := p.l.fault(ToTarget)
		if f.Mode != Blackhole {
			break
		}
		select {
		case <-changed:
		case <-p.ctx.Done():
			return
		}
	}
	ctx, cancel := context.WithTimeout(p.ctx, p.l.cfg.DialTimeout)
	var d net.Dialer
	target, err := d.DialContext(ctx, "tcp", p.l.cfg.Target)
	cancel()
	if err != nil {
		p.l.logger.Debug("link dial", "err", err)
		p.close(true)
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = target.Close()
		return
	}
	p.target = target
	p.mu.Unlock()

	toTarget := make(chan chunk, queueChunks)
	fromTarget := make(chan chunk, queueChunks)
	var wg sync.WaitGroup
	wg.Add(4)
	go func() { defer wg.Done(); p.read(p.client, toTarget) }()
	go func() { defer wg.Done(); p.write(ToTarget, toTarget, target) }()
	go func() { defer wg.Done(); p.read(target, fromTarget) }()
	go func() { defer wg.Done(); p.write(FromTarget, fromTarget, p.client) }()
	wg.Wait()
	// Buffers still queued (a closed pipe's held bytes) go back to the pool.
	for _, q := range []chan chunk{toTarget, fromTarget} {
		close(q)
		for c := range q {
			putChunk(c)
		}
	}
}

func putChunk(c chunk) {
	if c.data != nil {
		b := c.data[:cap(c.data)]
		chunkPool.Put(&b)
	}
}

// read moves what src sends into q until src ends or the pipe closes. An
// error other than the end of stream (a reset, or the pipe closing) resets
// the pipe, so that a reset travels through the link.
func (p *pipe) read(src net.Conn, q chan<- chunk) {
	for {
		buf := *chunkPool.Get().(*[]byte)
		n, err := src.Read(buf)
		if n > 0 {
			select {
			case q <- chunk{data: buf[:n], at: time.Now()}:
			case <-p.ctx.Done():
				chunkPool.Put(&buf)
				return
			}
		} else {
			chunkPool.Put(&buf)
		}
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) {
			select {
			case q <- chunk{eof: true, at: time.Now()}:
			case <-p.ctx.Done():
			}
			return
		}
		p.close(true)
		return
	}
}

// write delivers q's chunks to dst as dir's fault allows. An end of stream
// half-closes dst; when both directions have ended the pipe closes.
func (p *pipe) write(dir Direction, q <-chan chunk, dst net.Conn) {
	for {
		var c chunk
		select {
		case c = <-q:
		case <-p.ctx.Done():
			return
		}
		if !p.await(dir, c) {
			putChunk(c)
			return
		}
		if c.eof {
			if tc, ok := dst.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
			if p.eofs.Add(1) == 2 {
				p.close(false)
			}
			return
		}
		n, err := dst.Write(c.data)
		putChunk(c)
		p.l.count(func(s *LinkStats) { s.Bytes[dir] += int64(n) })
		if err != nil {
			p.close(true)
			return
		}
	}
}

// await waits until dir's fault lets c pass. It returns false when the
// pipe is closed meanwhile, or closes it for Drop and Loss.
func (p *pipe) await(dir Direction, c chunk) bool {
	for {
		f, changed := p.l.fault(dir)
		switch f.Mode {
		case Drop:
			p.close(true)
			return false
		case Blackhole:
			select {
			case <-changed:
				continue
			case <-p.ctx.Done():
				return false
			}
		}
		if wait := time.Until(c.at.Add(f.Delay)); f.Delay > 0 && wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-changed:
				t.Stop()
				continue
			case <-p.ctx.Done():
				t.Stop()
				return false
			}
		}
		if f.Loss > 0 && !c.eof && p.l.lose(f.Loss) {
			p.close(true)
			return false
		}
		return true
	}
}
