package server

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

type testRegionResponse struct {
	*kmsg.FetchResponse
	regions []FileRegion
}

func (r *testRegionResponse) Regions() []FileRegion { return r.regions }

// TestRegionsReplacePlaceholders encodes Fetch responses whose record sets
// are file regions, at a non-flexible and a flexible version, sends them
// through a real socket (sendfile) and checks that a client decodes exactly
// the file's bytes in each partition.
func TestRegionsReplacePlaceholders(t *testing.T) {
	dir := t.TempDir()
	content := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320 KB
	path := filepath.Join(dir, "segment")
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Each partition's record set: file ranges sent one after the other
	// (none: inline bytes). Nine ranges make a flexible placeholder field
	// longer than a one-byte length prefix holds.
	nine := make([][2]int64, 9)
	for k := range nine {
		nine[k] = [2]int64{int64(k) * 1000, 333}
	}
	spans := [][][2]int64{{{10, 200000}}, nil, {{300000, 19999}, {7, 70000}}, {{5, 1}}, nine, {{0, 0}}}
	for _, version := range []int16{11, 16} {
		resp := kmsg.NewPtrFetchResponse()
		resp.SetVersion(version)
		rt := kmsg.NewFetchResponseTopic()
		rt.Topic = "t"
		var regions []FileRegion
		released := 0
		for i, sp := range spans {
			rp := kmsg.NewFetchResponseTopicPartition()
			rp.Partition = int32(i)
			rp.RecordBatches = []byte("inline")
			if len(sp) > 0 {
				rp.RecordBatches = nil
			}
			for _, rg := range sp {
				rp.RecordBatches = append(rp.RecordBatches, Placeholder(len(regions))...)
				regions = append(regions, FileRegion{File: f, Pos: rg[0], Size: rg[1], Release: func() { released++ }})
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
		r, err := encodeResponse(Header{Key: 1, Version: version, CorrelationID: 9}, &testRegionResponse{resp, regions})
		if err != nil {
			t.Fatal(err)
		}

		// A real TCP pair, so that sendfile itself runs.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		client, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
		got := make(chan []byte)
		go func() {
			var buf bytes.Buffer
			buf.ReadFrom(client)
			got <- buf.Bytes()
		}()
		out := make(chan response, 1)
		done := make(chan struct{})
		out <- r
		close(out)
		(&Server{}).write(srv, out, done)
		<-done
		srv.Close()
		frame := <-got
		client.Close()

		if released != len(regions) {
			t.Fatalf("v%d: %d of %d regions released", version, released, len(regions))
		}
		if n := int(uint32(frame[0])<<24 | uint32(frame[1])<<16 | uint32(frame[2])<<8 | uint32(frame[3])); n != len(frame)-4 {
			t.Fatalf("v%d: frame size %d, %d bytes follow", version, n, len(frame)-4)
		}
		body := frame[8:]
		if version >= 12 {
			body = body[1:] // response header tags
		}
		dec := kmsg.NewPtrFetchResponse()
		dec.SetVersion(version)
		if err := dec.ReadFrom(body); err != nil {
			t.Fatalf("v%d: decoding: %v", version, err)
		}
		for i, sp := range spans {
			want := []byte("inline")
			if len(sp) > 0 {
				want = []byte{}
			}
			for _, rg := range sp {
				want = append(want, content[rg[0]:rg[0]+rg[1]]...)
			}
			if got := dec.Topics[0].Partitions[i].RecordBatches; !bytes.Equal(got, want) {
				t.Fatalf("v%d partition %d: %d bytes, want %d", version, i, len(got), len(want))
			}
		}
	}
}
