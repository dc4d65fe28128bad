package server

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// gated answers each Produce with a response deferred until the test
// releases it, and records the order in which requests were served.
type gated struct {
	mu      sync.Mutex
	served  []int32 // correlation IDs, in the order the handler saw them
	release map[int32]chan struct{}
}

type gatedProduce struct {
	*kmsg.ProduceResponse
	release chan struct{}
}

func (g gatedProduce) Finish() {
	<-g.release
	g.Topics[0].Partitions[0].BaseOffset = 7 // set by the wait, as an acks=all code is
}

func (g *gated) Serve(_ context.Context, _ *Conn, h Header, _ []byte) (kmsg.Response, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.served = append(g.served, h.CorrelationID)
	if h.Key != 0 {
		resp := kmsg.NewPtrApiVersionsResponse()
		resp.SetVersion(h.Version)
		return resp, nil
	}
	resp := kmsg.NewPtrProduceResponse()
	resp.SetVersion(h.Version)
	rt := kmsg.NewProduceResponseTopic()
	rt.Topic = "t"
	rt.Partitions = append(rt.Partitions, kmsg.NewProduceResponseTopicPartition())
	resp.Topics = append(resp.Topics, rt)
	ch := make(chan struct{})
	g.release[h.CorrelationID] = ch
	return gatedProduce{ProduceResponse: resp, release: ch}, nil
}

func (g *gated) servedIDs() []int32 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]int32(nil), g.served...)
}

func (g *gated) releaseID(id int32) {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.release[id])
	delete(g.release, id)
}

// releaseAll lets every deferred response finish, so that a failed test
// does not leave Close waiting.
func (g *gated) releaseAll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for id, ch := range g.release {
		close(ch)
		delete(g.release, id)
	}
}

// TestDeferredResponses pipelines two produces and an ApiVersions on one
// connection: the second produce is served while the first one's response
// waits, ApiVersions only once both are finished, and the responses come
// back in request order with what Finish set.
func TestDeferredResponses(t *testing.T) {
	g := &gated{release: map[int32]chan struct{}{}}
	s := New(Config{}, g)
	addr, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	defer g.releaseAll()
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	f := kmsg.NewRequestFormatter()
	var out []byte
	produce := kmsg.NewPtrProduceRequest()
	produce.SetVersion(7)
	versions := kmsg.NewPtrApiVersionsRequest()
	versions.SetVersion(0)
	// AppendRequest frames what it is given as one request: one at a time.
	out = append(out, f.AppendRequest(nil, produce, 1)...)
	out = append(out, f.AppendRequest(nil, produce, 2)...)
	out = append(out, f.AppendRequest(nil, versions, 3)...)
	if _, err := c.Write(out); err != nil {
		t.Fatal(err)
	}

	waitServed := func(want int) []int32 {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if ids := g.servedIDs(); len(ids) >= want {
				return ids
			}
		}
		t.Fatalf("served %v, want %d requests", g.servedIDs(), want)
		return nil
	}
	if ids := waitServed(2); len(ids) != 2 || ids[0] != 1 || ids[1] != 2 {
		t.Fatalf("served %v with the first produce unfinished, want [1 2]", ids)
	}
	time.Sleep(50 * time.Millisecond)
	if ids := g.servedIDs(); len(ids) != 2 {
		t.Fatalf("served %v: ApiVersions ran before the produces before it were finished", ids)
	}
	g.releaseID(2) // finishing the second first changes nothing: responses go in order
	time.Sleep(50 * time.Millisecond)
	if ids := g.servedIDs(); len(ids) != 2 {
		t.Fatalf("served %v with the first produce unfinished", ids)
	}
	g.releaseID(1)
	waitServed(3)

	for _, want := range []int32{1, 2, 3} {
		var size [4]byte
		if _, err := io.ReadFull(c, size[:]); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(c, b); err != nil {
			t.Fatal(err)
		}
		if id := int32(binary.BigEndian.Uint32(b)); id != want {
			t.Fatalf("response with correlation ID %d, want %d", id, want)
		}
		if want == 3 {
			continue
		}
		resp := kmsg.NewPtrProduceResponse()
		resp.SetVersion(7)
		if err := resp.ReadFrom(b[4:]); err != nil {
			t.Fatal(err)
		}
		if off := resp.Topics[0].Partitions[0].BaseOffset; off != 7 {
			t.Fatalf("response %d: base offset %d, want Finish's 7", want, off)
		}
	}
}

// TestDeferredResponseAtClose closes the server while a deferred response
// waits: Close waits for Finish (which the server's context would end in a
// real handler), and the response still reaches the client.
func TestDeferredResponseAtClose(t *testing.T) {
	g := &gated{release: map[int32]chan struct{}{}}
	s := New(Config{}, g)
	addr, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	produce := kmsg.NewPtrProduceRequest()
	produce.SetVersion(7)
	if _, err := c.Write(kmsg.NewRequestFormatter().AppendRequest(nil, produce, 1)); err != nil {
		t.Fatal(err)
	}
	for len(g.servedIDs()) == 0 {
		time.Sleep(time.Millisecond)
	}
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned with a deferred response unfinished")
	case <-time.After(50 * time.Millisecond):
	}
	g.releaseID(1)
	<-closed
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		t.Fatalf("no response after Close: %v", err)
	}
}
