package broker

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/metadata"
)

// startLeader starts a standalone broker (node 1) with topic t of one
// partition, and returns it with the test's context and a client whose
// produces are acks=1 (kgo sends a Produce with its client's acks,
// whatever the request says); the test's end closes them.
func startLeader(t *testing.T) (*Broker, context.Context, *kgo.Client) {
	t.Helper()
	return startLeaderIn(t, t.TempDir())
}

// startLeaderIn is startLeader in data directory dir.
func startLeaderIn(t *testing.T, dir string) (*Broker, context.Context, *kgo.Client) {
	t.Helper()
	b, err := Start(Config{DataDir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	cl := testClient(t, kgo.SeedBrokers(b.Addr()), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "t"); err != nil {
		t.Fatal(err)
	}
	return b, ctx, cl
}

func testClient(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// TestFollowerFetch drives the leader's side of replication with a
// follower's Fetch requests (replica ID 2, which the test plays) over TCP,
// in Fetch v16 (ReplicaState) and v13 (ReplicaID): the follower reads up
// to the leader's log end, not the high watermark, its fetch offset moves
// the high watermark the response carries and answers an acks=all
// produce; a last fetched epoch the leader's log does not end at gets
// DivergingEpoch and moves nothing; a replica not in the replica set gets
// NOT_LEADER_OR_FOLLOWER, an offset past the log end OFFSET_OUT_OF_RANGE.
func TestFollowerFetch(t *testing.T) {
	b, ctx, acks1 := startLeader(t)
	cl := testClient(t, kgo.SeedBrokers(b.Addr()), kgo.RetryTimeout(time.Second))
	v13 := testClient(t, kgo.SeedBrokers(b.Addr()), kgo.MaxVersions(kversion.V3_4_0())) // Fetch v13
	produce := func(acks int16, values ...string) (int64, int16) {
		t.Helper()
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = acks, 30000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewProduceRequestTopicPartition()
		var recs []batch.Record
		for _, v := range values {
			recs = append(recs, batch.Record{Value: []byte(v)})
		}
		rp.Records = batch.Build(batch.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, recs)
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		raw := cl.Broker(1)
		if acks == 1 {
			raw = acks1.Broker(1)
		}
		resp, err := raw.Request(ctx, req)
		if err != nil {
			t.Error(err)
			return -1, -1
		}
		p := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
		return p.BaseOffset, p.ErrorCode
	}
	type answer struct {
		code      int16
		hw        int64
		offsets   []int64
		values    []string
		divEpoch  int32
		divOffset int64
	}
	fetch := func(c *kgo.Client, replica int32, offset int64, lastEpoch int32) answer {
		t.Helper()
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID, req.ReplicaState.ID, req.ReplicaState.Epoch = replica, replica, 5
		req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 0, 1, 1<<20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = "t", b.controller.Image().Topics["t"].ID
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.FetchOffset, rp.LastFetchedEpoch, rp.PartitionMaxBytes, rp.LogStartOffset = offset, lastEpoch, 1<<20, 0
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := c.Broker(1).Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		p := resp.(*kmsg.FetchResponse).Topics[0].Partitions[0]
		a := answer{code: p.ErrorCode, hw: p.HighWatermark, divEpoch: p.DivergingEpoch.Epoch, divOffset: p.DivergingEpoch.EndOffset}
		batch.Iterate(p.RecordBatches, func(h batch.Header, raw []byte) bool {
			recs, err := batch.Records(raw)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range recs {
				a.offsets = append(a.offsets, h.BaseOffset+int64(i))
				a.values = append(a.values, string(r.Value))
			}
			return true
		})
		return a
	}

	// Epoch e0 writes offset 0; then node 2 joins the replicas and the ISR
	// in epoch e0+1, which writes offsets 1 and 2.
	if _, code := produce(1, "a"); code != 0 {
		t.Fatal(kerr.ErrorForCode(code))
	}
	img := b.controller.Image()
	e0 := img.Topics["t"].Partitions[0].LeaderEpoch
	b.partitions.follow(moved(img, 1000, "t", 0, func(p *metadata.Partition) {
		p.LeaderEpoch, p.PartitionEpoch = p.LeaderEpoch+1, p.PartitionEpoch+1
		p.Replicas, p.ISR = []int32{1, 2}, []int32{1, 2}
	}), b.followGroups)
	if _, code := produce(1, "b", "c"); code != 0 {
		t.Fatal(kerr.ErrorForCode(code))
	}
	p := b.partitions.Get("t", 0)
	if p.HighWatermark() != 1 || p.LogEndOffset() != 3 {
		t.Fatalf("high watermark %d, log end %d: want 1 (node 2 has not fetched) and 3", p.HighWatermark(), p.LogEndOffset())
	}

	// The follower reads what the consumer may not yet.
	got := fetch(cl, 2, 0, -1)
	if got.code != 0 || got.hw != 1 || !slices.Equal(got.values, []string{"a", "b", "c"}) || got.offsets[2] != 2 {
		t.Fatalf("follower fetch at 0: %+v", got)
	}
	if c := fetch(cl, -1, 0, -1); c.code != 0 || !slices.Equal(c.values, []string{"a"}) {
		t.Fatalf("consumer fetch at 0: %+v, want the record below the high watermark only", c)
	}
	// ListOffsets latest is the log end for a replica (a follower resetting
	// its fetch offset), the high watermark for a consumer.
	for replica, want := range map[int32]int64{2: 3, -1: 1} {
		req := kmsg.NewPtrListOffsetsRequest()
		req.ReplicaID = replica
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp, rp.CurrentLeaderEpoch = -1, e0+1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := cl.Broker(1).Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if lp := resp.(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]; lp.ErrorCode != 0 || lp.Offset != want {
			t.Fatalf("ListOffsets latest as replica %d: offset %d (%v), want %d", replica, lp.Offset, kerr.ErrorForCode(lp.ErrorCode), want)
		}
	}

	// An acks=all produce waits for the follower's fetch past it.
	done := make(chan int16, 1)
	go func() {
		_, code := produce(-1, "d")
		done <- code
	}()
	for p.LogEndOffset() != 4 {
		time.Sleep(time.Millisecond)
	}
	if got := fetch(v13, 2, 3, e0+1); got.code != 0 || got.hw != 3 || !slices.Equal(got.values, []string{"d"}) || got.offsets[0] != 3 {
		t.Fatalf("follower fetch v13 at 3: %+v (high watermark 3)", got)
	}
	select {
	case code := <-done:
		t.Fatalf("acks=all answered (%v) before the follower had the record", kerr.ErrorForCode(code))
	case <-time.After(50 * time.Millisecond):
	}
	if got := fetch(cl, 2, 4, e0+1); got.code != 0 || got.hw != 4 || len(got.values) != 0 {
		t.Fatalf("follower fetch at the log end: %+v, want high watermark 4 and no records", got)
	}
	if code := <-done; code != 0 {
		t.Fatalf("acks=all produce: %v", kerr.ErrorForCode(code))
	}

	// A follower that holds offsets 0-3 as epoch e0 diverged at 1, where
	// epoch e0 ended on the leader: it is told so, and nothing moves.
	if got := fetch(cl, 2, 4, e0); got.code != 0 || got.divEpoch != e0 || got.divOffset != 1 || len(got.values) != 0 {
		t.Fatalf("diverging fetch: %+v, want DivergingEpoch (%d, 1)", got, e0)
	}
	// An epoch above the leader's is unknown to it: (-1, -1), as Kafka's
	// endOffsetFor.
	if got := fetch(v13, 2, 4, e0+7); got.code != 0 || got.divEpoch != -1 || got.divOffset != -1 {
		t.Fatalf("fetch with an epoch the leader never had: %+v, want DivergingEpoch (-1, -1)", got)
	}
	if f, _ := p.Follower(2); f.LogEndOffset != 4 {
		t.Fatalf("follower log end %d after diverging fetches, want 4", f.LogEndOffset)
	}
	if got := fetch(cl, 3, 0, -1); got.code != kerr.NotLeaderForPartition.Code {
		t.Fatalf("fetch by replica 3, not a replica: %+v, want NOT_LEADER_OR_FOLLOWER", got)
	}
	// Past the log end: with no last fetched epoch, OFFSET_OUT_OF_RANGE;
	// with the current one, its end (the log end) is below the fetch
	// offset, so DivergingEpoch, as Kafka checks the epoch first.
	if got := fetch(cl, 2, 5, -1); got.code != kerr.OffsetOutOfRange.Code {
		t.Fatalf("follower fetch past the log end: %+v, want OFFSET_OUT_OF_RANGE", got)
	}
	if got := fetch(cl, 2, 5, e0+1); got.code != 0 || got.divEpoch != e0+1 || got.divOffset != 4 {
		t.Fatalf("follower fetch past the log end in the current epoch: %+v, want DivergingEpoch (%d, 4)", got, e0+1)
	}
}
