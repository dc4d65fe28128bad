package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/server"
	"github.com/samsa-streaming/samsa/internal/tlsconf"
)

// listener is one Kafka listener the broker serves.
type listener struct {
	ln        net.Listener
	info      *server.Listener
	bind      string // the configured host:port
	advertise metadata.Endpoint
}

// dialFunc makes a connection, as net.Dialer.DialContext.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// bindListeners binds the broker's Kafka listeners: the listeners that are
// not controller listeners when config listeners is given, else the
// --listen shortcut's PLAINTEXT listener (default localhost:9092). The
// inter-broker listener comes first. On error nothing stays bound.
func bindListeners(cfg Config, static config.Static, logger *slog.Logger) (_ []listener, err error) {
	type want struct {
		l         config.Listener
		bind      string
		advertise string
	}
	var wants []want
	c := static.Cluster
	_, advertisedSet := cfg.Static["advertised.listeners"]
	if advertisedSet && cfg.Advertise != "" {
		return nil, fmt.Errorf("broker: --advertise %s and config advertised.listeners are both given: use one", cfg.Advertise)
	}
	if c.ListenersSet {
		if cfg.Listen != "" {
			return nil, fmt.Errorf("broker: --listen %s and config listeners are both given: use one", cfg.Listen)
		}
		for _, l := range c.BrokerListeners() {
			w := want{l: l, bind: l.Addr()}
			for _, a := range c.Advertised {
				if advertisedSet && a.Name == l.Name {
					w.advertise = a.Addr()
				}
			}
			wants = append(wants, w)
		}
		if cfg.Advertise != "" {
			if len(wants) != 1 {
				return nil, fmt.Errorf("broker: --advertise needs exactly one broker listener (config listeners has %d): use config advertised.listeners", len(wants))
			}
			wants[0].advertise = cfg.Advertise
		}
	} else {
		w := want{l: config.Listener{Name: "PLAINTEXT", Protocol: "PLAINTEXT"}, bind: cfg.Listen, advertise: cfg.Advertise}
		if w.bind == "" {
			w.bind = "localhost:9092"
		}
		if advertisedSet && len(c.Advertised) > 0 {
			w.advertise = c.Advertised[0].Addr()
		}
		wants = append(wants, w)
	}
	// The inter-broker listener first: its address is the registration's.
	for i, w := range wants {
		if w.l.Name == static.Security.InterBrokerListener {
			wants[0], wants[i] = wants[i], wants[0]
		}
	}
	var out []listener
	defer func() {
		if err != nil {
			for _, l := range out {
				l.ln.Close()
			}
		}
	}()
	for _, w := range wants {
		sec := static.Security.Listeners[w.l.Name]
		info := &server.Listener{Name: w.l.Name, Protocol: w.l.Protocol}
		if sec.TLSEnabled() {
			if info.TLS, err = tlsconf.Server(*sec.TLS, logger); err != nil {
				return out, fmt.Errorf("broker: listener %s: %w", w.l.Name, err)
			}
		}
		ln, err := net.Listen("tcp", w.bind)
		if err != nil {
			return out, fmt.Errorf("broker: listen on %s (listener %s): %w", w.bind, w.l.Name, err)
		}
		out = append(out, listener{ln: ln, info: info, bind: w.bind})
		host, port, err := advertised(w.advertise, ln.Addr())
		if err != nil {
			return out, err
		}
		out[len(out)-1].advertise = metadata.Endpoint{Name: w.l.Name, Host: host, Port: port}
	}
	return out, nil
}

// interBrokerDial returns the dialer of connections to other brokers'
// inter-broker listener: base, with the listener's TLS when it has any
// (the keystore as the client certificate, the trust store verifying the
// peer, its host name checked unless ssl.endpoint.identification.algorithm
// is empty).
func interBrokerDial(base dialFunc, sec config.ListenerSecurity, logger *slog.Logger) (dialFunc, error) {
	if base == nil {
		var d net.Dialer
		base = d.DialContext
	}
	if !sec.TLSEnabled() {
		return base, nil
	}
	if _, err := tlsconf.Client(*sec.TLS, "", logger); err != nil {
		return nil, fmt.Errorf("broker: inter-broker listener %s: %w", sec.Name, err)
	}
	var mu sync.Mutex
	configs := map[string]*tls.Config{} // by host: the name checked
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		tc := configs[host]
		if tc == nil {
			if tc, err = tlsconf.Client(*sec.TLS, host, logger); err != nil {
				mu.Unlock()
				return nil, err
			}
			configs[host] = tc
		}
		mu.Unlock()
		c, err := base(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		conn := tls.Client(c, tc)
		if err := conn.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, errors.Join(fmt.Errorf("broker: TLS handshake with %s", addr), err)
		}
		return conn, nil
	}, nil
}
