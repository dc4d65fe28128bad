package broker

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/api"
	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/partition"
)

// startCombined starts n nodes with process.roles=broker,controller on
// 127.0.0.1, voters of one quorum, and returns them with their data
// directories; the test's end closes them.
func startCombined(t *testing.T, n int) ([]*Broker, []string) {
	t.Helper()
	brokers, cfgs := startCombinedWith(t, n, nil)
	dirs := make([]string, n)
	for i, c := range cfgs {
		dirs[i] = c.DataDir
	}
	return brokers, dirs
}

// startCombinedWith is startCombined with the static configs extra on
// every node; it returns each node's Config, to start it again with.
func startCombinedWith(t *testing.T, n int, extra map[string]string) ([]*Broker, []Config) {
	t.Helper()
	ports := FreeAddrs(t, n)
	var voters []string
	for i, p := range ports {
		voters = append(voters, fmt.Sprintf("%d@%s", i+1, p))
	}
	brokers, cfgs, errs := make([]*Broker, n), make([]Config, n), make([]error, n)
	for i := range n {
		static := map[string]string{
			"node.id":                   fmt.Sprint(i + 1),
			"process.roles":             "broker,controller",
			"controller.quorum.voters":  strings.Join(voters, ","),
			"controller.listener.names": "CONTROLLER",
			"listeners":                 "PLAINTEXT://127.0.0.1:0,CONTROLLER://" + ports[i],
		}
		maps.Copy(static, extra)
		cfgs[i] = Config{DataDir: t.TempDir(), Static: static}
	}
	var wg sync.WaitGroup
	for i := range n { // a voter alone cannot elect a leader: start them together
		wg.Go(func() { brokers[i], errs[i] = Start(cfgs[i]) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i+1, err)
		}
		t.Cleanup(func() { brokers[i].Close() })
	}
	awaitOffsetsTopic(t, brokers)
	return brokers, cfgs
}

// awaitOffsetsTopic waits until every broker has opened its replicas of
// __consumer_offsets, which the first of them to see enough brokers
// registered creates after the starts returned (startGroups).
func awaitOffsetsTopic(t *testing.T, brokers []*Broker) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		ready := true
		for _, b := range brokers {
			topic := b.Image().Topics[api.OffsetsTopic]
			if topic == nil {
				ready = false
				break
			}
			for i, p := range topic.Partitions {
				if slices.Contains(p.Replicas, b.partitions.nodeID) && b.partitions.Get(api.OffsetsTopic, int32(i)) == nil {
					ready = false
				}
			}
		}
		if ready {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not open on every broker 30 s after the start", api.OffsetsTopic)
		}
	}
}

// logBytes is the concatenation of a replica's segment files: the batches
// as stored, in offset order.
func logBytes(t *testing.T, dir string) []byte {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names) // zero-padded base offsets
	var out []byte
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	return out
}

// TestReplicationThreeNodes: three combined nodes, a topic of 2 partitions
// with replication factor 3; acks=all produces succeed once every replica
// has the records (the followers' fetchers copy them and their fetches
// move the leader's high watermark), and then every replica's log holds
// the same bytes (the leader's batches as they are, offsets and epochs
// included), the records produced in order, with the high watermark at
// the log end on all three.
func TestReplicationThreeNodes(t *testing.T) {
	brokers, dirs := startCombined(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var seeds []string
	for _, b := range brokers {
		seeds = append(seeds, b.Addr())
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordDeliveryTimeout(60*time.Second), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, 2, 3, nil, "r")
	if err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	const n = 300
	for i := 0; i < n; i += 30 {
		var recs []*kgo.Record
		for j := i; j < i+30; j++ {
			recs = append(recs, &kgo.Record{Topic: "r", Partition: int32(j % 2), Value: []byte(fmt.Sprint("v", j))})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("acks=all produce of records %d-%d: %v", i, i+29, err)
		}
	}

	for part := int32(0); part < 2; part++ {
		var leader *partition.Partition
		deadline := time.Now().Add(30 * time.Second)
		for {
			var ends, hws []int64
			var roles []partition.Role
			for _, b := range brokers {
				p := b.partitions.Get("r", part)
				if p == nil {
					t.Fatalf("partition %d: a node has no replica", part)
				}
				ends, hws, roles = append(ends, p.LogEndOffset()), append(hws, p.HighWatermark()), append(roles, p.Role())
				if p.Role() == partition.RoleLeader {
					leader = p
				}
			}
			if leader != nil && ends[0] == ends[1] && ends[1] == ends[2] && slices.Equal(ends, hws) && ends[0] == n/2 {
				if slices.Index(roles, partition.RoleLeader) < 0 || slices.Index(roles, partition.RoleNone) >= 0 {
					t.Fatalf("partition %d roles %v", part, roles)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("partition %d: log ends %v, high watermarks %v, roles %v; want all %d", part, ends, hws, roles, n/2)
			}
			time.Sleep(20 * time.Millisecond)
		}
		want := logBytes(t, filepath.Join(dirs[0], fmt.Sprint("r-", part)))
		for i := 1; i < 3; i++ {
			if got := logBytes(t, filepath.Join(dirs[i], fmt.Sprint("r-", part))); !bytes.Equal(got, want) {
				t.Fatalf("partition %d: node %d's log (%d bytes) differs from node 1's (%d bytes)", part, i+1, len(got), len(want))
			}
		}
		var values []string
		next := int64(0)
		if err := batch.Iterate(want, func(h batch.Header, raw []byte) bool {
			if h.BaseOffset != next || h.PartitionLeaderEpoch != leader.LeaderEpoch() {
				t.Fatalf("partition %d: batch at %d (epoch %d), want %d (epoch %d)", part, h.BaseOffset, h.PartitionLeaderEpoch, next, leader.LeaderEpoch())
			}
			recs, err := batch.Records(raw)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				values = append(values, string(r.Value))
			}
			next = h.LastOffset() + 1
			return true
		}); err != nil {
			t.Fatal(err)
		}
		var expect []string
		for j := int(part); j < n; j += 2 {
			expect = append(expect, fmt.Sprint("v", j))
		}
		if !slices.Equal(values, expect) {
			t.Fatalf("partition %d holds %v, want %v", part, values, expect)
		}
	}
}
