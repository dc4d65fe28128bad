package localcluster

import (
	"net"
	"testing"
)

// TestReservePorts checks that the ports are distinct, bound until closed,
// and outside the kernel's ephemeral range, where an outgoing connection
// cannot take one while its node is down.
func TestReservePorts(t *testing.T) {
	held, err := ReservePorts(12)
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := nonEphemeralRange()
	seen := map[int]bool{}
	for _, l := range held {
		p := l.Addr().(*net.TCPAddr).Port
		if seen[p] {
			t.Errorf("port %d reserved twice", p)
		}
		seen[p] = true
		if p < lo || p >= hi {
			t.Errorf("port %d outside [%d, %d)", p, lo, hi)
		}
		if l2, err := net.Listen("tcp", l.Addr().String()); err == nil {
			l2.Close()
			t.Errorf("port %d is not held", p)
		}
	}
	for _, l := range held {
		l.Close()
	}
	for p := range seen {
		l, err := net.Listen("tcp", HostPort(p))
		if err != nil {
			t.Errorf("port %d still bound after close: %v", p, err)
			continue
		}
		l.Close()
	}
}
