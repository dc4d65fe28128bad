package api

// SaslHandshake v1 and SaslAuthenticate v0-v2, and the session every
// connection carries (server.Conn.Session): who the client is.
//
// As Kafka's SaslServerAuthenticator: on a SASL listener a connection may
// send ApiVersions, then SaslHandshake naming a mechanism the listener
// enables, then SaslAuthenticate until the exchange completes; any other
// request before that closes the connection unanswered. A failed exchange
// is answered SASL_AUTHENTICATION_FAILED, after
// connection.failed.authentication.delay.ms (longer for an address whose
// attempts keep failing: see failures), and the connection closed. On
// other listeners both answer ILLEGAL_SASL_STATE. SaslHandshake v0, whose
// tokens follow unframed, is not served (Kafka 4 dropped it too): clients
// see v1 in ApiVersions and use it.
//
// Re-authentication (KIP-368): a session lasts connections.max.reauth.ms,
// or until the OAUTHBEARER token expires if that is sooner, and
// SaslAuthenticate v1+ tells the client how long; it may authenticate
// again on the same connection (SaslHandshake then SaslAuthenticate) as
// the same principal. A request other than those two after the session
// ended closes the connection.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/sasl"
	"github.com/samsa-streaming/samsa/internal/server"
	"github.com/samsa-streaming/samsa/internal/tlsconf"
)

// Anonymous is the principal of a client that has not authenticated.
const Anonymous = tlsconf.Anonymous

// Authenticator runs the SASL exchanges of the broker's listeners.
type Authenticator interface {
	// Mechanisms lists the mechanisms listener enables, upper case.
	Mechanisms(listener string) []string
	// Start begins an exchange of mechanism (one Mechanisms listed) on
	// listener.
	Start(listener, mechanism string) (sasl.Server, error)
	// ReauthMax is connections.max.reauth.ms of listener: the longest a
	// session lasts (0: for ever).
	ReauthMax(listener string) time.Duration
}

// session is a connection's security state.
type session struct {
	principal     string
	authenticated bool // by SASL, or not needed on this listener
	mechanism     string
	exchange      sasl.Server // an exchange in progress
	// reauth: SaslAuthenticate v1+ was used, so the client knows of
	// re-authentication (KIP-368).
	reauth  bool
	expires time.Time // zero: never
}

// sessionOf returns c's session, making it on the connection's first
// request: the principal of a TLS client certificate, else ANONYMOUS.
func (h *Handlers) sessionOf(c *server.Conn) *session {
	if s, ok := c.Session.(*session); ok {
		return s
	}
	s := &session{principal: Anonymous, authenticated: true}
	if c.Listener != nil && (c.Listener.Protocol == "SASL_PLAINTEXT" || c.Listener.Protocol == "SASL_SSL") {
		s.authenticated = false
	} else if c.TLS != nil && c.Listener != nil {
		p, err := tlsconf.Principal(*c.TLS, h.principalMapper(c.Listener.Name))
		if err != nil {
			h.Logger.Warn("mapping a client certificate to a principal failed; the client is ANONYMOUS", "listener", c.Listener.Name, "remote", c.Remote.String(), "err", err)
		} else {
			s.principal = p
		}
	}
	c.Session = s
	return s
}

// principalMapper is listener's ssl.principal.mapping.rules.
func (h *Handlers) principalMapper(listener string) *tlsconf.PrincipalMapper {
	if h.Config == nil {
		return nil
	}
	return h.Config.Static().Security.Listeners[listener].Principals
}

// saslKeys are the requests served before authentication.
func saslKey(key int16) bool { return key == 17 || key == 36 }

// admit decides whether c may send a request of key: an error closes the
// connection.
func (h *Handlers) admit(c *server.Conn, key int16) error {
	s := h.sessionOf(c)
	if !s.authenticated {
		if key == 18 || saslKey(key) {
			return nil
		}
		return fmt.Errorf("api: request of key %d before SASL authentication", key)
	}
	if !s.expires.IsZero() && !saslKey(key) && !h.Now().Before(s.expires) {
		return errors.New("api: the SASL session expired (connections.max.reauth.ms)")
	}
	return nil
}

func saslHandshake(h *Handlers, ctx context.Context, req *kmsg.SASLHandshakeRequest) (*kmsg.SASLHandshakeResponse, error) {
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	c := client(ctx).conn
	if c == nil || h.Authenticator == nil || c.Listener == nil || !slices.Contains([]string{"SASL_PLAINTEXT", "SASL_SSL"}, c.Listener.Protocol) {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		return resp, nil
	}
	s := h.sessionOf(c)
	if s.exchange != nil || (s.authenticated && !s.reauth) {
		// Kafka: a second handshake is only a KIP-368 re-authentication.
		return nil, errors.New("api: unexpected SaslHandshake")
	}
	resp.SupportedMechanisms = h.Authenticator.Mechanisms(c.Listener.Name)
	if !slices.Contains(resp.SupportedMechanisms, req.Mechanism) {
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		c.CloseAfterResponse = true
		return resp, nil
	}
	x, err := h.Authenticator.Start(c.Listener.Name, req.Mechanism)
	if err != nil {
		h.Logger.Error("starting a SASL exchange", "mechanism", req.Mechanism, "err", err)
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		c.CloseAfterResponse = true
		return resp, nil
	}
	s.exchange, s.mechanism = x, req.Mechanism
	return resp, nil
}

func saslAuthenticate(h *Handlers, ctx context.Context, req *kmsg.SASLAuthenticateRequest) (*kmsg.SASLAuthenticateResponse, error) {
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	c := client(ctx).conn
	if c == nil || h.Authenticator == nil {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		return resp, nil
	}
	s := h.sessionOf(c)
	if s.exchange == nil {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		msg := "SaslAuthenticate without a SaslHandshake"
		resp.ErrorMessage = &msg
		c.CloseAfterResponse = true
		return resp, nil
	}
	answer, done, err := s.exchange.Step(req.SASLAuthBytes)
	if err == nil && done && s.authenticated && s.exchange.Result().Principal() != s.principal {
		err = &sasl.AuthenticationError{Mechanism: s.mechanism, ClientText: "Cannot change principals during re-authentication", Detail: "re-authenticated as " + s.exchange.Result().Principal()}
	}
	if err != nil {
		delay := h.authFailures.failed(remoteIP(c), h.Now())
		detail, msg := err.Error(), err.Error()
		if ae, ok := errors.AsType[*sasl.AuthenticationError](err); ok {
			detail, msg = ae.Detail, ae.ClientMessage(s.authenticated)
		}
		h.Logger.Info("SASL authentication failed", "listener", c.Listener.Name, "remote", c.Remote.String(), "mechanism", s.mechanism, "reason", detail, "delay", delay)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
		}
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		resp.ErrorMessage = &msg
		c.CloseAfterResponse = true
		return resp, nil
	}
	resp.SASLAuthBytes = answer
	if !done {
		return resp, nil
	}
	now, x := h.Now(), s.exchange
	s.principal, s.authenticated, s.exchange = x.Result().Principal(), true, nil
	s.reauth = req.Version >= 1
	s.expires = time.Time{}
	if max := h.Authenticator.ReauthMax(c.Listener.Name); max > 0 {
		s.expires = now.Add(max)
	}
	if exp := x.Result().Expiry; !exp.IsZero() && (s.expires.IsZero() || exp.Before(s.expires)) {
		s.expires = exp
	}
	if !s.expires.IsZero() && req.Version >= 1 {
		resp.SessionLifetimeMillis = max(s.expires.Sub(now).Milliseconds(), 1)
	}
	return resp, nil
}

// failedAuthDelay is connection.failed.authentication.delay.ms (Kafka's
// default, 100 ms): how long a failed authentication waits before its
// answer, so that a client cannot try passwords quickly.
const failedAuthDelay = 100 * time.Millisecond

// failures slows down the addresses whose authentications keep failing:
// each failure within failureWindow of the previous one doubles the delay
// of the next answer, up to maxFailedAuthDelay, so a guesser on many
// connections gains nothing from them. Bounded: addresses quiet for the
// window are forgotten.
type failures struct {
	mu     sync.Mutex
	recent map[netip.Addr]failureRun
}

type failureRun struct {
	count int
	last  time.Time
}

const (
	failureWindow      = time.Minute
	maxFailedAuthDelay = 5 * time.Second
	maxFailureSources  = 10000
)

// failed records a failure from ip and returns the delay of its answer.
func (f *failures) failed(ip netip.Addr, now time.Time) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.recent == nil {
		f.recent = map[netip.Addr]failureRun{}
	}
	if len(f.recent) >= maxFailureSources {
		for a, r := range f.recent {
			if now.Sub(r.last) > failureWindow {
				delete(f.recent, a)
			}
		}
	}
	r := f.recent[ip]
	if now.Sub(r.last) > failureWindow {
		r.count = 0
	}
	r.count++
	r.last = now
	if _, known := f.recent[ip]; known || len(f.recent) < maxFailureSources {
		f.recent[ip] = r
	}
	delay := failedAuthDelay << min(r.count-1, 6)
	return min(delay, maxFailedAuthDelay)
}

// remoteIP is the address failures counts c under.
func remoteIP(c *server.Conn) netip.Addr {
	if a, ok := c.Remote.(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}
