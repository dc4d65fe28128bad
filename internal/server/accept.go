package server

import (
	"errors"
	"net"
	"net/netip"
	"time"
)

// Limits are Kafka's connection limits (SocketServer's ConnectionQuotas and
// its selectors' idle expiry). Every field is meant literally: 0 connections
// allows none.
type Limits struct {
	// MaxConnections (max.connections): with this many connections open the
	// server stops accepting until one closes, as Kafka's acceptor does;
	// newcomers wait in the kernel's backlog meanwhile.
	MaxConnections int
	// MaxConnectionsPerIP (max.connections.per.ip): a new connection from an
	// address that already has this many is closed at once.
	MaxConnectionsPerIP int
	// PerIPOverrides (max.connections.per.ip.overrides) replace
	// MaxConnectionsPerIP for the addresses listed.
	PerIPOverrides map[netip.Addr]int
	// MaxIdle (connections.max.idle.ms): a connection that sends nothing for
	// this long is closed. Negative: never.
	MaxIdle time.Duration
}

// SetLimits replaces the connection limits while the server runs (Kafka's
// dynamic max.connections, max.connections.per.ip and its overrides);
// MaxIdle stays as New set it, as connections.max.idle.ms is not dynamic.
// A raised max.connections resumes accepting at once. Connections above a
// lowered limit stay open: the limits apply to new connections.
func (s *Server) SetLimits(l Limits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l.MaxIdle = s.idle
	s.limits = l
	s.slotFree.Broadcast()
}

// noLimits is what a Config without Limits gets.
var noLimits = Limits{MaxConnections: int(^uint(0) >> 1), MaxConnectionsPerIP: int(^uint(0) >> 1), MaxIdle: -1}

// Accept errors back off as Go's net/http Server.Serve does: 5 ms, doubling,
// at most 1 s. A process out of file descriptors (EMFILE) fails every accept
// until a connection closes; returning would leave the broker deaf for good.
const (
	firstAcceptDelay = 5 * time.Millisecond
	maxAcceptDelay   = time.Second
)

// acceptLogInterval bounds the accept-error and rejected-connection lines.
const acceptLogInterval = 10 * time.Second

func (s *Server) accept(l net.Listener, info *Listener) {
	defer s.wg.Done()
	var delay time.Duration
	for {
		if !s.waitForSlot(l) {
			return
		}
		c, err := l.Accept()
		if err != nil {
			if s.closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			delay = min(max(2*delay, firstAcceptDelay), maxAcceptDelay)
			if ok, suppressed := s.logs.Allow("accept " + l.Addr().String()); ok {
				s.cfg.Logger.Error("accepting a connection failed; retrying", "listener", l.Addr().String(), "err", err, "retry_in", delay, "suppressed", suppressed)
			}
			select {
			case <-time.After(delay):
			case <-s.ctx.Done():
				return
			}
			continue
		}
		delay = 0
		if s.admit(c) {
			go s.serveConn(c, info)
		}
	}
}

// waitForSlot blocks while max.connections connections are open. It returns
// false once the server is closed.
func (s *Server) waitForSlot(l net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed && len(s.conns) >= s.limits.MaxConnections {
		s.cfg.Logger.Info("max.connections reached; accepting paused until a connection closes", "listener", l.Addr().String(), "max.connections", s.limits.MaxConnections)
		for !s.closed && len(s.conns) >= s.limits.MaxConnections {
			s.slotFree.Wait()
		}
	}
	return !s.closed
}

// admit registers an accepted connection, or closes it when the server is
// closed or its address has max.connections.per.ip connections already.
func (s *Server) admit(c net.Conn) bool {
	ip := remoteIP(c)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.Close()
		return false
	}
	limit, ok := s.limits.PerIPOverrides[ip]
	if !ok {
		limit = s.limits.MaxConnectionsPerIP
	}
	if s.perIP[ip] >= limit {
		s.mu.Unlock()
		if ok, suppressed := s.logs.Allow("per-ip"); ok {
			s.cfg.Logger.Info("rejected a connection: its address already has the configured maximum of connections", "remote", c.RemoteAddr().String(), "max.connections.per.ip", limit, "suppressed", suppressed)
		}
		c.Close()
		return false
	}
	s.perIP[ip]++
	s.conns[c] = ip
	s.wg.Add(1)
	s.mu.Unlock()
	return true
}

// release forgets a closed connection and wakes an accept loop waiting for
// a slot.
func (s *Server) release(c net.Conn) {
	s.mu.Lock()
	ip := s.conns[c]
	delete(s.conns, c)
	if s.perIP[ip]--; s.perIP[ip] <= 0 {
		delete(s.perIP, ip)
	}
	s.slotFree.Broadcast()
	s.mu.Unlock()
}

// remoteIP is the address whose connections max.connections.per.ip counts.
// IPv4-mapped IPv6 addresses count as IPv4.
func remoteIP(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}
