package clustertest

import (
	"maps"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestTxnOffsetsGroupFailover: a transaction's offset commit is pending
// when the broker coordinating the group (the leader of its partition of
// __consumer_offsets, replicated on all three nodes) is killed. The new
// coordinator loaded the commit from its replica as pending (OffsetFetch
// with require_stable: UNSTABLE_OFFSET_COMMIT, without: the group's
// earlier offset), and once the producer commits, the transaction's
// marker makes it the group's offset.
func TestTxnOffsetsGroupFailover(t *testing.T) {
	noLeaks(t)
	static := maps.Clone(failoverStatics)
	static["transaction.state.log.num.partitions"] = "4"
	static["offsets.topic.num.partitions"] = "4"
	c := Start(t, Options{Nodes: 3, Static: static})
	const topic, group, id = "tof", "tof-group", "tof-txn"
	createTopicOn(t, c.Client(), topic, []int32{1, 2, 3}, map[string]string{"min.insync.replicas": "2"})
	leaderOf(t, c.Admin(), topic)
	ctx := ctxT(t, 120*time.Second)
	p := c.Client(kgo.TransactionalID(id), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionTimeout(60*time.Second), kgo.MetadataMinAge(100*time.Millisecond), kgo.RequestTimeoutOverhead(3*time.Second),
		kgo.RetryTimeout(60*time.Second))
	adm := c.Admin()
	// The group's coordinator may not follow the topic's creation yet
	// (UNKNOWN_TOPIC_OR_PARTITION).
	waitUntil(t, "a plain commit", func() bool {
		resp, err := adm.CommitOffsets(ctx, group, kadm.Offsets{topic: {0: {Topic: topic, Partition: 0, At: 3, LeaderEpoch: -1}}})
		return err == nil && resp.Error() == nil
	})

	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	pid, epoch, err := p.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ao := kmsg.NewPtrAddOffsetsToTxnRequest()
	ao.TransactionalID, ao.ProducerID, ao.ProducerEpoch, ao.Group = id, pid, epoch, group
	if resp, err := ao.RequestWith(ctx, p); err != nil || resp.ErrorCode != 0 {
		t.Fatalf("AddOffsetsToTxn: %v %+v", err, resp)
	}
	tc := kmsg.NewPtrTxnOffsetCommitRequest()
	tc.TransactionalID, tc.Group, tc.ProducerID, tc.ProducerEpoch, tc.Generation = id, group, pid, epoch, -1
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset = 0, 42
	rt.Partitions = append(rt.Partitions, rp)
	tc.Topics = append(tc.Topics, rt)
	if resp, err := tc.RequestWith(ctx, p); err != nil || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("TxnOffsetCommit: %v %+v", err, resp)
	}

	coord := adm.FindGroupCoordinators(ctxT(t, 10*time.Second), group)[group]
	if coord.Err != nil {
		t.Fatalf("FindCoordinator: %v", coord.Err)
	}
	killed := int(coord.NodeID - 1)
	c.Node(killed).Kill()
	rest := others(c, killed)
	side := sideClient(c, rest, kgo.RetryTimeout(30*time.Second))
	fetch := func(stable bool) (int64, int16) {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.RequireStable = stable
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = group
		ft := kmsg.NewOffsetFetchRequestGroupTopic()
		ft.Topic, ft.Partitions = topic, []int32{0}
		rg.Topics = append(rg.Topics, ft)
		req.Groups = append(req.Groups, rg)
		resp, err := req.RequestWith(ctx, side)
		if err != nil {
			// The coordinator found may be the killed node until the
			// controller fences it.
			t.Logf("OffsetFetch: %v", err)
			return -1, kerr.CoordinatorNotAvailable.Code
		}
		if len(resp.Groups) != 1 || len(resp.Groups[0].Topics) != 1 {
			t.Fatalf("OffsetFetch: %+v", resp)
		}
		if code := resp.Groups[0].ErrorCode; code != 0 {
			return -1, code
		}
		fp := resp.Groups[0].Topics[0].Partitions[0]
		return fp.Offset, fp.ErrorCode
	}
	// The new coordinator answers once it loaded the partition.
	var off int64
	var code int16
	waitUntil(t, "a new group coordinator", func() bool {
		off, code = fetch(false)
		return code == 0
	})
	if off != 3 {
		t.Fatalf("OffsetFetch on the new coordinator: %d, want the plain commit's 3", off)
	}
	if off, code = fetch(true); off != -1 || code != kerr.UnstableOffsetCommit.Code {
		t.Fatalf("OffsetFetch require_stable on the new coordinator: %d %v, want UNSTABLE_OFFSET_COMMIT", off, kerr.ErrorForCode(code))
	}
	next := kadm.NewClient(side).FindGroupCoordinators(ctxT(t, 10*time.Second), group)[group]
	if next.Err != nil || next.NodeID == coord.NodeID {
		t.Fatalf("group coordinator after the kill: node %d, %v (node %d was killed)", next.NodeID, next.Err, coord.NodeID)
	}

	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("commit: %v", err)
	}
	waitUntil(t, "the transaction's offset committed", func() bool {
		off, code = fetch(true)
		return code == 0 && off == 42
	})
	if off, code = fetch(false); off != 42 || code != 0 {
		t.Fatalf("OffsetFetch after the commit: %d %v", off, kerr.ErrorForCode(code))
	}
	if err := c.Node(killed).Restart(); err != nil {
		t.Fatal(err)
	}
	t.Logf("group coordinator %d killed with a transactional commit pending; node %d loaded it and committed it", coord.NodeID, next.NodeID)
}
