package server

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkRoundTrip measures one request and its response on a
// connection, with connections.max.idle.ms off and at Kafka's default (its
// read deadline is moved before every read), to show what the idle limit
// costs per request.
func BenchmarkRoundTrip(b *testing.B) {
	for _, bc := range []struct {
		name string
		idle time.Duration
	}{
		{"idle=off", -1},
		{"idle=600s", 10 * time.Minute},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := New(Config{Limits: &Limits{MaxConnections: 10, MaxConnectionsPerIP: 10, MaxIdle: bc.idle}}, panicky{})
			addr, err := s.Listen("127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			c, err := net.Dial("tcp", addr.String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			req := kmsg.NewRequestFormatter().AppendRequest(nil, kmsg.NewPtrApiVersionsRequest(), 1)
			var size [4]byte
			resp := make([]byte, 0, 1024)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, size[:]); err != nil {
					b.Fatal(err)
				}
				n := int(binary.BigEndian.Uint32(size[:]))
				if _, err := io.ReadFull(c, resp[:n]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
