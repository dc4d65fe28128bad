package broker

import (
	"net"
	"testing"
)

// FreeAddrs returns n addresses on 127.0.0.1 that nothing listened on a
// moment ago, for nodes that must know each other's addresses before they
// start (a quorum's voters). Exported for the package's external tests.
func FreeAddrs(t testing.TB, n int) []string {
	t.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs[i] = l.Addr().String()
		l.Close() // released: the node binds it
	}
	return addrs
}
