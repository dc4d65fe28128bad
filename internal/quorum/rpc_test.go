package quorum

import (
	"bytes"
	"errors"
	"net"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

func TestRPCCodec(t *testing.T) {
	rec, _ := metadata.EncodeRecord(metadata.FenceBroker{ID: 3, Epoch: 42})
	for _, req := range []rpcRequest{
		{Kind: rpcPropose, Record: rec},
		{Kind: rpcPropose, WantIndex: true, Record: rec},
		{Kind: rpcHeartbeat, Hops: 1, CaughtUp: true, Broker: -1, Epoch: 1 << 40},
		{Kind: rpcHeartbeat, Broker: 2, Epoch: 3, Reports: []metadata.LogReport{
			{TopicID: metadata.TopicID{1, 2}, Partition: 7, PartitionEpoch: 9, LastEpoch: -1, LogEndOffset: 0},
			{TopicID: metadata.TopicID{15: 3}, Partition: 0, PartitionEpoch: 1 << 30, LastEpoch: 5, LogEndOffset: 1 << 50}}},
	} {
		got, err := decodeRequest(req.append(nil))
		if err != nil {
			t.Fatal(err)
		}
		if got.Record == nil {
			got.Record = req.Record
		}
		if !reflect.DeepEqual(got, req) {
			t.Fatalf("request %+v decoded as %+v", req, got)
		}
	}
	for _, resp := range []rpcResponse{
		{Code: kerr.StaleBrokerEpoch.Code, Fenced: true, FirstProducerID: 7, BrokerEpoch: 9, Message: "m"},
		{Index: 1 << 40, Message: "with an index"},
		{Index: 3},
	} {
		if got, err := decodeResponse(resp.append(nil)); err != nil || got != resp {
			t.Fatalf("response %+v decoded as %+v, %v", resp, got, err)
		}
	}
	// An index flag without its eight bytes.
	if _, err := decodeResponse(rpcResponse{Index: 1}.append(nil)[:rpcReplyHead+7]); !errors.Is(err, errBadFrame) {
		t.Fatalf("truncated index: %v", err)
	}
	for _, bad := range [][]byte{nil, {1}, make([]byte, 15), append([]byte{1}, make([]byte, 15)...),
		{0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, append(rpcRequest{Kind: rpcHeartbeat}.append(nil), 0),
		// reports: a count of none, one more than the bytes, a byte short
		append(rpcRequest{Kind: rpcHeartbeat}.append(nil), 0, 0, 0, 0),
		append(rpcRequest{Kind: rpcHeartbeat}.append(nil), append([]byte{0, 0, 0, 2}, make([]byte, reportSize)...)...),
		rpcRequest{Kind: rpcHeartbeat, Reports: make([]metadata.LogReport, 1)}.append(nil)[:rpcRequestHead+4+reportSize-1]} {
		if _, err := decodeRequest(bad); !errors.Is(err, errBadFrame) {
			t.Fatalf("request %x: %v", bad, err)
		}
	}
	if _, err := decodeResponse(make([]byte, 19)); !errors.Is(err, errBadFrame) {
		t.Fatal(err)
	}
	for _, frame := range [][]byte{{0, 0, 0, 0}, {0xff, 0xff, 0xff, 0xff}, {0, 0, 0, 5, 1}} {
		if _, err := readFrame(bytes.NewReader(frame)); !errors.Is(err, errBadFrame) {
			t.Fatalf("frame %x: %v", frame, err)
		}
	}
	// Errors keep their identity, or their message, across the wire.
	if err := responseError(errorResponse(kerr.TopicAlreadyExists)); err != kerr.TopicAlreadyExists {
		t.Fatalf("bare code came back as %v", err)
	}
	var qe *Error
	if err := responseError(errorResponse(ErrTooManyPartitions)); !errors.As(err, &qe) || qe.Code != kerr.PolicyViolation || qe.Message != TooManyPartitionsMessage {
		t.Fatalf("message came back as %v", err)
	}
}

// TestRPCMalformedFrame: a controller listener closes a connection that
// sends a bad frame, and keeps serving raft and other connections.
func TestRPCMalformedFrame(t *testing.T) {
	tc := newTestCluster(t, 1)
	tc.start(1)
	addr := tc.voters[0].Addr
	for _, garbage := range [][]byte{
		{rpcMagic, 0xff, 0xff, 0xff, 0xff},
		append([]byte{rpcMagic, 0, 0, 0, 16}, make([]byte, 16)...), // version 0, kind 0
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.Write(garbage)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := conn.Read(make([]byte, 1)); n != 0 || err == nil {
			t.Fatalf("after %x: read %d, %v; want the connection closed", garbage, n, err)
		}
		conn.Close()
	}
	resp, err := call(ctx(t), Config{}.dial, addr, rpcRequest{Kind: rpcHeartbeat, Broker: 9, Epoch: 1})
	if err != nil || responseError(resp) != kerr.StaleBrokerEpoch {
		t.Fatalf("heartbeat of an unknown broker: %+v, %v", resp, err)
	}
}

func FuzzRPCRequest(f *testing.F) {
	rec, _ := metadata.EncodeRecord(metadata.UnfenceBroker{ID: 1, Epoch: 2})
	f.Add(rpcRequest{Kind: rpcPropose, Record: rec}.append(nil))
	f.Add(rpcRequest{Kind: rpcHeartbeat, CaughtUp: true, Broker: 1, Epoch: 5}.append(nil))
	f.Add(rpcRequest{Kind: rpcHeartbeat, Broker: 1, Epoch: 5, Reports: []metadata.LogReport{{TopicID: metadata.TopicID{1}, Partition: 2, PartitionEpoch: 3, LastEpoch: 4, LogEndOffset: 5}}}.append(nil))
	f.Add(rpcRequest{Kind: rpcDescribeQuorum, Hops: 1}.append(nil))
	f.Add(rpcRequest{Kind: rpcAddVoter, Hops: 1, Broker: 4, Record: []byte("127.0.0.1:9093")}.append(nil))
	f.Add(rpcRequest{Kind: rpcRemoveVoter, Hops: 1, Broker: 4}.append(nil))
	f.Add(rpcRequest{Kind: rpcCanVote, Hops: 1, Broker: 4}.append(nil))
	f.Add([]byte{0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decodeRequest(b)
		if err != nil {
			return
		}
		again, err := decodeRequest(req.append(nil))
		if err != nil || again.Kind != req.Kind || again.Broker != req.Broker || again.Epoch != req.Epoch || !bytes.Equal(again.Record, req.Record) ||
			!reflect.DeepEqual(again.Reports, req.Reports) {
			t.Fatalf("re-encoding %+v: %+v, %v", req, again, err)
		}
		if req.Kind == rpcPropose {
			_, _ = metadata.DecodeRecord(req.Record) // must not panic either
		}
	})
}

func FuzzRPCResponse(f *testing.F) {
	f.Add(rpcResponse{Code: 77, Fenced: true, Message: "x"}.append(nil))
	f.Add(make([]byte, 20))
	f.Fuzz(func(t *testing.T, b []byte) {
		resp, err := decodeResponse(b)
		if err != nil {
			return
		}
		_ = responseError(resp)
		if again, err := decodeResponse(resp.append(nil)); err != nil || again != resp {
			t.Fatalf("re-encoding %+v: %+v, %v", resp, again, err)
		}
	})
}

func FuzzRPCFrame(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0})
	f.Add([]byte{0xff, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		body, err := readFrame(bytes.NewReader(b))
		if err == nil && (len(body) == 0 || len(body) > maxRPCFrame) {
			t.Fatalf("frame of %d bytes accepted", len(body))
		}
	})
}
