package clustertest

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
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

// Bounds of TestDiskFault, generous for -race on a loaded 2-core machine:
// the report reaches the controller in one round trip, and the measured
// times are logged.
const (
	// newLeaderBound is the longest from the fault's first failed
	// operation to a new leader (or, for a follower, its leaving the ISR)
	// in the active controller's image.
	newLeaderBound = 10 * time.Second
	// ackSlack is how long after the fault an acknowledgement the failed
	// leader decided before it may still arrive at the client.
	ackSlack = time.Second
	// resumeBound is the longest the producer may take, once the
	// partition has moved, to have 300 more values acknowledged.
	resumeBound = 15 * time.Second
)

// TestDiskFault is issue 11's disk faults on a cluster: three combined
// nodes, a topic of one partition with replication factor 3,
// min.insync.replicas=2 and flush.messages=1 (every append is synced, so
// a failing fsync is met at once), and an idempotent acks=all producer
// writing unique values. The partition log of the leader, or of a
// follower, is given a failing fsync (EIO) or a full disk (ENOSPC)
// through the node's filesystem. The node must take the log offline and
// report it: its partition gets a new leader (or loses the follower from
// its ISR) within newLeaderBound and the producer goes on within
// resumeBound, the failed node acknowledges nothing after the fault and
// answers produce and fetch with KAFKA_STORAGE_ERROR, and another node's
// Metadata lists it as an offline replica. The disk is
// then fixed and the node restarted: it recovers its log and is back in
// the ISR by catching up.
// The sends, acknowledgements and a final read-back are a chaos history:
// chaos.Check finds nothing lost, duplicated or inconsistent, and the
// three replicas' logs agree byte for byte below the high watermark.
func TestDiskFault(t *testing.T) {
	for _, tc := range []struct {
		fault  DiskFault
		leader bool
	}{
		{DiskSyncFails, true},
		{DiskFull, true},
		{DiskSyncFails, false},
		{DiskFull, false},
	} {
		role := "follower"
		if tc.leader {
			role = "leader"
		}
		t.Run(tc.fault.String()+"-"+role, func(t *testing.T) { testDiskFault(t, tc.fault, tc.leader) })
	}
}

func testDiskFault(t *testing.T, fault DiskFault, onLeader bool) {
	noLeaks(t)
	const topic = "disk"
	c := Start(t, Options{Nodes: 3, Static: failoverStatics})
	adm := c.Admin(kgo.MetadataMinAge(10 * time.Millisecond))
	resp, err := adm.CreateTopic(ctxT(t, 30*time.Second), 1, 3, map[string]*string{
		"min.insync.replicas": kadm.StringPtr("2"),
		"flush.messages":      kadm.StringPtr("1"),
	}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	leader := leaderOf(t, adm, topic)
	h := &diskHistory{}
	acks := &ackedBy{}
	p := startHistoryProducer(t, h, c.Client(kgo.DefaultProduceTopic(topic), kgo.MaxBufferedRecords(50),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.MetadataMinAge(100*time.Millisecond), kgo.WithHooks(acks)), topic)
	p.waitFor(t, 300, time.Minute)

	target := leader
	if !onLeader {
		target = leader%3 + 1 // another replica: every node holds one
	}
	n := c.Node(int(target) - 1)
	h.add(chaos.Event{Kind: chaos.FaultStart, Fault: fault.String(), ID: 1, Nodes: []int{int(target)}, Partitions: []int32{0}})
	n.SetDiskFault(fault, filepath.Join(n.Dir(), topic+"-0"))
	var faultAt time.Time
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		if faultAt, _ = n.DiskFaultFired(); !faultAt.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the disk fault failed no operation within 30 s of writes")
		}
	}

	// The controller moves the partition away from the failed replica.
	observer := c.Node(int(target) % 3) // another node: its image follows the log
	moved := waitPartition(t, observer, topic, newLeaderBound, faultAt, func(l int32, isr []int32) bool {
		return l > 0 && l != target && !slices.Contains(isr, target)
	})
	t.Logf("%v on node %d (%s): partition 0 led by node %d without it in the ISR %v after the first failed operation",
		fault, target, map[bool]string{true: "the leader", false: "a follower"}[onLeader], moved, time.Since(faultAt).Round(time.Millisecond))
	if !onLeader && moved != leader {
		t.Errorf("a follower's failed disk moved the leadership from %d to %d", leader, moved)
	}
	// Writes go on at once: an offline follower is not waited for (a
	// leader that took it for a live caught-up replica held the high
	// watermark for replica.lag.time.max.ms, 30 s).
	p.waitFor(t, p.count()+300, resumeBound)

	// The failed node acknowledges nothing and serves nothing of the log.
	raw := n.Client()
	rec := batch.Build(batch.BuildOptions{ProducerID: -1, ProducerEpoch: -1}, []batch.Record{{Value: []byte("raw"), Timestamp: time.Now().UnixMilli()}})
	for _, acksMode := range []int16{1, -1} {
		if code := rawProduceTo(t, raw, topic, rec, acksMode); code != kerr.KafkaStorageError.Code {
			t.Errorf("acks=%d produce to the failed node: error %d, want KAFKA_STORAGE_ERROR", acksMode, code)
		}
	}
	if code := rawFetchFrom(t, raw, topic, [16]byte(observer.Broker().Image().Topics[topic].ID)); code != kerr.KafkaStorageError.Code {
		t.Errorf("fetch from the failed node: error %d, want KAFKA_STORAGE_ERROR", code)
	}
	// Every node's Metadata lists the failed replica as offline.
	if mp, ok := mdPartition(t, observer.Admin(), topic); !ok || !slices.Equal(mp.OfflineReplicas, []int32{target}) {
		t.Errorf("Metadata from node %d: partition %+v, want node %d offline", int(target)%3+1, mp, target)
	}
	if late := acks.after(target, faultAt.Add(ackSlack)); len(late) > 0 {
		t.Errorf("node %d acknowledged %d batches more than %v after its disk failed, the first at +%v",
			target, len(late), ackSlack, late[0].Sub(faultAt).Round(time.Millisecond))
	}

	// The disk is fixed and the node restarted: it recovers the log and
	// catches up into the ISR while the producer goes on.
	n.SetDiskFault(DiskOK, "")
	if err := n.Restart(); err != nil {
		t.Fatal(err)
	}
	h.add(chaos.Event{Kind: chaos.FaultEnd, Fault: fault.String(), ID: 1, Nodes: []int{int(target)}})
	restarted := time.Now()
	waitPartition(t, n, topic, 60*time.Second, restarted, func(l int32, isr []int32) bool { return l > 0 && len(isr) == 3 })
	t.Logf("node %d back in the ISR %v after its restart", target, time.Since(restarted).Round(time.Millisecond))
	if mp, ok := mdPartition(t, observer.Admin(), topic); !ok || len(mp.OfflineReplicas) != 0 {
		t.Errorf("Metadata after the restart: partition %+v, want no offline replica", mp)
	}
	p.waitFor(t, p.count()+300, time.Minute)
	p.finish(t)

	// The read-back and the checker.
	end := readBack(t, h, c.Client(), topic)
	events := h.all()
	res := chaos.Check(events)
	for _, a := range res.Anomalies {
		if !a.Kind.Allowed() {
			t.Errorf("anomaly: %v", a)
		}
	}
	if len(res.Partitions) != 1 || res.Partitions[0].Acked == 0 {
		t.Fatalf("checker counts %+v", res.Partitions)
	}
	pc := res.Partitions[0]
	t.Logf("%d sent, %d acknowledged, %d failed, %d read back (%d unacknowledged), high watermark %d",
		pc.Attempted, pc.Acked, pc.Failed, pc.Read, pc.Unacked, end)

	// Every replica holds the same batches below the high watermark.
	waitPartition(t, c.Node(0), topic, 60*time.Second, time.Now(), func(l int32, isr []int32) bool { return l > 0 && len(isr) == 3 })
	logs := map[int][]byte{}
	for i, node := range c.Nodes() {
		if err := node.Stop(); err != nil {
			t.Errorf("stop node %d: %v", i+1, err)
		}
	}
	for i, node := range c.Nodes() {
		b, err := chaos.ReadReplicaLog(node.Dir(), topic, 0)
		if err != nil {
			t.Fatal(err)
		}
		logs[i+1] = b
	}
	for _, a := range chaos.CompareReplicas(topic, 0, end, logs) {
		t.Errorf("replicas differ: %v", a)
	}
}

// waitPartition waits up to bound from since until partition 0 of topic,
// in node n's metadata image, satisfies ok; it returns its leader.
func waitPartition(t *testing.T, n *Node, topic string, bound time.Duration, since time.Time, ok func(leader int32, isr []int32) bool) int32 {
	t.Helper()
	for {
		var leader int32 = -2
		var isr []int32
		if b := n.Broker(); b != nil {
			if top := b.Image().Topics[topic]; top != nil {
				leader, isr = top.Partitions[0].Leader, top.Partitions[0].ISR
				if ok(leader, isr) {
					return leader
				}
			}
		}
		if time.Since(since) > bound {
			t.Fatalf("partition 0 of %s: leader %d, ISR %v %v after %v", topic, leader, isr, bound, since.Format(time.StampMilli))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// diskHistory is a chaos history recorded by the test's clients. Safe for
// concurrent use.
type diskHistory struct {
	mu     sync.Mutex
	events []chaos.Event
}

func (h *diskHistory) add(e chaos.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e.Time = time.Now().UnixNano()
	h.events = append(h.events, e)
}

func (h *diskHistory) all() []chaos.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.events)
}

// ackedBy records when each broker acknowledged a produced batch (a
// kgo.HookProduceBatchWritten).
type ackedBy struct {
	mu sync.Mutex
	at map[int32][]time.Time
}

func (a *ackedBy) OnProduceBatchWritten(meta kgo.BrokerMetadata, _ string, _ int32, _ kgo.ProduceBatchMetrics) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.at == nil {
		a.at = map[int32][]time.Time{}
	}
	a.at[meta.NodeID] = append(a.at[meta.NodeID], time.Now())
}

// after returns node's acknowledgements after t, in order.
func (a *ackedBy) after(node int32, t time.Time) []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []time.Time
	for _, at := range a.at[node] {
		if at.After(t) {
			out = append(out, at)
		}
	}
	return out
}

// historyProducer produces the unique values d-0, d-1, ... to partition
// 0 of a topic until finished, recording each send and its answer.
type historyProducer struct {
	h     *diskHistory
	cl    *kgo.Client
	topic string

	mu       sync.Mutex
	acked    int
	inFlight sync.WaitGroup
	stop     chan struct{}
	once     sync.Once
	done     chan struct{}
}

func startHistoryProducer(t *testing.T, h *diskHistory, cl *kgo.Client, topic string) *historyProducer {
	p := &historyProducer{h: h, cl: cl, topic: topic, stop: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(func() {
		p.once.Do(func() { close(p.stop) })
		<-p.done
	})
	go func() {
		defer close(p.done)
		for i := 0; ; i++ {
			select {
			case <-p.stop:
				return
			default:
			}
			v := fmt.Sprintf("d-%d", i)
			h.add(chaos.Event{Kind: chaos.Send, Process: "producer", Topic: topic, Partition: 0, Value: v})
			p.inFlight.Add(1)
			cl.Produce(context.Background(), &kgo.Record{Value: []byte(v), Partition: 0}, func(r *kgo.Record, err error) {
				defer p.inFlight.Done()
				e := chaos.Event{Kind: chaos.Ack, Process: "producer", Topic: topic, Partition: 0, Value: v, Offset: r.Offset}
				if err != nil {
					e.Err, e.Offset = err.Error(), -1
				} else {
					p.mu.Lock()
					p.acked++
					p.mu.Unlock()
				}
				h.add(e)
			})
		}
	}()
	return p
}

func (p *historyProducer) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.acked
}

// waitFor waits up to bound until n values are acknowledged.
func (p *historyProducer) waitFor(t *testing.T, n int, bound time.Duration) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for p.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d values acknowledged, waiting %v for %d", p.count(), bound, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// finish stops producing and waits for every answer.
func (p *historyProducer) finish(t *testing.T) {
	t.Helper()
	p.once.Do(func() { close(p.stop) })
	<-p.done
	if err := p.cl.Flush(ctxT(t, 60*time.Second)); err != nil {
		t.Fatal(err)
	}
	p.inFlight.Wait()
}

// readBack reads partition 0 of topic from the start to its high
// watermark as the history's final polls, and returns the high watermark.
func readBack(t *testing.T, h *diskHistory, cl *kgo.Client, topic string) int64 {
	t.Helper()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctxT(t, 30*time.Second), topic)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup(topic, 0)
	if end.Err != nil {
		t.Fatalf("end offset of %s: %v", topic, end.Err)
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}})
	ctx := ctxT(t, 60*time.Second)
	next := int64(0)
	for next < end.Offset {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read back to offset %d of %d: %v", next, end.Offset, ctx.Err())
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("read back: %v", err) })
		var recs []chaos.Record
		for _, r := range fs.Records() {
			recs = append(recs, chaos.Record{Partition: r.Partition, Offset: r.Offset, Value: string(r.Value)})
			next = r.Offset + 1
		}
		if len(recs) > 0 {
			h.add(chaos.Event{Kind: chaos.Poll, Process: "read-back", Topic: topic, Records: recs, Final: true})
		}
	}
	return end.Offset
}

// rawProduceTo sends one produce of records to partition 0 of topic
// through cl (seeded with one node) and returns the partition's error.
func rawProduceTo(t *testing.T, cl *kgo.Client, topic string, records []byte, acks int16) int16 {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = acks, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = records
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctxT(t, 10*time.Second), cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

// rawFetchFrom fetches partition 0 of topic (ID id) from offset 0 through
// cl as a consumer and returns the partition's error.
func rawFetchFrom(t *testing.T, cl *kgo.Client, topic string, id [16]byte) int16 {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 0, 1, 1<<20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic, ft.TopicID = topic, id // by name before v13, by ID from it
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	req.Topics = append(req.Topics, ft)
	resp, err := req.RequestWith(ctxT(t, 10*time.Second), cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch answer %+v", resp)
	}
	if resp.ErrorCode != 0 {
		return resp.ErrorCode
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}
