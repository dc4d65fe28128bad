package clustertest

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestStartWithoutThirdNode starts two of a three-voter cluster, whose
// __consumer_offsets needs three brokers (offsets.topic.replication.factor
// 3, the default): the two start at once rather than waiting for the
// third, serve topics, and answer FindCoordinator with
// COORDINATOR_NOT_AVAILABLE, as Kafka does while it cannot create the
// topic; once the third node starts, the topic is made with three replicas
// and a group commits and fetches an offset.
func TestStartWithoutThirdNode(t *testing.T) {
	start := time.Now()
	c := Start(t, Options{Nodes: 3, Absent: []int{2}})
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("two nodes took %v to start", took)
	}
	n := c.Node(0)
	if got := n.Broker().Image().Topics["__consumer_offsets"]; got != nil {
		t.Fatalf("__consumer_offsets exists with two of three brokers: %+v", got)
	}
	createTopic(t, n.Admin(), "t", 1)
	produce(t, n.Client(), "t", "a", "b")

	cl := n.Client()
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorKey = "g"
	resp, err := req.RequestWith(ctxT(t, 10*time.Second), cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); !errors.Is(err, kerr.CoordinatorNotAvailable) {
		t.Fatalf("FindCoordinator with two of three brokers: %v, want COORDINATOR_NOT_AVAILABLE", err)
	}

	if err := c.Node(2).Restart(); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 60*time.Second)
	adm := n.Admin()
	var offsets kadm.Offsets
	offsets.Add(kadm.Offset{Topic: "t", Partition: 0, At: 2, LeaderEpoch: -1})
	resp2, err := adm.CommitOffsets(ctx, "g", offsets)
	if err == nil {
		err = resp2.Error()
	}
	if err != nil {
		t.Fatalf("commit once the third node is up: %v", err)
	}
	got, err := adm.FetchOffsets(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := got.Lookup("t", 0); !ok || o.At != 2 {
		t.Fatalf("committed offset of g: %+v (found %v), want 2", o, ok)
	}
	topic := n.Broker().Image().Topics["__consumer_offsets"]
	if topic == nil || len(topic.Partitions) == 0 || len(topic.Partitions[0].Replicas) != 3 {
		t.Fatalf("__consumer_offsets after the third node started: %+v, want 3 replicas", topic)
	}
}
