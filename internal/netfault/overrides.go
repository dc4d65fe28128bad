package netfault

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// ParseOverrides parses a dial override list, "dest=>via,dest=>via,...":
// every connection a node makes to host:port dest goes to host:port via
// instead (a Link's address). It is how samsa chaos puts its links between
// real samsa serve processes (samsa serve --internal-dial-overrides). An
// address must be host:port with a numeric port, a destination may appear
// once, and the empty string is no overrides.
func ParseOverrides(s string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, entry := range strings.Split(s, ",") {
		dest, via, ok := strings.Cut(strings.TrimSpace(entry), "=>")
		if !ok {
			return nil, fmt.Errorf("dial override %q: want dest-host:port=>via-host:port", entry)
		}
		for _, addr := range []string{dest, via} {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, fmt.Errorf("dial override %q: %v", entry, err)
			}
			if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 || host == "" {
				return nil, fmt.Errorf("dial override %q: %q is not host:port with a port of 1 to 65535", entry, addr)
			}
		}
		if _, dup := out[dest]; dup {
			return nil, fmt.Errorf("dial override %q: %s is overridden twice", entry, dest)
		}
		out[dest] = via
	}
	return out, nil
}

// Dialer returns a dial function that sends connections for a destination
// in overrides to its replacement and dials every other address as asked.
func Dialer(overrides map[string]string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if via, ok := overrides[addr]; ok {
			addr = via
		}
		return d.DialContext(ctx, network, addr)
	}
}
