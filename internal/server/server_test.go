package server

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// panicky answers ApiVersions and panics on Metadata.
type panicky struct{}

func (panicky) Serve(_ context.Context, _ *Conn, h Header, _ []byte) (kmsg.Response, error) {
	if h.Key == 3 {
		var m map[string]int
		m["boom"]++ // nil map write: a handler bug
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(h.Version)
	return resp, nil
}

func roundTrip(t *testing.T, addr string, req kmsg.Request) ([]byte, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(kmsg.NewRequestFormatter().AppendRequest(nil, req, 1)); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint32(size[:]))
	_, err = io.ReadFull(c, b)
	return b, err
}

// TestHandlerPanicClosesOnlyTheConnection checks that a panicking handler
// costs its connection, not the server.
func TestHandlerPanicClosesOnlyTheConnection(t *testing.T) {
	s := New(Config{}, panicky{})
	addr, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := roundTrip(t, addr.String(), kmsg.NewPtrMetadataRequest()); err == nil {
		t.Fatal("a panicking request got an answer")
	}
	if _, err := roundTrip(t, addr.String(), kmsg.NewPtrApiVersionsRequest()); err != nil {
		t.Fatalf("server dead after a handler panic: %v", err)
	}
}
