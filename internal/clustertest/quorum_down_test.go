package clustertest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// describeConfig returns the value of config name of topic as node n
// describes it ("" when n does not answer or has none).
func describeConfig(t *testing.T, n *Node, topic, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rcs, err := n.Admin().DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return ""
	}
	rc, err := rcs.On(topic, nil)
	if err != nil || rc.Err != nil {
		return ""
	}
	for _, c := range rc.Configs {
		if c.Key == name && c.Value != nil {
			return *c.Value
		}
	}
	return ""
}

// TestMinorityControllersDown: three combined nodes (three voters), a
// topic of replication factor 3 with min.insync.replicas 2 and an
// idempotent acks=all producer. One voter that is neither the active
// controller nor the partition's leader is killed. The two left are a
// majority: metadata changes commit (a topic created on the survivors, a
// config change each survivor then describes), and the producer goes on
// (the ISR shrinks to the two). The node comes back, catches up on the
// metadata it missed and rejoins the ISR; every acknowledged record is
// read back once and in order.
func TestMinorityControllersDown(t *testing.T) {
	c, _, leader, s := startFailover(t, "m")
	ctrl := waitController(t, c, []int{0, 1, 2})
	victim := others(c, int(ctrl-1), int(leader-1))[0]
	rest := others(c, victim)

	c.Node(victim).Kill()
	killedAt := s.count()
	partitionState(t, c.Node(rest[0]), "m", "the ISR without the killed node", func(_ int32, isr []int32) bool {
		return len(isr) == 2 && !slices.Contains(isr, int32(victim+1))
	})
	createTopicOn(t, sideClient(c, rest), "while-down", ids(rest), nil)
	leaderOf(t, kadm.NewClient(sideClient(c, rest, kgo.MetadataMinAge(10*time.Millisecond))), "while-down")
	produce(t, sideClient(c, rest, kgo.RequiredAcks(kgo.AllISRAcks())), "while-down", values("w", 0, 10)...)
	alter, err := kadm.NewClient(sideClient(c, rest)).AlterTopicConfigs(ctxT(t, 20*time.Second),
		[]kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("86400001")}}, "m")
	if err == nil {
		_, err = alter.On("m", nil)
	}
	if err != nil {
		t.Fatalf("alter the config of m with one voter down: %v", err)
	}
	for _, i := range rest {
		waitUntil(t, fmt.Sprintf("node %d describes the new retention.ms", i+1), func() bool {
			return describeConfig(t, c.Node(i), "m", "retention.ms") == "86400001"
		})
	}
	s.waitFor(killedAt + 300)
	downFor := s.count()

	if err := c.Node(victim).Restart(); err != nil {
		t.Fatal(err)
	}
	partitionState(t, c.Node(victim), "m", "the restarted node back in the ISR", func(_ int32, isr []int32) bool { return len(isr) == 3 })
	equal(t, "the topic created while the node was down, through it", readAll(t, c.Node(victim), "while-down"), values("w", 0, 10))
	waitUntil(t, "the restarted node describes the new retention.ms", func() bool {
		return describeConfig(t, c.Node(victim), "m", "retention.ms") == "86400001"
	})
	s.waitFor(downFor + 300)
	acked := s.finish()
	read := checkLog(t, c.Node(victim), "m", acked)

	t.Logf("voter %d killed (controller %d, leader %d) after %d acknowledged records, %d while it was down; %d in all, %d read back",
		victim+1, ctrl, leader, killedAt, downFor-killedAt, len(acked), read)
}

// TestMajorityControllersDown: the same cluster and producer, but two of
// the three voters are killed, leaving the partition's leader alone. No
// metadata change can commit: CreateTopics through the survivor fails
// (with an error code or by timing out) within its timeout and the
// survivor's image never gets the topic; and the survivor acknowledges no
// acks=all record, since its ISR cannot shrink without a controller. The
// two come back; a controller is elected, metadata changes work again, the
// producer goes on, and every acknowledged record is read back once and
// in order.
func TestMajorityControllersDown(t *testing.T) {
	c, _, leader, s := startFailover(t, "d")
	survivor := int(leader - 1)
	down := others(c, survivor)
	for _, i := range down {
		c.Node(i).Kill()
	}
	// Fetch answers in flight at the kill may still acknowledge what they
	// carried; after that nothing may be acknowledged.
	time.Sleep(500 * time.Millisecond)
	settled := s.count()

	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 3000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "no-quorum", 1, 1
	req.Topics = append(req.Topics, rt)
	asked := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	// Asked of the survivor once, not retried as franz-go would retry
	// CONTROLLER_NOT_AVAILABLE until the context ends.
	var resp *kmsg.CreateTopicsResponse
	kresp, err := c.Node(survivor).Client().SeedBrokers()[0].Request(ctx, req)
	if err == nil {
		resp = kresp.(*kmsg.CreateTopicsResponse)
	}
	cancel()
	took := time.Since(asked)
	var code int16
	switch {
	case err != nil:
		t.Fatalf("CreateTopics without a quorum (timeout 3 s): no answer, %v after %v", err, took.Round(time.Millisecond))
	case resp.Topics[0].ErrorCode == 0:
		t.Fatalf("CreateTopics committed a topic with two of three voters down (after %v)", took)
	default:
		code = resp.Topics[0].ErrorCode
		t.Logf("CreateTopics without a quorum: %v after %v", kerr.ErrorForCode(code), took.Round(time.Millisecond))
	}
	if took > 10*time.Second {
		t.Fatalf("CreateTopics without a quorum answered after %v, beyond its 3 s timeout", took)
	}
	// Past broker.session.timeout.ms: nothing fences, no topic appears,
	// nothing is acknowledged.
	time.Sleep(2500 * time.Millisecond)
	if img := c.Node(survivor).Broker().Image(); img.Topics["no-quorum"] != nil {
		t.Fatal("the survivor's image has the topic no quorum committed")
	}
	if during := s.count() - settled; during != 0 {
		t.Fatalf("the leader left alone acknowledged %d acks=all records", during)
	}
	// The survivor still answers Metadata, naming itself leader.
	if l := leaderOf(t, c.Node(survivor).Admin(), "d"); l != leader {
		t.Fatalf("the survivor names %d leader of d, want itself (%d)", l, leader)
	}

	for _, i := range down {
		if err := c.Node(i).Restart(); err != nil {
			t.Fatal(err)
		}
	}
	restarted := time.Now()
	ctrl := waitController(t, c, []int{0, 1, 2})
	createTopicOn(t, c.Client(), "back", ids([]int{0, 1, 2}), nil)
	leaderOf(t, c.Admin(kgo.MetadataMinAge(10*time.Millisecond)), "back")
	produce(t, c.Client(kgo.RequiredAcks(kgo.AllISRAcks())), "back", values("back", 0, 10)...)
	s.waitFor(settled + 300)
	resumed := time.Since(restarted)
	acked := s.finish()
	read := checkLog(t, c.Node(down[0]), "d", acked)
	equal(t, "a topic created once the quorum is back", readAll(t, c.Node(survivor), "back"), values("back", 0, 10))
	t.Logf("nodes %d and %d killed, leader %d left alone after %d acknowledged records, none acknowledged in 3 s; controller %d after the restarts, 300 more acknowledged within %v; %d in all, %d read back",
		down[0]+1, down[1]+1, leader, settled, ctrl, resumed.Round(time.Millisecond), len(acked), read)
}

// waitUntil polls ok every 20 ms until it holds, for up to 30 s.
func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 30 s for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
