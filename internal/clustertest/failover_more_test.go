package clustertest

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/chaos"
)

// createTopicOn creates topic with one partition on replicas, in that
// order (the first is its preferred leader), with configs; cl may reach
// any live node.
func createTopicOn(t *testing.T, cl *kgo.Client, topic string, replicas []int32, configs map[string]string) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 20000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
	a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	a.Replicas = replicas
	rt.ReplicaAssignment = append(rt.ReplicaAssignment, a)
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range configs {
			if !yield(k) {
				return
			}
		}
	}) {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, kmsg.StringPtr(configs[k])
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctxT(t, 30*time.Second), cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.Topics[0].ErrorCode)
	}
	if err != nil {
		t.Fatalf("create %s on %v: %v", topic, replicas, err)
	}
}

// sideClient returns a client on one side of a network partition: seeded
// with nodes and dialing as nodes[0] does (Cluster.Dialer), so that a node
// the faults cut off from nodes[0] is cut off from it too — a client in
// the same network as nodes[0]. Its requests time out within seconds, so
// that a request stuck on a cut connection is retried elsewhere soon.
func sideClient(c *Cluster, nodes []int, opts ...kgo.Opt) *kgo.Client {
	var seeds []string
	for _, i := range nodes {
		seeds = append(seeds, c.Node(i).Addr())
	}
	opts = append([]kgo.Opt{kgo.Dialer(c.Dialer(nodes[0])), kgo.RequestTimeoutOverhead(2 * time.Second),
		kgo.ProduceRequestTimeout(3 * time.Second), kgo.MetadataMinAge(100 * time.Millisecond)}, opts...)
	return newClient(c.t, seeds, opts)
}

// others returns the node indexes of c other than not.
func others(c *Cluster, not ...int) []int {
	var out []int
	for i := range c.Nodes() {
		if !slices.Contains(not, i) {
			out = append(out, i)
		}
	}
	return out
}

func ids(nodes []int) []int32 {
	var out []int32
	for _, i := range nodes {
		out = append(out, int32(i+1))
	}
	return out
}

// streamOpts are the producer options of the failover tests' streams.
func streamOpts(topic string) []kgo.Opt {
	return []kgo.Opt{kgo.DefaultProduceTopic(topic), kgo.MaxBufferedRecords(50), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MetadataMinAge(100 * time.Millisecond)}
}

// compareReplicas stops every node cleanly and compares their replicas of
// partition 0 of topic below hw byte for byte (chaos.CompareReplicas),
// failing the test on any divergence or a replica without hw's records.
func compareReplicas(t *testing.T, c *Cluster, topic string, hw int64) {
	t.Helper()
	for i, n := range c.Nodes() {
		if err := n.Stop(); err != nil {
			t.Fatalf("stop node %d: %v", i+1, err)
		}
	}
	logs := map[int][]byte{}
	for i, n := range c.Nodes() {
		b, err := chaos.ReadReplicaLog(n.Dir(), topic, 0)
		if err != nil {
			t.Fatalf("node %d's replica of %s: %v", i+1, topic, err)
		}
		logs[i+1] = b
	}
	for _, a := range chaos.CompareReplicas(topic, 0, hw, logs) {
		t.Errorf("replicas disagree below the high watermark %d: %v", hw, a)
	}
	// Each replica also ends at hw: nothing the old leader wrote alone
	// survives above it.
	for node, b := range logs {
		var end int64
		err := batch.Iterate(b, func(h batch.Header, _ []byte) bool {
			end = h.LastOffset() + 1
			return true
		})
		if err != nil {
			t.Fatalf("node %d's replica of %s: %v", node, topic, err)
		}
		if end != hw {
			t.Errorf("node %d's replica of %s ends at %d, the high watermark is %d", node, topic, end, hw)
		}
	}
}

// TestFailoverKillController: three combined nodes; the active
// controller also leads a topic of replication factor 3 with
// min.insync.replicas 2, written by an idempotent acks=all producer
// without pause. The controller is killed: the other two voters elect a
// controller of themselves, which fences the dead broker and moves its
// leadership, and the producer goes on. No metadata is lost: a topic
// created before the kill is there on both survivors with its records, a
// topic created after it works, and once the node is back it sees both.
// Every acknowledged record is in the log once and in order.
func TestFailoverKillController(t *testing.T) {
	noLeaks(t)
	c := Start(t, Options{Nodes: 3, Static: failoverStatics})
	old := waitController(t, c, []int{0, 1, 2})
	killedIdx := int(old - 1)
	rest := others(c, killedIdx)
	createTopicOn(t, c.Client(), "kc", append([]int32{old}, ids(rest)...), map[string]string{"min.insync.replicas": "2"})
	createTopicOn(t, c.Client(), "before", []int32{old, int32(rest[0] + 1), int32(rest[1] + 1)}, nil)
	adm := c.Admin(kgo.MetadataMinAge(10 * time.Millisecond))
	if l := leaderOf(t, adm, "kc"); l != old {
		t.Fatalf("kc is led by %d, the controller is %d", l, old)
	}
	leaderOf(t, adm, "before")
	produce(t, c.Client(kgo.RequiredAcks(kgo.AllISRAcks())), "before", values("before", 0, 10)...)
	s := startStream(t, c.Client(streamOpts("kc")...))
	s.waitFor(300)

	killedAt := s.count()
	at := time.Now()
	c.Node(killedIdx).Kill()
	after := int(s.issued.Load())
	next := waitController(t, c, rest, old)
	elected := time.Since(at)
	survivors := kadm.NewClient(sideClient(c, rest, kgo.MetadataMinAge(10*time.Millisecond)))
	newLeader := leaderOf(t, survivors, "kc", ids(rest)...)
	s.waitFor(killedAt + 300)
	firstAck := s.firstAckFrom(after)

	// Metadata made before the kill is on both survivors; a change made
	// after it commits (two replicas: the dead broker is fenced).
	for _, i := range rest {
		equal(t, fmt.Sprintf("topic before, read through node %d", i+1), readAll(t, c.Node(i), "before"), values("before", 0, 10))
	}
	createTopicOn(t, sideClient(c, rest), "after", ids(rest), nil)
	leaderOf(t, survivors, "after")
	produce(t, sideClient(c, rest, kgo.RequiredAcks(kgo.AllISRAcks())), "after", values("after", 0, 10)...)
	afterKill := s.count()

	if err := c.Node(killedIdx).Restart(); err != nil {
		t.Fatal(err)
	}
	waitController(t, c, []int{0, 1, 2})
	partitionState(t, c.Node(killedIdx), "kc", "the restarted node back in the ISR", func(_ int32, isr []int32) bool { return len(isr) == 3 })
	s.waitFor(afterKill + 300)
	acked := s.finish()
	read := checkLog(t, c.Node(killedIdx), "kc", acked)
	equal(t, "topic before, read through the restarted node", readAll(t, c.Node(killedIdx), "before"), values("before", 0, 10))
	equal(t, "topic after, read through the restarted node", readAll(t, c.Node(killedIdx), "after"), values("after", 0, 10))
	t.Logf("controller %d (leading kc) killed after %d acknowledged records; %d elected controller %v after, node %d led kc; first acks=all produce of a record handed over after the kill acknowledged %v after it; %d acknowledged in all, %d read back",
		old, killedAt, next, elected.Round(time.Millisecond), newLeader, firstAck.Sub(at).Round(time.Millisecond), len(acked), read)
}

// TestFailoverIsolateController: the active controller, which also leads
// the partition, is cut off from the other two nodes on both listeners
// (Isolate); see testIsolate.
func TestFailoverIsolateController(t *testing.T) { testIsolate(t, true) }

// TestFailoverIsolateLeader: a partition leader that is not the active
// controller is cut off; see testIsolate.
func TestFailoverIsolateLeader(t *testing.T) { testIsolate(t, false) }

// testIsolate: three combined nodes, a topic of replication factor 3 and
// min.insync.replicas 2 led by the active controller (controller) or by
// another node, and an idempotent acks=all producer on the majority's side
// of the coming partition (sideClient). The leader is isolated. A client
// that reaches only the isolated node (its own Dialer) produces: none of
// its acks=all records is acknowledged, as the leader can neither
// replicate them nor shrink the ISR without a quorum. The majority elects
// a controller (if it lost it) and a leader of themselves, the producer
// goes on, and a topic created meanwhile commits. After the heal the old
// leader rejoins as a follower, truncates what only it had and is back in
// the ISR; every acknowledged record is read back once and in order, the
// isolated client's are nowhere, and after a clean stop the three
// replicas are the same batches byte for byte.
func testIsolate(t *testing.T, controller bool) {
	noLeaks(t)
	c := Start(t, Options{Nodes: 3, Static: failoverStatics})
	ctrl := waitController(t, c, []int{0, 1, 2})
	lead := int(ctrl - 1)
	if !controller {
		lead = (lead + 1) % 3
	}
	rest := others(c, lead)
	const topic = "iso"
	createTopicOn(t, c.Client(), topic, append([]int32{int32(lead + 1)}, ids(rest)...), map[string]string{"min.insync.replicas": "2"})
	leaderOf(t, c.Admin(kgo.MetadataMinAge(10*time.Millisecond)), topic, int32(lead+1))
	s := startStream(t, sideClient(c, rest, streamOpts(topic)...))
	s.waitFor(300)

	// Only the isolated node: seeded with it, dialing as it does.
	alone := newClient(t, []string{c.Node(lead).Addr()}, []kgo.Opt{kgo.Dialer(c.Dialer(lead)),
		kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite(),
		kgo.ProduceRequestTimeout(time.Second), kgo.MetadataMinAge(100 * time.Millisecond)})
	if err := alone.Ping(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}

	c.Isolate(lead)
	at := time.Now()
	var mu sync.Mutex
	var aloneAcked []string
	var aloneDone sync.WaitGroup
	for k := range 5 {
		aloneDone.Add(1)
		v := "isolated-" + strconv.Itoa(k)
		alone.Produce(ctxT(t, 60*time.Second), &kgo.Record{Value: []byte(v)}, func(_ *kgo.Record, err error) {
			defer aloneDone.Done()
			if err == nil {
				mu.Lock()
				aloneAcked = append(aloneAcked, v)
				mu.Unlock()
			}
		})
	}

	if controller {
		waitController(t, c, rest, ctrl)
	}
	next := waitController(t, c, rest)
	survivors := kadm.NewClient(sideClient(c, rest, kgo.MetadataMinAge(10*time.Millisecond)))
	newLeader := leaderOf(t, survivors, topic, ids(rest)...)
	elected := time.Since(at)
	createTopicOn(t, sideClient(c, rest), "during", ids(rest), nil)
	before := s.count()
	s.waitFor(before + 300)

	// The isolated leader has had seconds (beyond the session timeout) to
	// acknowledge the records only it received.
	if wait := 4*time.Second - time.Since(at); wait > 0 {
		time.Sleep(wait)
	}
	mu.Lock()
	if len(aloneAcked) != 0 {
		t.Errorf("the isolated leader acknowledged acks=all records %v", aloneAcked)
	}
	mu.Unlock()
	alone.Close() // its records in flight fail; none is sent after the heal
	aloneDone.Wait()

	c.Heal()
	partitionState(t, c.Node(rest[0]), topic, "the old leader back in the ISR", func(_ int32, isr []int32) bool { return len(isr) == 3 })
	partitionState(t, c.Node(lead), topic, "the old leader following the new one", func(l int32, _ []int32) bool { return l == newLeader })
	healed := s.count()
	s.waitFor(healed + 300)
	acked := s.finish()
	got := readAll(t, c.Node(lead), topic)
	for off, v := range got {
		if _, err := strconv.Atoi(v); err != nil {
			t.Fatalf("offset %d holds %q, which the isolated leader never acknowledged", off, v)
		}
	}
	read := checkLog(t, c.Node(lead), topic, acked)
	// The topic created by the majority reached the isolated node.
	produce(t, c.Node(lead).Client(), "during", "after-the-heal")
	equal(t, "the topic created during the partition, through the old leader", readAll(t, c.Node(lead), "during"), []string{"after-the-heal"})
	partitionState(t, c.Node(lead), topic, "a whole ISR", func(_ int32, isr []int32) bool { return len(isr) == 3 })
	compareReplicas(t, c, topic, int64(read))
	t.Logf("node %d (controller %v) isolated leading %s after %d acknowledged records; node %d controller, node %d leader, seen %v after; %d acknowledged in all, %d read back, replicas agree",
		lead+1, controller, topic, before, next, newLeader, elected.Round(time.Millisecond), len(acked), read)
}
