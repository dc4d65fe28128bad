package clustertest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// partitionState waits until partition 0 of topic, in node n's image,
// satisfies ok, and returns its leader and ISR.
func partitionState(t *testing.T, n *Node, topic string, what string, ok func(leader int32, isr []int32) bool) (int32, []int32) {
	t.Helper()
	return partitionStateOf(t, n, topic, 0, what, ok)
}

// partitionStateOf is partitionState for partition index.
func partitionStateOf(t *testing.T, n *Node, topic string, index int32, what string, ok func(leader int32, isr []int32) bool) (int32, []int32) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var leader int32 = -2
		var isr []int32
		if b := n.Broker(); b != nil {
			if top := b.Image().Topics[topic]; top != nil && int(index) < len(top.Partitions) {
				p := top.Partitions[index]
				leader, isr = p.Leader, slices.Clone(p.ISR)
				slices.Sort(isr)
				if ok(leader, isr) {
					return leader, isr
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("partition %d of %s: leader %d, ISR %v; waiting for %s", index, topic, leader, isr, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestUncleanRestartLeavesLastISR: a topic of two replicas on five
// nodes (two may be down and the quorum go on) with min.insync.replicas 2, ten records acknowledged by both. The
// follower is killed and fenced: the ISR is the leader alone and keeps
// the follower as last-known (nothing can be acknowledged without it).
// The leader is killed too and, before it restarts, loses its replica's
// data, as a power loss loses what was never synced (here all of it):
// its registration after the unclean shutdown empties the ISR, and
// though it is unfenced and reports its (empty) log, it does not lead:
// the other last-known member, still down, may hold more — no replica is
// elected with less than the acknowledged records while another could
// be. The follower comes back (uncleanly too) and reports the longer log;
// the recovery election makes it leader, the old leader refetches the ten
// records, and writes go on. With unclean.leader.election.enable set on
// the topic instead, the controller waits a session for the missing
// member, then elects the live replica though its log is empty: the ten
// records are lost, as the config allows, and the follower truncates to
// its new leader when it returns.
func TestUncleanRestartLeavesLastISR(t *testing.T) {
	for _, unclean := range []bool{false, true} {
		name := "waits for the last-known ISR"
		if unclean {
			name = "unclean.leader.election.enable"
		}
		t.Run(name, func(t *testing.T) { testUncleanRestart(t, unclean) })
	}
}

func testUncleanRestart(t *testing.T, unclean bool) {
	noLeaks(t)
	c := Start(t, Options{Nodes: 5, Static: failoverStatics})
	adm := c.Admin()
	resp, err := adm.CreateTopic(ctxT(t, 30*time.Second), 1, 2, map[string]*string{"min.insync.replicas": kadm.StringPtr("2")}, "u")
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	leader := leaderOf(t, adm, "u")
	md, err := adm.Metadata(ctxT(t, 10*time.Second), "u")
	if err != nil {
		t.Fatal(err)
	}
	replicas := md.Topics["u"].Partitions[0].Replicas
	follower := replicas[0]
	if follower == leader {
		follower = replicas[1]
	}
	ln, fn := c.Node(int(leader-1)), c.Node(int(follower-1))
	var other *Node // a node with no replica
	for i, n := range c.Nodes() {
		if id := int32(i + 1); id != leader && id != follower {
			other = n
			break
		}
	}
	cl := c.Client(kgo.DefaultProduceTopic("u"), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.MetadataMinAge(100*time.Millisecond))
	produce := func(from, to int) {
		t.Helper()
		var recs []*kgo.Record
		for i := from; i < to; i++ {
			recs = append(recs, &kgo.Record{Value: fmt.Appendf(nil, "v-%d", i)})
		}
		if err := cl.ProduceSync(ctxT(t, 30*time.Second), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce(0, 10)

	fn.Kill()
	partitionState(t, other, "u", "the killed follower fenced out of the ISR", func(l int32, isr []int32) bool {
		return l == leader && slices.Equal(isr, []int32{leader})
	})
	ln.Kill()
	partitionState(t, other, "u", "the killed leader fenced, left as the last ISR member", func(l int32, isr []int32) bool {
		return l == -1 && slices.Equal(isr, []int32{leader})
	})
	if err := os.RemoveAll(filepath.Join(ln.Dir(), "u-0")); err != nil {
		t.Fatal(err)
	}
	if err := ln.Restart(); err != nil {
		t.Fatal(err)
	}
	// Restart returns once the new registration is unfenced in the node's
	// image; the replica reports its log with the next heartbeats.
	if b := ln.Broker().Image().Brokers[leader]; b.Fenced {
		t.Fatalf("restarted broker %d still fenced", leader)
	}
	partitionState(t, ln, "u", "an empty ISR", func(l int32, isr []int32) bool { return len(isr) == 0 })
	if p := ln.Broker().Image().Topics["u"].Partitions[0]; !slices.Equal(p.LastKnownISR, sorted(leader, follower)) {
		t.Fatalf("last-known ISR %v, want both replicas", p.LastKnownISR)
	}
	// Clients see them as the eligible leader replicas (KIP-966's
	// DescribeTopicPartitions), the partition leaderless with an empty ISR.
	dreq := kmsg.NewPtrDescribeTopicPartitionsRequest()
	dreq.ResponsePartitionLimit = 10
	dreq.Topics = []kmsg.DescribeTopicPartitionsRequestTopic{{Topic: "u"}}
	dresp, err := dreq.RequestWith(ctxT(t, 10*time.Second), ln.Client())
	if err != nil {
		t.Fatal(err)
	}
	if len(dresp.Topics) != 1 || len(dresp.Topics[0].Partitions) != 1 {
		t.Fatalf("DescribeTopicPartitions: %+v", dresp.Topics)
	}
	if dp := dresp.Topics[0].Partitions[0]; dp.LeaderID != -1 || len(dp.ISR) != 0 || !slices.Equal(dp.EligibleLeaderReplicas, sorted(leader, follower)) {
		t.Fatalf("DescribeTopicPartitions partition: %+v", dp)
	}

	if unclean {
		alter, err := adm.AlterTopicConfigs(ctxT(t, 30*time.Second), []kadm.AlterConfig{{Name: "unclean.leader.election.enable", Value: kadm.StringPtr("true")}}, "u")
		if err == nil {
			_, err = alter.On("u", nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		set := time.Now()
		l, isr := partitionState(t, ln, "u", "an unclean election", func(l int32, isr []int32) bool { return l >= 0 })
		if l != leader || !slices.Equal(isr, []int32{leader}) {
			t.Fatalf("unclean election: leader %d, ISR %v; want the live replica %d alone", l, isr, leader)
		}
		t.Logf("unclean election %v after the config was set", time.Since(set).Round(time.Millisecond))
		if err := fn.Restart(); err != nil {
			t.Fatal(err)
		}
		partitionState(t, other, "u", "the follower back in the ISR", func(_ int32, isr []int32) bool { return len(isr) == 2 })
		produce(10, 15)
		equal(t, "after the unclean election", readAll(t, fn, "u"), values("v", 10, 15))
		return
	}

	time.Sleep(2 * time.Second) // heartbeats of 500 ms: the empty log has been reported
	if l, _ := partitionState(t, ln, "u", "an empty ISR", func(l int32, isr []int32) bool { return len(isr) == 0 }); l != -1 {
		t.Fatalf("partition led by %d with the other last-known member down, want no leader", l)
	}
	// A new client: franz-go answers Metadata from its cache for a while.
	if p, ok := mdPartition(t, c.Admin(), "u"); !ok || p.Leader != -1 || len(p.ISR) != 0 {
		t.Fatalf("Metadata says %+v", p)
	}
	if err := fn.Restart(); err != nil {
		t.Fatal(err)
	}
	l, isr := partitionState(t, other, "u", "the recovery election", func(l int32, isr []int32) bool { return l >= 0 })
	if l != follower || !slices.Equal(isr, []int32{follower}) {
		t.Fatalf("recovery election: leader %d, ISR %v; want %d, the longer log, alone", l, isr, follower)
	}
	partitionState(t, other, "u", "the old leader back in the ISR", func(_ int32, isr []int32) bool { return len(isr) == 2 })
	produce(10, 15)
	equal(t, "after the recovery", readAll(t, ln, "u"), values("v", 0, 15))
}

// sorted returns ids in ascending order.
func sorted(ids ...int32) []int32 {
	slices.Sort(ids)
	return ids
}

// mdPartition is partition 0 of topic in a Metadata response.
func mdPartition(t *testing.T, adm *kadm.Client, topic string) (kadm.PartitionDetail, bool) {
	t.Helper()
	md, err := adm.Metadata(ctxT(t, 10*time.Second), topic)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := md.Topics[topic].Partitions[0]
	return p, ok
}
