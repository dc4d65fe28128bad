package broker_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/clustertest"
)

// TestPlacementThreeRacks: on three brokers in three racks, kadm creates a
// topic of 6 partitions with RF 3 (every partition on all three, each
// broker leading two) and one with RF 2 (every partition on two racks);
// RF 4 is INVALID_REPLICATION_FACTOR with Kafka's message; a manual
// assignment is taken as given (leader its first replica) and refused with
// Kafka's errors when wrong, in CreateTopics and CreatePartitions; and
// __consumer_offsets got offsets.topic.replication.factor 3.
func TestPlacementThreeRacks(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: 3, Node: func(i int) map[string]string {
		return map[string]string{"broker.rack": fmt.Sprintf("rack-%c", 'a'+i)}
	}})
	// kgo answers Metadata from its cache for MetadataMinAge.
	adm := c.Admin(kgo.MetadataMinAge(10 * time.Millisecond))
	ctx := ctxT(t)
	if resp, err := adm.CreateTopic(ctx, 6, 3, nil, "rf3"); err != nil || resp.Err != nil {
		t.Fatalf("create rf3: %v %v", err, resp.Err)
	}
	if resp, err := adm.CreateTopic(ctx, 6, 2, nil, "rf2"); err != nil || resp.Err != nil {
		t.Fatalf("create rf2: %v %v", err, resp.Err)
	}
	resp, _ := adm.CreateTopic(ctx, 1, 4, nil, "rf4")
	if !errors.Is(resp.Err, kerr.InvalidReplicationFactor) || !strings.Contains(resp.ErrMessage, "only 3 broker(s) are registered") {
		t.Fatalf("rf 4 on three brokers: %v %q", resp.Err, resp.ErrMessage)
	}
	// A broker answers Metadata from its own copy of the metadata, which
	// may not have what another broker created yet.
	listed := func(counts map[string]int) kadm.TopicDetails {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			details, err := adm.ListTopics(ctx, slices.Collect(maps.Keys(counts))...)
			if err != nil {
				t.Fatal(err)
			}
			all := true
			for name, n := range counts {
				all = all && len(details[name].Partitions) == n
			}
			if all {
				return details
			}
			if time.Now().After(deadline) {
				t.Fatalf("topics %v, want partitions %v", details, counts)
			}
		}
	}
	details := listed(map[string]int{"rf3": 6, "rf2": 6, "__consumer_offsets": 50})
	leaders := map[int32]int{}
	for _, p := range details["rf3"].Partitions {
		if len(p.Replicas) != 3 || p.Leader != p.Replicas[0] {
			t.Fatalf("rf3 partition %d: replicas %v leader %d", p.Partition, p.Replicas, p.Leader)
		}
		leaders[p.Leader]++
	}
	if len(leaders) != 3 || leaders[1] != 2 || leaders[2] != 2 || leaders[3] != 2 {
		t.Fatalf("rf3 leaders per broker: %v", leaders)
	}
	for _, p := range details["rf2"].Partitions {
		if len(p.Replicas) != 2 || p.Replicas[0] == p.Replicas[1] {
			t.Fatalf("rf2 partition %d: replicas %v", p.Partition, p.Replicas)
		}
	}
	for _, p := range details["__consumer_offsets"].Partitions {
		if len(p.Replicas) != 3 {
			t.Fatalf("__consumer_offsets partition %d: replicas %v, want 3 (offsets.topic.replication.factor)", p.Partition, p.Replicas)
		}
	}

	// Manual assignments, through raw requests (kadm has no assignment).
	create := func(name string, partitions int32, rf int16, assignment ...[]int32) kmsg.CreateTopicsResponseTopic {
		t.Helper()
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, rf
		for i, replicas := range assignment {
			a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
			a.Partition, a.Replicas = int32(i), replicas
			rt.ReplicaAssignment = append(rt.ReplicaAssignment, a)
		}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, c.Client())
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0]
	}
	msg := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	for _, tc := range []struct {
		name       string
		partitions int32
		rf         int16
		assignment [][]int32
		code       int16
		message    string
	}{
		{"m-count", 2, -1, [][]int32{{1}}, kerr.InvalidRequest.Code, "A manual partition assignment was specified, but numPartitions was not set to -1."},
		{"m-rf", -1, 1, [][]int32{{1}}, kerr.InvalidRequest.Code, "A manual partition assignment was specified, but replication factor was not set to -1."},
		{"m-unknown", -1, -1, [][]int32{{1, 9}}, kerr.InvalidReplicaAssignment.Code, "The manual partition assignment includes broker 9, but no such broker is registered."},
		{"m-twice", -1, -1, [][]int32{{2, 2}}, kerr.InvalidReplicaAssignment.Code, "The manual partition assignment includes the broker 2 more than once."},
		{"m-uneven", -1, -1, [][]int32{{1, 2}, {3}}, kerr.InvalidReplicaAssignment.Code, "The manual partition assignment includes a partition with 1 replica(s), but this is not consistent with previous partitions, which have 2 replica(s)."},
	} {
		st := create(tc.name, tc.partitions, tc.rf, tc.assignment...)
		if st.ErrorCode != tc.code || !strings.HasSuffix(msg(st.ErrorMessage), tc.message) {
			t.Errorf("%s: %d %q, want %d %q", tc.name, st.ErrorCode, msg(st.ErrorMessage), tc.code, tc.message)
		}
	}
	if st := create("manual", -1, -1, []int32{3, 1}, []int32{2, 3}); st.ErrorCode != 0 || st.NumPartitions != 2 || st.ReplicationFactor != 2 {
		t.Fatalf("manual: %d %q partitions %d rf %d", st.ErrorCode, msg(st.ErrorMessage), st.NumPartitions, st.ReplicationFactor)
	}
	grow := func(count int32, assignment ...[]int32) kmsg.CreatePartitionsResponseTopic {
		t.Helper()
		req := kmsg.NewPtrCreatePartitionsRequest()
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = "manual", count
		for _, replicas := range assignment {
			a := kmsg.NewCreatePartitionsRequestTopicAssignment()
			a.Replicas = replicas
			rt.Assignment = append(rt.Assignment, a)
		}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, c.Client())
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0]
	}
	if st := grow(4, []int32{1, 2}); st.ErrorCode != kerr.InvalidReplicaAssignment.Code ||
		!strings.HasSuffix(msg(st.ErrorMessage), "Attempted to add 2 additional partition(s), but only 1 assignment(s) were specified.") {
		t.Fatalf("grow by 2 with 1 assignment: %d %q", st.ErrorCode, msg(st.ErrorMessage))
	}
	if st := grow(3, []int32{1, 2, 3}); st.ErrorCode != kerr.InvalidReplicaAssignment.Code {
		t.Fatalf("grow with 3 replicas on a topic of 2: %d %q", st.ErrorCode, msg(st.ErrorMessage))
	}
	if st := grow(3, []int32{1, 2}); st.ErrorCode != 0 {
		t.Fatalf("grow: %d %q", st.ErrorCode, msg(st.ErrorMessage))
	}
	details = listed(map[string]int{"manual": 3})
	var got [][]int32
	for _, p := range details["manual"].Partitions.Sorted() {
		if p.Leader != p.Replicas[0] {
			t.Fatalf("manual partition %d: leader %d, replicas %v", p.Partition, p.Leader, p.Replicas)
		}
		got = append(got, p.Replicas)
	}
	if want := [][]int32{{3, 1}, {2, 3}, {1, 2}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("manual replicas %v, want %v", got, want)
	}
}
