package config

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Cluster is the configs that place a node in a cluster: its roles, the
// controller quorum, its listeners and its liveness timings. The checks
// are Kafka 4's (KafkaConfig's validateKraftBrokerConfig,
// validateKraftControllerConfig, validateKraftCombinedModeConfig and
// validateListenerNames), with Kafka's messages.
type Cluster struct {
	// Roles is process.roles. Standalone (neither role) is Samsa's
	// default: a single node, broker and sole voter of a one-voter quorum
	// that needs no controller listener, as before clusters existed.
	Roles Roles
	// Voters is controller.quorum.voters, in the order given.
	Voters []Voter
	// BootstrapServers is controller.quorum.bootstrap.servers: where a
	// node that is not among Voters finds the quorum. Without Voters
	// (KIP-853's dynamic quorum) a node with the controller role starts
	// as an observer of the metadata log, to be made a voter with
	// AddRaftVoter; beside Voters it adds addresses to try.
	BootstrapServers []string
	// ControllerListenerNames is controller.listener.names.
	ControllerListenerNames []string
	// Listeners is listeners; ListenersSet reports whether it was given
	// (else the broker's --listen shortcut is the PLAINTEXT listener).
	Listeners    []Listener
	ListenersSet bool
	// Advertised is advertised.listeners, or else the listeners that are
	// not controller listeners (Kafka's effectiveAdvertisedBrokerListeners).
	Advertised []Listener
	// Rack is broker.rack ("" when unset).
	Rack string
	// HeartbeatInterval is broker.heartbeat.interval.ms and SessionTimeout
	// broker.session.timeout.ms.
	HeartbeatInterval time.Duration
	SessionTimeout    time.Duration
}

// Roles is process.roles.
type Roles struct{ Broker, Controller bool }

// Standalone reports a node without process.roles: see Cluster.Roles.
func (r Roles) Standalone() bool { return !r.Broker && !r.Controller }

// Voter is one entry of controller.quorum.voters: id@host:port.
type Voter struct {
	ID   int32
	Host string
	Port int
}

// Addr is the voter's host:port.
func (v Voter) Addr() string { return net.JoinHostPort(v.Host, strconv.Itoa(v.Port)) }

// Listener is one entry of listeners or advertised.listeners:
// NAME://host:port, with the security protocol its name maps to.
type Listener struct {
	Name     string // upper case, as Kafka normalises it
	Host     string // "" binds every interface
	Port     int
	Protocol string // from listener.security.protocol.map
}

// Addr is the listener's host:port.
func (l Listener) Addr() string { return net.JoinHostPort(l.Host, strconv.Itoa(l.Port)) }

// ControllerListener returns the listener this node's controller binds
// (the first of controller.listener.names found in listeners).
func (c Cluster) ControllerListener() (Listener, bool) {
	for _, name := range c.ControllerListenerNames {
		if i := slices.IndexFunc(c.Listeners, func(l Listener) bool { return l.Name == name }); i >= 0 {
			return c.Listeners[i], true
		}
	}
	return Listener{}, false
}

// BrokerListeners returns the listeners that are not controller listeners.
func (c Cluster) BrokerListeners() []Listener {
	var out []Listener
	for _, l := range c.Listeners {
		if !slices.Contains(c.ControllerListenerNames, l.Name) {
			out = append(out, l)
		}
	}
	return out
}

// IsVoter reports whether node is in Voters.
func (c Cluster) IsVoter(node int32) bool {
	return slices.ContainsFunc(c.Voters, func(v Voter) bool { return v.ID == node })
}

func (c Cluster) voterIDs() []int32 {
	ids := make([]int32, len(c.Voters))
	for i, v := range c.Voters {
		ids[i] = v.ID
	}
	return ids
}

// resolveCluster reads and checks the cluster configs of node.
func (r *resolver) resolveCluster(node int32) (Cluster, error) {
	c := Cluster{
		Rack:              r.b.Get("broker.rack", nil),
		HeartbeatInterval: r.ms("broker.heartbeat.interval.ms"),
		SessionTimeout:    r.ms("broker.session.timeout.ms"),
	}
	if r.err != nil {
		return c, r.err
	}
	_, c.ListenersSet = r.b.static["listeners"]
	var err error
	if c.Roles, err = parseRoles(r.b.Get("process.roles", nil)); err != nil {
		return c, err
	}
	if c.Voters, err = parseVoters(r.b.Get("controller.quorum.voters", nil)); err != nil {
		return c, err
	}
	c.BootstrapServers = splitList(r.b.Get("controller.quorum.bootstrap.servers", nil))
	for _, addr := range c.BootstrapServers {
		if host, _, err := splitHostPort(addr); err != nil || host == "" {
			return c, fmt.Errorf("invalid value '%s' for config controller.quorum.bootstrap.servers: entry %q has no valid host:port",
				strings.Join(c.BootstrapServers, ","), addr)
		}
	}
	for _, name := range splitList(r.b.Get("controller.listener.names", nil)) {
		c.ControllerListenerNames = append(c.ControllerListenerNames, strings.ToUpper(name))
	}
	_, explicitMap := r.b.static["listener.security.protocol.map"]
	protocols, err := parseProtocolMap(r.b.Get("listener.security.protocol.map", nil), explicitMap, c.ControllerListenerNames)
	if err != nil {
		return c, err
	}
	if c.Listeners, err = parseListeners("listeners", r.b.Get("listeners", nil), protocols); err != nil {
		return c, err
	}
	if v, ok := r.b.static["advertised.listeners"]; ok {
		if c.Advertised, err = parseListeners("advertised.listeners", v, protocols); err != nil {
			return c, err
		}
	} else {
		c.Advertised = c.BrokerListeners()
	}
	if c.HeartbeatInterval >= c.SessionTimeout {
		// Samsa's check: a broker would be fenced between two heartbeats.
		return c, fmt.Errorf("config broker.heartbeat.interval.ms (%v) must be less than broker.session.timeout.ms (%v)",
			c.HeartbeatInterval, c.SessionTimeout)
	}
	return c, c.validate(node, r.b.static)
}

// validate applies Kafka's rules for the node's roles.
func (c Cluster) validate(node int32, static map[string]string) error {
	for _, l := range c.Advertised {
		if l.Host == "0.0.0.0" {
			return fmt.Errorf("config advertised.listeners cannot use the nonroutable meta-address 0.0.0.0. Use a routable IP address.")
		}
		if !slices.ContainsFunc(c.Listeners, func(m Listener) bool { return m.Name == l.Name }) {
			return fmt.Errorf("config advertised.listeners listener names must be equal to or a subset of the ones defined in listeners: %s is not", l.Name)
		}
	}
	if c.Roles.Standalone() {
		if len(c.Voters) > 0 || len(c.ControllerListenerNames) > 0 {
			return fmt.Errorf("config process.roles must be set (broker, controller or broker,controller) when controller.quorum.voters or controller.listener.names is")
		}
		return nil
	}
	if _, ok := static["node.id"]; !ok {
		return fmt.Errorf("config node.id is required when process.roles is set")
	}
	if len(c.Voters) == 0 && len(c.BootstrapServers) == 0 {
		return fmt.Errorf("config controller.quorum.voters: if using process.roles, either controller.quorum.bootstrap.servers must contain the set of bootstrap controllers or controller.quorum.voters must contain a parseable set of voters")
	}
	if len(c.Voters) == 0 && c.Roles.Controller && !c.Roles.Broker {
		return fmt.Errorf("config controller.quorum.bootstrap.servers without controller.quorum.voters is supported for process.roles=broker,controller, not yet for a controller-only node (it would not receive the metadata log)")
	}
	if len(c.ControllerListenerNames) == 0 {
		return fmt.Errorf("config controller.listener.names must contain at least one value when process.roles is set")
	}
	if c.Roles.Broker {
		for _, l := range c.Advertised {
			if slices.Contains(c.ControllerListenerNames, l.Name) {
				return fmt.Errorf("config advertised.listeners must not contain KRaft controller listeners from controller.listener.names when process.roles contains the broker role because Kafka clients that send requests via advertised listeners do not send requests to KRaft controllers -- they only send requests to KRaft brokers")
			}
		}
		if len(c.Advertised) == 0 {
			return fmt.Errorf("config advertised.listeners: there must be at least one advertised listener. Perhaps all listeners appear in controller.listener.names?")
		}
	}
	if !c.Roles.Controller {
		if c.IsVoter(node) {
			return fmt.Errorf("config controller.quorum.voters: if process.roles contains just the 'broker' role, the node id %d must not be included in the set of voters controller.quorum.voters=%v", node, c.voterIDs())
		}
		if _, ok := c.ControllerListener(); ok {
			return fmt.Errorf("config controller.listener.names must not contain a value appearing in the 'listeners' configuration when running KRaft with just the broker role")
		}
		return nil
	}
	if len(c.Voters) > 0 && !c.IsVoter(node) {
		return fmt.Errorf("config controller.quorum.voters: if process.roles contains the 'controller' role, the node id %d must be included in the set of voters controller.quorum.voters=%v", node, c.voterIDs())
	}
	for _, name := range c.ControllerListenerNames {
		if !slices.ContainsFunc(c.Listeners, func(l Listener) bool { return l.Name == name }) {
			return fmt.Errorf("config controller.listener.names must only contain values appearing in the 'listeners' configuration when running the KRaft controller role: %s is not", name)
		}
	}
	if !c.Roles.Broker {
		if _, ok := static["advertised.listeners"]; ok {
			return fmt.Errorf("config advertised.listeners must be empty when process.roles=controller")
		}
		if len(c.BrokerListeners()) > 0 {
			return fmt.Errorf("config listeners must only contain KRaft controller listeners from controller.listener.names when process.roles=controller")
		}
		return nil
	}
	return nil
}

func parseRoles(value string) (Roles, error) {
	var r Roles
	for _, role := range splitList(value) {
		switch {
		case role == "broker" && !r.Broker:
			r.Broker = true
		case role == "controller" && !r.Controller:
			r.Controller = true
		default:
			return Roles{}, fmt.Errorf("invalid value '%s' for config process.roles: must be broker, controller or broker,controller", value)
		}
	}
	return r, nil
}

// parseVoters reads id@host:port,... (Kafka's QuorumConfig.parseVoterConnections).
func parseVoters(value string) ([]Voter, error) {
	var out []Voter
	for _, entry := range splitList(value) {
		bad := func(why string) error {
			return fmt.Errorf("invalid value '%s' for config controller.quorum.voters: entry %q %s", value, entry, why)
		}
		idText, addr, ok := strings.Cut(entry, "@")
		if !ok {
			return nil, bad("is not id@host:port")
		}
		id, err := strconv.ParseInt(idText, 10, 32)
		if err != nil || id < 0 {
			return nil, bad("has no valid node ID")
		}
		host, port, err := splitHostPort(addr)
		if err != nil || host == "" {
			return nil, bad("has no valid host:port")
		}
		if host == "0.0.0.0" {
			return nil, bad("uses the non-routable address 0.0.0.0")
		}
		if slices.ContainsFunc(out, func(v Voter) bool { return v.ID == int32(id) }) {
			return nil, bad("repeats a node ID")
		}
		out = append(out, Voter{ID: int32(id), Host: host, Port: port})
	}
	return out, nil
}

// parseProtocolMap reads NAME:PROTOCOL,... As Kafka's
// effectiveListenerSecurityProtocolMap, a controller listener missing from
// a map left at its default is PLAINTEXT.
func parseProtocolMap(value string, explicit bool, controllerNames []string) (map[string]string, error) {
	m := map[string]string{}
	for _, entry := range splitList(value) {
		name, protocol, ok := strings.Cut(entry, ":")
		name, protocol = strings.ToUpper(strings.TrimSpace(name)), strings.ToUpper(strings.TrimSpace(protocol))
		if !ok || name == "" {
			return nil, fmt.Errorf("invalid value '%s' for config listener.security.protocol.map: entry %q is not NAME:PROTOCOL", value, entry)
		}
		switch protocol {
		case "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL":
		default:
			return nil, fmt.Errorf("invalid value '%s' for config listener.security.protocol.map: unknown security protocol %s", value, protocol)
		}
		m[name] = protocol
	}
	for _, name := range controllerNames {
		if _, ok := m[name]; !ok {
			if explicit {
				return nil, fmt.Errorf("config listener.security.protocol.map: controller listener with name %s defined in controller.listener.names not found in listener.security.protocol.map", name)
			}
			m[name] = "PLAINTEXT"
		}
	}
	return m, nil
}

// parseListeners reads NAME://host:port,... of config name.
func parseListeners(name, value string, protocols map[string]string) ([]Listener, error) {
	var out []Listener
	for _, entry := range splitList(value) {
		bad := func(why string) error {
			return fmt.Errorf("invalid value '%s' for config %s: %q %s", value, name, entry, why)
		}
		listener, addr, ok := strings.Cut(entry, "://")
		listener = strings.ToUpper(listener)
		if !ok || listener == "" || strings.ContainsFunc(listener, func(r rune) bool {
			return !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-')
		}) {
			return nil, bad("is not NAME://host:port")
		}
		host, port, err := splitHostPort(addr)
		if err != nil {
			return nil, bad("has no valid host:port")
		}
		protocol, ok := protocols[listener]
		if !ok {
			return nil, fmt.Errorf("config %s: no security protocol defined for listener %s in listener.security.protocol.map", name, listener)
		}
		for _, l := range out {
			if l.Name == listener {
				return nil, fmt.Errorf("config %s: each listener must have a different name, %s is repeated", name, listener)
			}
			if name == "listeners" && l.Port == port && port != 0 {
				return nil, fmt.Errorf("config %s: each listener must have a different port, %d is repeated", name, port)
			}
		}
		out = append(out, Listener{Name: listener, Host: host, Port: port, Protocol: protocol})
	}
	return out, nil
}

// splitHostPort parses host:port with a port in 0..65535; the host may be
// empty or a bracketed IPv6 address.
func splitHostPort(addr string) (string, int, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return "", 0, err
	}
	return host, int(port), nil
}
