package broker_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/batch"
)

// rawProduce sends one produce request with the given batch to topic/0.
func rawProduce(t *testing.T, cl *kgo.Client, topic string, records []byte, acks int16) *kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks = acks
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = 0
	rp.Records = append([]byte(nil), records...)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	return &resp.Topics[0].Partitions[0]
}

func initProducer(t *testing.T, cl *kgo.Client) (int64, int16) {
	t.Helper()
	resp, err := kmsg.NewPtrInitProducerIDRequest().RequestWith(ctxT(t), cl)
	if err != nil || resp.ErrorCode != 0 {
		t.Fatalf("init producer id: %v %d", err, resp.ErrorCode)
	}
	return resp.ProducerID, resp.ProducerEpoch
}

func TestIdempotentRetryStoredOnce(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "idem", 1, nil)
	cl := tb.client()
	pid, epoch := initProducer(t, cl)
	pid2, _ := initProducer(t, cl)
	if pid2 == pid {
		t.Fatalf("producer id %d handed out twice", pid)
	}
	mk := func(seq int32, n int) []byte {
		recs := make([]batch.Record, n)
		for i := range recs {
			recs[i] = batch.Record{Value: []byte{byte(seq), byte(i)}, Timestamp: time.Now().UnixMilli()}
		}
		return batch.Build(batch.BuildOptions{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq}, recs)
	}
	first := rawProduce(t, cl, "idem", mk(0, 3), -1)
	if first.ErrorCode != 0 || first.BaseOffset != 0 {
		t.Fatalf("first produce: %+v", first)
	}
	retry := rawProduce(t, cl, "idem", mk(0, 3), -1)
	if retry.ErrorCode != 0 || retry.BaseOffset != 0 {
		t.Fatalf("retried produce: code %d offset %d, want the original offset 0", retry.ErrorCode, retry.BaseOffset)
	}
	next := rawProduce(t, cl, "idem", mk(3, 2), -1)
	if next.ErrorCode != 0 || next.BaseOffset != 3 {
		t.Fatalf("next produce: %+v", next)
	}
	gap := rawProduce(t, cl, "idem", mk(9, 1), -1)
	if gap.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("sequence gap: code %d", gap.ErrorCode)
	}
	old := batch.Build(batch.BuildOptions{ProducerID: pid, ProducerEpoch: epoch - 1, BaseSequence: 5}, []batch.Record{{Value: []byte("x")}})
	if r := rawProduce(t, cl, "idem", old, -1); epoch > 0 && r.ErrorCode != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("old epoch: code %d", r.ErrorCode)
	}
	// The retry was not stored twice, and the state survives a restart.
	tb = tb.restart()
	cl = tb.client()
	got := consumeAll(t, tb, "idem", 5)
	if got[4].Offset != 4 {
		t.Fatalf("last offset %d", got[4].Offset)
	}
	again := rawProduce(t, cl, "idem", mk(3, 2), -1)
	if again.ErrorCode != 0 || again.BaseOffset != 3 {
		t.Fatalf("retry after restart: code %d offset %d, want 3", again.ErrorCode, again.BaseOffset)
	}
}

func TestCorruptBatchRejected(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "corrupt", 1, nil)
	cl := tb.client()
	good := batch.Build(batch.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, []batch.Record{{Value: []byte("hello")}})
	bad := append([]byte(nil), good...)
	bad[len(bad)-1] ^= 0xff
	if r := rawProduce(t, cl, "corrupt", bad, 1); r.ErrorCode != kerr.CorruptMessage.Code {
		t.Fatalf("bad crc: code %d", r.ErrorCode)
	}
	if r := rawProduce(t, cl, "corrupt", good[:len(good)-3], 1); r.ErrorCode == 0 {
		t.Fatal("truncated batch accepted")
	}
	if r := rawProduce(t, cl, "corrupt", good, 1); r.ErrorCode != 0 || r.BaseOffset != 0 {
		t.Fatalf("good batch after bad ones: %+v", r)
	}
	// kgo always sends its configured acks, so acks=5 goes over a raw connection.
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(9)
	req.Acks, req.TimeoutMillis = 5, 1000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "corrupt"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = good
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	body, err := rawRoundTrip(t, tb.Addr(), kmsg.NewRequestFormatter().AppendRequest(nil, req, 3))
	if err != nil {
		t.Fatal(err)
	}
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	resp.SetVersion(9)
	if err := resp.ReadFrom(body[5:]); err != nil { // correlation ID, empty header tags
		t.Fatal(err)
	}
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.InvalidRequiredAcks.Code {
		t.Fatalf("acks=5: code %d", code)
	}
	if r := rawProduce(t, cl, "no-such-topic", good, 1); r.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown topic: code %d", r.ErrorCode)
	}
}

func TestAcksZero(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "fire", 1, nil)
	cl := tb.client(kgo.DefaultProduceTopic("fire"), kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	for i := range 100 {
		cl.Produce(context.Background(), &kgo.Record{Value: []byte{byte(i)}}, nil)
	}
	if err := cl.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	got := consumeAll(t, tb, "fire", 100)
	for i, r := range got {
		if r.Value[0] != byte(i) {
			t.Fatalf("record %d: %v", i, r.Value)
		}
	}
}

// rawRoundTrip writes a frame and reads one response frame.
func rawRoundTrip(t *testing.T, addr string, frame []byte) ([]byte, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(frame); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	_, err = io.ReadFull(c, body)
	return body, err
}

func TestApiVersionsFallbackAndBadFrames(t *testing.T) {
	tb := startBroker(t, "", nil)
	// ApiVersions v99: answered with a v0 body, UNSUPPORTED_VERSION, and our APIs.
	frame := []byte{0, 0, 0, 0, 0, 18, 0, 99, 0, 0, 0, 7, 0xff, 0xff, 1, 2, 3}
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	body, err := rawRoundTrip(t, tb.Addr(), frame)
	if err != nil {
		t.Fatal(err)
	}
	if binary.BigEndian.Uint32(body) != 7 {
		t.Fatalf("correlation id %d", binary.BigEndian.Uint32(body))
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(0)
	if err := resp.ReadFrom(body[4:]); err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != kerr.UnsupportedVersion.Code || len(resp.ApiKeys) == 0 {
		t.Fatalf("fallback: code %d, %d keys", resp.ErrorCode, len(resp.ApiKeys))
	}
	groupAPIs := 0
	for _, k := range resp.ApiKeys {
		if k.ApiKey == 11 || k.ApiKey == 10 {
			groupAPIs++
		}
	}
	if groupAPIs != 2 {
		t.Fatalf("fallback lists %d of FindCoordinator and JoinGroup", groupAPIs)
	}

	// A frame larger than socket.request.max.bytes closes the connection.
	if _, err := rawRoundTrip(t, tb.Addr(), []byte{0x7f, 0xff, 0xff, 0xff, 0, 3}); err == nil {
		t.Fatal("oversized frame answered")
	}
	// A garbage Metadata body closes the connection; the broker stays up.
	garbage := []byte{0, 0, 0, 14, 0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff, 0, 0xff, 0xff, 0xff}
	if _, err := rawRoundTrip(t, tb.Addr(), garbage); err == nil {
		t.Fatal("garbage frame answered")
	}
	if _, err := tb.admin().ListTopics(ctxT(t)); err != nil {
		t.Fatalf("broker unusable after bad frames: %v", err)
	}
}

func TestLongPollWakesOnProduce(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "poll", 1, nil)
	topicID := topicIDOf(t, tb, "poll")
	cl := tb.client()
	done := make(chan *kmsg.FetchResponse, 1)
	go func() {
		resp, err := longPoll("poll", topicID, 0, 1, 30*time.Second).RequestWith(context.Background(), cl)
		if err != nil {
			t.Error(err)
		}
		done <- resp
	}()
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	prod := tb.client(kgo.DefaultProduceTopic("poll"))
	if err := prod.ProduceSync(ctxT(t), &kgo.Record{Value: []byte("wake")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	select {
	case resp := <-done:
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 || len(p.RecordBatches) == 0 || p.HighWatermark != 1 {
			t.Fatalf("fetch: code %d, %d bytes, hw %d", p.ErrorCode, len(p.RecordBatches), p.HighWatermark)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("parked fetch not woken %v after the produce", time.Since(start))
	}
}

func TestFetchSessions(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "sess", 2, nil)
	topicID := topicIDOf(t, tb, "sess")
	cl := tb.client()
	prod := tb.client(kgo.DefaultProduceTopic("sess"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := prod.ProduceSync(ctxT(t), &kgo.Record{Value: []byte("a"), Partition: 0}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	fetchReq := func(id, epoch int32, parts map[int32]int64) *kmsg.FetchResponse {
		req := kmsg.NewPtrFetchRequest()
		req.MaxBytes = 1 << 20
		req.SessionID, req.SessionEpoch = id, epoch
		if len(parts) > 0 {
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic, rt.TopicID = "sess", topicID
			for p, off := range parts {
				rp := kmsg.NewFetchRequestTopicPartition()
				rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p, off, 1<<20
				rt.Partitions = append(rt.Partitions, rp)
			}
			req.Topics = append(req.Topics, rt)
		}
		resp, err := req.RequestWith(ctxT(t), cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	full := fetchReq(0, 0, map[int32]int64{0: 0, 1: 0})
	if full.ErrorCode != 0 || full.SessionID == 0 || len(full.Topics) != 1 || len(full.Topics[0].Partitions) != 2 {
		t.Fatalf("full fetch: %+v", full)
	}
	id := full.SessionID
	// Nothing changed: the incremental response lists no partition.
	inc := fetchReq(id, 1, map[int32]int64{0: 1})
	if inc.ErrorCode != 0 || len(inc.Topics) != 0 {
		t.Fatalf("incremental with no change: code %d, %d topics", inc.ErrorCode, len(inc.Topics))
	}
	if err := prod.ProduceSync(ctxT(t), &kgo.Record{Value: []byte("b"), Partition: 1}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	inc = fetchReq(id, 2, nil)
	if len(inc.Topics) != 1 || len(inc.Topics[0].Partitions) != 1 || inc.Topics[0].Partitions[0].Partition != 1 || len(inc.Topics[0].Partitions[0].RecordBatches) == 0 {
		t.Fatalf("incremental after produce to partition 1: %+v", inc.Topics)
	}
	if bad := fetchReq(id, 7, nil); bad.ErrorCode != kerr.InvalidFetchSessionEpoch.Code {
		t.Fatalf("wrong epoch: code %d", bad.ErrorCode)
	}
	if bad := fetchReq(12345, 1, nil); bad.ErrorCode != kerr.FetchSessionIDNotFound.Code {
		t.Fatalf("unknown session: code %d", bad.ErrorCode)
	}
}

func topicIDOf(t *testing.T, tb *testBroker, topic string) [16]byte {
	t.Helper()
	td, err := tb.admin().ListTopics(ctxT(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	return td[topic].ID
}
