package clustertest

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// partitionState waits until partition 0 of topic, in node n's image,
// satisfies ok, and returns its leader and ISR.
func partitionState(t *testing.T, n *Node, topic string, what string, ok func(leader int32, isr []int32) bool) (int32, []int32) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var leader int32 = -2
		var isr []int32
		if b := n.Broker(); b != nil {
			if top := b.Image().Topics[topic]; top != nil {
				p := top.Partitions[0]
				leader, isr = p.Leader, slices.Clone(p.ISR)
				slices.Sort(isr)
				if ok(leader, isr) {
					return leader, isr
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("partition 0 of %s: leader %d, ISR %v; waiting for %s", topic, leader, isr, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestUncleanRestartLeavesLastISR: a topic of two replicas on three nodes.
// The follower's fetches are blackholed, so it leaves the ISR, which is
// the leader alone; records are acknowledged there. The leader is killed
// (its last writes may not be synced: kill -9, power loss) and fenced: it
// stays the last ISR member, without a leader. It restarts uncleanly (no
// clean-shutdown mark), so it may lack what it acknowledged: its new
// registration takes it out of the ISR, and once it is unfenced the
// partition still has no leader, rather than one that may have lost
// committed records; the out-of-sync follower is not elected either. A
// clean restart of the same leader would lead again (metadata's script
// reregister). With unclean.leader.election.enable set on the topic the
// controller then elects a live replica, and writes go on.
func TestUncleanRestartLeavesLastISR(t *testing.T) {
	noLeaks(t)
	static := maps.Clone(failoverStatics)
	static["replica.lag.time.max.ms"] = "1000"
	c := Start(t, Options{Nodes: 3, Static: static})
	adm := c.Admin()
	resp, err := adm.CreateTopic(ctxT(t, 30*time.Second), 1, 2, nil, "u")
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
	cl := c.Client(kgo.DefaultProduceTopic("u"), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.MetadataMinAge(100*time.Millisecond))
	produce := func(n int) {
		t.Helper()
		var recs []*kgo.Record
		for range n {
			recs = append(recs, &kgo.Record{Value: []byte("v")})
		}
		if err := cl.ProduceSync(ctxT(t, 30*time.Second), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce(10)
	c.Link(int(follower-1), int(leader-1)).SetBoth(Fault{Mode: Blackhole})
	// The follower is in sync while there is nothing more to fetch: a
	// record it cannot fetch leaves it behind.
	one := c.Client(kgo.DefaultProduceTopic("u"), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	if err := one.ProduceSync(ctxT(t, 30*time.Second), &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	ln := c.Node(int(leader - 1))
	partitionState(t, ln, "u", "the leader alone in the ISR", func(l int32, isr []int32) bool {
		return l == leader && slices.Equal(isr, []int32{leader})
	})
	produce(10) // acknowledged by the leader alone

	ln.Kill()
	other := c.Node(int(6 - leader - follower - 1)) // the node with no replica
	partitionState(t, other, "u", "the killed leader fenced, left as the last ISR member", func(l int32, isr []int32) bool {
		return l == -1 && slices.Equal(isr, []int32{leader})
	})
	if err := ln.Restart(); err != nil {
		t.Fatal(err)
	}
	// Restart returns once the new registration is unfenced in the node's
	// image: the records that would have elected it are applied.
	if b := ln.Broker().Image().Brokers[leader]; b.Fenced {
		t.Fatalf("restarted broker %d still fenced", leader)
	}
	l, _ := partitionState(t, ln, "u", "an empty ISR", func(l int32, isr []int32) bool { return len(isr) == 0 })
	if l != -1 {
		t.Fatalf("partition led by %d after the unclean restart, want no leader", l)
	}
	// A new client: franz-go answers Metadata from its cache for a while.
	if p, ok := mdPartition(t, c.Admin(), "u"); !ok || p.Leader != -1 || len(p.ISR) != 0 {
		t.Fatalf("Metadata says %+v", p)
	}

	// unclean.leader.election.enable=true on the topic: the controller
	// elects a live replica, in replica order, though none is in sync, and
	// the partition takes writes again.
	c.Link(int(follower-1), int(leader-1)).Heal()
	alter, err := adm.AlterTopicConfigs(ctxT(t, 30*time.Second), []kadm.AlterConfig{{Name: "unclean.leader.election.enable", Value: kadm.StringPtr("true")}}, "u")
	if err == nil {
		_, err = alter.On("u", nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	l, isr := partitionState(t, ln, "u", "an unclean election", func(l int32, isr []int32) bool { return l >= 0 })
	if l != replicas[0] || !slices.Equal(isr, []int32{l}) {
		t.Fatalf("unclean election: leader %d, ISR %v; want the first replica %d alone", l, isr, replicas[0])
	}
	produce(5)
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
