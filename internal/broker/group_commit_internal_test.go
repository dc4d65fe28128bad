package broker

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/api"
	"github.com/samsa-streaming/samsa/internal/partition"
)

// TestGroupCommitReplicated: three combined nodes, __consumer_offsets of
// one partition and three replicas, replica.lag.time.max.ms a minute (a
// stopped follower stays in the ISR). An offset commit is answered once
// its record is committed: the coordinator's high watermark is at its log
// end. The high watermark cannot pass the next
// commit's record while a follower does not fetch: the commit is answered
// COORDINATOR_NOT_AVAILABLE after offsets.commit.timeout.ms, and
// OffsetFetch keeps answering the last committed offset, not the one whose
// record a failover could lose. The follower fetches again, the record is
// committed, and OffsetFetch answers it; the three logs are the same
// bytes.
func TestGroupCommitReplicated(t *testing.T) {
	brokers, cfgs := startCombinedWith(t, 3, map[string]string{
		"replica.lag.time.max.ms":          "60000",
		"broker.session.timeout.ms":        "60000",
		"offsets.topic.replication.factor": "3",
		"offsets.topic.num.partitions":     "1",
	})
	c := &rf3{t: t, brokers: brokers, cfgs: cfgs, topic: api.OffsetsTopic}
	coord, stopped := c.leaderAndFollower()
	offsets := func() *partition.Partition { return brokers[coord].partitions.Get(api.OffsetsTopic, 0) }
	if n := len(offsets().ISR()); n != 3 {
		t.Fatalf("__consumer_offsets-0 ISR %v, want three replicas", offsets().ISR())
	}
	ctx := t.Context()
	cl := testClient(t, kgo.SeedBrokers(brokers[coord].Addr()))
	if _, err := cl.Request(ctx, &kmsg.CreateTopicsRequest{Topics: []kmsg.CreateTopicsRequestTopic{{Topic: "t", NumPartitions: 1, ReplicationFactor: 3}}, TimeoutMillis: 10000}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "topic t in the coordinator's metadata", func() bool { return brokers[coord].partitions.Get("t", 0) != nil })
	node := cl.Broker(coord + 1) // raw requests: no retry of COORDINATOR_NOT_AVAILABLE
	commit := func(offset int64) int16 {
		t.Helper()
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Group, req.Generation = "g", -1
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic, rt.TopicID = "t", brokers[coord].controller.Image().Topics["t"].ID
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Offset, rp.LeaderEpoch = offset, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := node.Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode
	}
	adm := kadm.NewClient(cl)
	fetch := func() int64 {
		t.Helper()
		os, err := adm.FetchOffsets(ctx, "g")
		if err != nil {
			t.Fatalf("OffsetFetch: %v", err)
		}
		o, ok := os.Lookup("t", 0)
		if !ok {
			return -1
		}
		if o.Err != nil {
			t.Fatalf("OffsetFetch of t-0: %v", o.Err)
		}
		return o.At
	}

	if code := commit(5); code != 0 {
		t.Fatalf("commit: %v", kerr.ErrorForCode(code))
	}
	if p := offsets(); p.HighWatermark() != p.LogEndOffset() {
		t.Fatalf("commit answered with the high watermark at %d below the log end %d", p.HighWatermark(), p.LogEndOffset())
	}
	if got := fetch(); got != 5 {
		t.Fatalf("fetched %d, want 5", got)
	}

	// The follower stops fetching (a stopped node is fenced at once and
	// leaves the ISR; one that does not fetch stays in it for
	// replica.lag.time.max.ms).
	follower := brokers[stopped].partitions.Get(api.OffsetsTopic, 0)
	brokers[stopped].fetchers.Unfollow(follower)
	if code := commit(9); code != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("commit with a follower of the ISR stopped: %v, want COORDINATOR_NOT_AVAILABLE", kerr.ErrorForCode(code))
	}
	if p := offsets(); p.HighWatermark() >= p.LogEndOffset() {
		t.Fatalf("high watermark %d at the log end %d: the record was committed", p.HighWatermark(), p.LogEndOffset())
	}
	if got := fetch(); got != 5 {
		t.Fatalf("fetched %d while the commit of 9 is not committed, want 5", got)
	}
	brokers[stopped].fetchers.Follow(follower, int32(coord+1))
	waitFor(t, "the commit of 9 committed and fetched", func() bool { return fetch() == 9 })
	want := logBytes(t, filepath.Join(cfgs[coord].DataDir, api.OffsetsTopic+"-0"))
	waitFor(t, "the three logs the same", func() bool {
		for i := range brokers {
			if !bytes.Equal(logBytes(t, filepath.Join(cfgs[i].DataDir, api.OffsetsTopic+"-0")), want) {
				return false
			}
		}
		return true
	})
}
