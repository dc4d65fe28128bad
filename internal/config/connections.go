package config

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// ConnectionLimits are Kafka's connection quotas (SocketServer's
// ConnectionQuotas) as the broker configures them.
type ConnectionLimits struct {
	MaxConnections      int                // max.connections
	MaxConnectionsPerIP int                // max.connections.per.ip
	PerIPOverrides      map[netip.Addr]int // max.connections.per.ip.overrides, host names resolved
	MaxIdle             time.Duration      // connections.max.idle.ms; negative: never
}

// connectionConfigs are the configs ConnectionLimits reads; all but
// connections.max.idle.ms may change at runtime, as in Kafka
// (DynamicConnectionQuota).
var connectionConfigs = []string{"max.connections", "max.connections.per.ip", "max.connections.per.ip.overrides", "connections.max.idle.ms"}

// ConnectionLimits resolves the connection configs with the dynamic
// cluster-wide values (nil: static only). Host names in
// max.connections.per.ip.overrides are resolved now, as Kafka does when it
// reads the config (InetAddress.getByName). max.connections.per.ip may be 0
// only with overrides, as in Kafka: otherwise no client could ever connect.
func (b *Broker) ConnectionLimits(dynamic map[string]string) (ConnectionLimits, error) {
	l := ConnectionLimits{
		MaxConnections:      int(b.Int32("max.connections", dynamic)),
		MaxConnectionsPerIP: int(b.Int32("max.connections.per.ip", dynamic)),
		MaxIdle:             -1,
	}
	// Past 292 years in nanoseconds a duration overflows; that is never too.
	if ms := b.Int64("connections.max.idle.ms", dynamic); ms >= 0 && ms <= math.MaxInt64/int64(time.Millisecond) {
		l.MaxIdle = time.Duration(ms) * time.Millisecond
	}
	hosts, err := parseConnectionOverrides(b.Get("max.connections.per.ip.overrides", dynamic))
	if err != nil {
		return l, fmt.Errorf("invalid value for config max.connections.per.ip.overrides: %w", err)
	}
	if l.MaxConnectionsPerIP == 0 && len(hosts) == 0 {
		return l, fmt.Errorf("config max.connections.per.ip can be set to zero only if max.connections.per.ip.overrides is set")
	}
	l.PerIPOverrides = make(map[netip.Addr]int)
	for host, n := range hosts {
		var addrs []netip.Addr
		if a, err := netip.ParseAddr(host); err == nil {
			addrs = []netip.Addr{a}
		} else {
			ips, err := net.LookupIP(host)
			if err != nil {
				return l, fmt.Errorf("config max.connections.per.ip.overrides: resolving %s: %w", host, err)
			}
			for _, ip := range ips {
				if a, ok := netip.AddrFromSlice(ip); ok {
					addrs = append(addrs, a)
				}
			}
		}
		for _, a := range addrs {
			l.PerIPOverrides[a.Unmap()] = n
		}
	}
	return l, nil
}

// parseConnectionOverrides reads "host:count,host:count" (Kafka's
// comma-separated map; an IPv6 address keeps its colons: the count follows
// the last one).
func parseConnectionOverrides(value string) (map[string]int, error) {
	out := map[string]int{}
	for _, entry := range strings.Split(value, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		i := strings.LastIndexByte(entry, ':')
		if i <= 0 {
			return nil, fmt.Errorf("entry %q: want host:count", entry)
		}
		host := strings.Trim(strings.TrimSpace(entry[:i]), "[]")
		n, err := strconv.Atoi(strings.TrimSpace(entry[i+1:]))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("entry %q: the count must be a non-negative integer", entry)
		}
		out[host] = n
	}
	return out, nil
}

// connectionOverrides validates max.connections.per.ip.overrides' syntax.
func connectionOverrides(_, value string) string {
	if _, err := parseConnectionOverrides(value); err != nil {
		return err.Error()
	}
	return ""
}

// ConnectionConfigsChanged reports whether two sets of dynamic broker
// configs differ in a connection config.
func ConnectionConfigsChanged(prev, next map[string]string) bool {
	for _, name := range connectionConfigs {
		a, aok := prev[name]
		b, bok := next[name]
		if a != b || aok != bok {
			return true
		}
	}
	return false
}

// ValidateDynamicChange checks the dynamic broker configs that setting set
// and deleting del would leave, as a whole, where single values cannot be
// judged alone: max.connections.per.ip may be 0 only with overrides, and
// the overrides' host names must resolve.
func (b *Broker) ValidateDynamicChange(current, set map[string]string, del []string) error {
	next := make(map[string]string, len(current)+len(set))
	for k, v := range current {
		next[k] = v
	}
	for _, k := range del {
		delete(next, k)
	}
	for k, v := range set {
		next[k] = v
	}
	if !ConnectionConfigsChanged(current, next) {
		return nil
	}
	_, err := b.ConnectionLimits(next)
	return err
}
