package netfault

import (
	"io"
	"net"
	"testing"
)

// BenchmarkLink measures one connection's throughput to a server that
// discards what it reads, directly and through a passing Link, so that the
// proxy's cost on inter-node traffic is known: compare the two MB/s in one
// run.
func BenchmarkLink(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	read := make(chan int64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n, _ := io.Copy(io.Discard, c)
			c.Close()
			read <- n
		}
	}()
	l, err := NewLink(LinkConfig{Target: ln.Addr().String()})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	block := make([]byte, 1<<20)
	for _, bench := range []struct{ name, addr string }{
		{"direct", ln.Addr().String()},
		{"link", l.Addr()},
	} {
		b.Run(bench.name, func(b *testing.B) {
			c, err := net.Dial("tcp", bench.addr)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(block)))
			for b.Loop() {
				if _, err := c.Write(block); err != nil {
					b.Fatal(err)
				}
			}
			c.(*net.TCPConn).CloseWrite()
			if n := <-read; n != int64(b.N)*int64(len(block)) {
				b.Fatalf("the server read %d bytes of %d", n, int64(b.N)*int64(len(block)))
			}
			c.Close()
		})
	}
}
