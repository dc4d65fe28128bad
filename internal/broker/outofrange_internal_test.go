package broker

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/partition"
)

// TestFollowerBelowLeaderLogStart: three combined nodes, one partition of
// three replicas, min.insync.replicas=2. A follower stops at offset 10;
// the two others take offsets 10-29 and DeleteRecords moves the log start
// to 25, inside the batch [20,30). The running follower's log start
// follows the leader's (the fetch response's log start offset). The
// stopped follower restarts: its fetch from 10 is OFFSET_OUT_OF_RANGE, it
// asks the leader's log end and start (ListOffsets as a replica), empties
// its log to start at 25 (Kafka's truncateFullyAndStartAt), takes the
// batch holding 25 as the leader has it, and rejoins the ISR. Every
// replica then starts at 25 and holds exactly the leader's batches from
// there, and a consumer reads 25-39 in order.
func TestFollowerBelowLeaderLogStart(t *testing.T) {
	c := startRF3(t, "oor")
	brokers, cfgs, ctx, adm := c.brokers, c.cfgs, c.ctx, c.adm
	produce := c.produce
	produce(0, 10)
	leader, stopped := c.leaderAndFollower()
	running := 3 - leader - stopped
	waitFor(t, "the stopped follower at 10", func() bool { return brokers[stopped].partitions.Get("oor", 0).LogEndOffset() == 10 })
	if err := brokers[stopped].Close(); err != nil {
		t.Fatalf("close node %d: %v", stopped+1, err)
	}
	produce(10, 20) // waits until the leader drops the stopped node from the ISR
	produce(20, 30)
	var offsets kadm.Offsets
	offsets.Add(kadm.Offset{Topic: "oor", Partition: 0, At: 25, LeaderEpoch: -1})
	res, err := adm.DeleteRecords(ctx, offsets)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := res.Lookup("oor", 0); r.Err != nil || r.LowWatermark != 25 {
		t.Fatalf("DeleteRecords: %+v", r)
	}
	waitFor(t, "the running follower's log start at the leader's 25", func() bool {
		return brokers[running].partitions.Get("oor", 0).LogStartOffset() == 25
	})

	restarted, err := Start(cfgs[stopped])
	if err != nil {
		t.Fatalf("restart node %d: %v", stopped+1, err)
	}
	brokers[stopped] = restarted // the cleanup closes it
	waitFor(t, "the restarted follower back in the ISR", func() bool {
		isr := brokers[leader].partitions.Get("oor", 0).ISR()
		slices.Sort(isr)
		return slices.Equal(isr, []int32{1, 2, 3})
	})
	produce(30, 40)
	waitFor(t, "every replica at [25,40)", func() bool {
		for _, b := range brokers {
			p := b.partitions.Get("oor", 0)
			if p.LogStartOffset() != 25 || p.LogEndOffset() != 40 || p.HighWatermark() != 40 {
				return false
			}
		}
		return true
	})

	// The leader's batches from the one holding 25 on, as they are.
	var want []byte
	if err := batch.Iterate(logBytes(t, filepath.Join(cfgs[leader].DataDir, "oor-0")), func(h batch.Header, raw []byte) bool {
		if h.LastOffset() >= 25 {
			want = append(want, raw...)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if got := logBytes(t, filepath.Join(cfgs[stopped].DataDir, "oor-0")); !bytes.Equal(got, want) {
		t.Fatalf("the restarted follower's log (%d bytes) is not the leader's batches from 25 (%d bytes)", len(got), len(want))
	}
	first, _ := batch.ParseHeader(want)
	if first.BaseOffset != 20 {
		t.Fatalf("the batch holding 25 starts at %d, want 20 (the case of a log start inside a batch)", first.BaseOffset)
	}

	consumer, err := kgo.NewClient(kgo.SeedBrokers(c.seeds...), kgo.ConsumeTopics("oor"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	var got []string
	for len(got) < 15 {
		fs := consumer.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatalf("consume: %v (got %v)", err, got)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if want := fmt.Sprint("v", r.Offset); string(r.Value) != want {
				t.Errorf("offset %d holds %q, want %q", r.Offset, r.Value, want)
			}
			got = append(got, string(r.Value))
		})
	}
	if got[0] != "v25" || len(got) != 15 {
		t.Fatalf("consumed %v, want v25-v39", got)
	}
}

// waitFor waits up to 30 s for cond.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rf3 is three combined nodes (replica.lag.time.max.ms 2000, a broker
// session of a minute, so that the controller fences no stopped node and
// ISR changes are the leaders') with a topic of one partition, three
// replicas and min.insync.replicas=2, and a client of all three.
type rf3 struct {
	t       *testing.T
	brokers []*Broker
	cfgs    []Config
	seeds   []string
	ctx     context.Context
	cl      *kgo.Client
	adm     *kadm.Client
	topic   string
}

func startRF3(t *testing.T, topic string) *rf3 {
	t.Helper()
	c := &rf3{t: t, topic: topic}
	c.brokers, c.cfgs = startCombinedWith(t, 3, map[string]string{
		"replica.lag.time.max.ms":   "2000",
		"broker.session.timeout.ms": "60000",
	})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	t.Cleanup(cancel)
	c.ctx = ctx
	for _, b := range c.brokers {
		c.seeds = append(c.seeds, b.Addr())
	}
	c.cl = testClient(t, kgo.SeedBrokers(c.seeds...), kgo.RecordDeliveryTimeout(30*time.Second), kgo.MetadataMinAge(100*time.Millisecond))
	c.adm = kadm.NewClient(c.cl)
	minISR := "2"
	if resp, err := c.adm.CreateTopic(ctx, 1, 3, map[string]*string{"min.insync.replicas": &minISR}, topic); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	return c
}

// produce writes records "v<from>" to "v<to-1>" with acks=all.
func (c *rf3) produce(from, to int) {
	c.t.Helper()
	var recs []*kgo.Record
	for i := from; i < to; i++ {
		recs = append(recs, &kgo.Record{Topic: c.topic, Value: []byte(fmt.Sprint("v", i))})
	}
	if err := c.cl.ProduceSync(c.ctx, recs...).FirstErr(); err != nil {
		c.t.Fatalf("acks=all produce of records %d-%d: %v", from, to-1, err)
	}
}

// leaderAndFollower returns the index of the partition's leader and of a
// follower that is not the active controller (stopping it causes no
// election on the way).
func (c *rf3) leaderAndFollower() (leader, follower int) {
	c.t.Helper()
	leader, follower = -1, -1
	active := c.brokers[0].controller.ActiveController()
	for i, b := range c.brokers {
		if b.partitions.Get(c.topic, 0).Role() == partition.RoleLeader {
			leader = i
		}
	}
	for i := range c.brokers {
		if i != leader && (follower < 0 || int32(i+1) != active) {
			follower = i
		}
	}
	if leader < 0 {
		c.t.Fatalf("no node leads %s-0", c.topic)
	}
	return leader, follower
}
