package broker_test

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/broker"
)

// panicRecorder is a slog handler that keeps the handler panics the server
// logs (it recovers them and closes the connection).
type panicRecorder struct {
	mu     sync.Mutex
	panics []string
}

func (p *panicRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (p *panicRecorder) WithAttrs([]slog.Attr) slog.Handler       { return p }
func (p *panicRecorder) WithGroup(string) slog.Handler            { return p }
func (p *panicRecorder) Handle(_ context.Context, r slog.Record) error {
	if !strings.Contains(r.Message, "panic") {
		return nil
	}
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.Key + "=" + a.Value.String())
		return true
	})
	p.mu.Lock()
	p.panics = append(p.panics, b.String())
	p.mu.Unlock()
	return nil
}

func (p *panicRecorder) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.panics
	p.panics = nil
	return out
}

// fuzzGroupKeys are the group coordinator's APIs: FindCoordinator,
// OffsetCommit, OffsetFetch, JoinGroup, Heartbeat, LeaveGroup, SyncGroup,
// DescribeGroups, ListGroups, DeleteGroups, OffsetDelete,
// ConsumerGroupHeartbeat, ConsumerGroupDescribe. APIs that create topics
// or data are left out: random partition counts would fill the disk.
var fuzzGroupKeys = []int16{10, 8, 9, 11, 12, 13, 14, 15, 16, 42, 47, 68, 69}

// FuzzGroupRequests sends request bodies of the group APIs, at every
// version, to a broker over TCP: whatever the bytes, the broker answers or
// closes the connection, and no handler panics.
func FuzzGroupRequests(f *testing.F) {
	panics := &panicRecorder{}
	b, err := broker.Start(broker.Config{DataDir: f.TempDir(), Listen: "127.0.0.1:0", Static: groupStatic(), Logger: slog.New(panics)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { b.Close() })
	addr := b.Addr()

	for i, key := range fuzzGroupKeys {
		req := kmsg.RequestForKey(key)
		for v := req.MaxVersion(); v >= 0; v -= 3 {
			req.SetVersion(v)
			f.Add(uint8(i), uint8(v), req.AppendTo(nil))
		}
	}
	seed := func(r kmsg.Request) {
		for i, key := range fuzzGroupKeys {
			if key == r.Key() {
				r.SetVersion(r.MaxVersion())
				f.Add(uint8(i), uint8(r.MaxVersion()), r.AppendTo(nil))
			}
		}
	}
	join := kmsg.NewJoinGroupRequest()
	join.Group, join.ProtocolType, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = "g", "consumer", 6000, 6000
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0, 3, 0, 0, 0, 1, 0, 1, 't'}}}
	seed(&join)
	hb := kmsg.NewConsumerGroupHeartbeatRequest()
	hb.Group, hb.MemberID, hb.RebalanceTimeoutMillis, hb.SubscribedTopicNames, hb.Topics = "g848", "m", 1000, []string{"t"}, []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	seed(&hb)
	commit := kmsg.NewOffsetCommitRequest()
	commit.Group, commit.Generation = "g", -1
	commit.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 5}}}}
	seed(&commit)

	f.Fuzz(func(t *testing.T, keyIndex, version uint8, body []byte) {
		sendFuzzed(t, addr, panics, fuzzGroupKeys[int(keyIndex)%len(fuzzGroupKeys)], version, body)
	})
}

// sendFuzzed sends body as a request of key at version (modulo one past
// the newest) and fails the test if a handler panicked.
func sendFuzzed(t *testing.T, addr string, panics *panicRecorder, key int16, version uint8, body []byte) {
	req := kmsg.RequestForKey(key)
	req.SetVersion(int16(version) % (req.MaxVersion() + 2)) // one version past the newest too
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	frame := binary.BigEndian.AppendUint32(nil, 0)
	frame = binary.BigEndian.AppendUint16(frame, uint16(key))
	frame = binary.BigEndian.AppendUint16(frame, uint16(req.GetVersion()))
	frame = binary.BigEndian.AppendUint32(frame, 7) // correlation ID
	frame = binary.BigEndian.AppendUint16(frame, 4) // client ID length
	frame = append(frame, "fuzz"...)                // client ID
	if req.IsFlexible() {
		frame = append(frame, 0) // no tagged fields in the header
	}
	frame = append(frame, body...)
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	conn.SetDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := conn.Write(frame); err != nil {
		return
	}
	// An answer, or the connection closed: both are fine. Parked
	// requests (a JoinGroup waiting for others) time out here.
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err == nil {
		io.CopyN(io.Discard, conn, int64(binary.BigEndian.Uint32(size[:])))
	}
	if p := panics.take(); len(p) > 0 {
		t.Fatalf("key %d v%d: %s", key, req.GetVersion(), p[0])
	}
}
