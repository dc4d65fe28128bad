package clustertest

import (
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// brokerFailures counts, per node, the produce requests that failed on
// the connection (not with a Kafka error code).
type brokerFailures struct {
	mu      sync.Mutex
	on      bool
	produce map[int32]int
}

func (f *brokerFailures) OnBrokerE2E(meta kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.on && key == 0 && (e2e.WriteErr != nil || e2e.ReadErr != nil) {
		f.produce[meta.NodeID]++
	}
}

func (f *brokerFailures) count(node int32) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.produce[node]
}

// TestControlledShutdown: three nodes, a topic of replication factor 3
// with min.insync.replicas 2, an idempotent acks=all producer writing
// without pause. The partition's leader stops cleanly (Node.Stop:
// broker.Close): it first asks the controller to move its leaderships
// (controlled shutdown) and stops only once its replica follows, so the
// producer sees no error — its records in flight are answered
// NOT_LEADER_OR_FOLLOWER, which franz-go retries on the new leader after a
// metadata refresh — and no produce request to the stopping node fails on
// its connection (without the handover the producer finds the connection
// gone under a produce, the node still named leader until the controller
// fences it; a metadata request may still try it). The node comes back; every
// acknowledged record is in the log once and in order.
func TestControlledShutdown(t *testing.T) {
	noLeaks(t)
	c := Start(t, Options{Nodes: 3, Static: failoverStatics})
	adm := c.Admin()
	resp, err := adm.CreateTopic(ctxT(t, 30*time.Second), 1, 3, map[string]*string{"min.insync.replicas": kadm.StringPtr("2")}, "s")
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	leader := leaderOf(t, adm, "s")
	failures := &brokerFailures{produce: map[int32]int{}}
	s := startStream(t, c.Client(kgo.DefaultProduceTopic("s"), kgo.MaxBufferedRecords(50), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MetadataMinAge(100*time.Millisecond), kgo.WithHooks(failures)))
	s.waitFor(300)

	stopped := c.Node(int(leader - 1))
	before := s.count()
	failures.mu.Lock()
	failures.on = true
	failures.mu.Unlock()
	if err := stopped.Stop(); err != nil {
		t.Fatalf("stop node %d: %v", leader, err)
	}
	var others []int32
	for id := int32(1); id <= 3; id++ {
		if id != leader {
			others = append(others, id)
		}
	}
	newLeader := leaderOf(t, adm, "s", others...)
	s.waitFor(before + 300)
	failures.mu.Lock()
	failures.on = false
	failures.mu.Unlock()
	if n := failures.count(leader); n != 0 {
		t.Errorf("while node %d stopped: %d produce requests to it failed on the connection", leader, n)
	}
	afterStop := s.count()
	if err := stopped.Restart(); err != nil {
		t.Fatal(err)
	}
	s.waitFor(afterStop + 300)
	acked := s.finish() // fails the test on any produce error
	read := checkLog(t, c.Node(int(newLeader-1)), "s", acked)
	t.Logf("leader %d stopped after %d acknowledged records; node %d led next; %d acknowledged in all, %d read back", leader, before, newLeader, len(acked), read)
}
