package clustertest

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestReassignUnderLoad: three nodes, a topic whose one partition is on
// {1, 2} (led by 1), an idempotent acks=all producer writing numbered
// records without pause. The partition is reassigned to {2, 3}: node 3
// fetches, joins the ISR, the controller completes the reassignment,
// leadership moves off node 1 (removed) and node 1 deletes its replica.
// Every acknowledged record is then in the log once and in order, read
// from node 3 alone after node 2 is stopped, and node 1's data directory
// no longer holds the partition.
func TestReassignUnderLoad(t *testing.T) {
	noLeaks(t)
	c := Start(t, Options{Nodes: 3, Static: failoverStatics})
	adm := c.Admin()
	const topic = "moving"
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
	a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	a.Replicas = []int32{1, 2}
	rt.ReplicaAssignment = append(rt.ReplicaAssignment, a)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctxT(t, 30*time.Second), c.Client())
	if err != nil || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("create %s on {1,2}: %v %+v", topic, err, resp)
	}
	leaderOf(t, adm, topic, 1)
	s := startStream(t, c.Client(kgo.DefaultProduceTopic(topic), kgo.MaxBufferedRecords(50), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MetadataMinAge(100*time.Millisecond)))
	s.waitFor(300)
	dir := filepath.Join(c.Node(0).Dir(), topic+"-0")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("node 1's replica before the move: %v", err)
	}

	var move kadm.AlterPartitionAssignmentsReq
	move.Assign(topic, 0, []int32{2, 3})
	moved, err := adm.AlterPartitionAssignments(ctxT(t, 30*time.Second), move)
	if err != nil {
		t.Fatal(err)
	}
	if err := moved.Error(); err != nil {
		t.Fatalf("reassign: %v", err)
	}
	startedAt := s.count()
	deadline := time.Now().Add(60 * time.Second)
	for {
		listed, err := adm.ListPartitionReassignments(ctxT(t, 10*time.Second), kadm.TopicsSet{topic: {0: {}}})
		md, mdErr := adm.Metadata(ctxT(t, 10*time.Second), topic)
		if err == nil && mdErr == nil && len(listed) == 0 {
			p := md.Topics[topic].Partitions[0]
			if slices.Equal(p.Replicas, []int32{2, 3}) && p.Leader != 1 && len(p.ISR) == 2 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("reassignment not done: listed %v (%v), metadata %v", listed, err, mdErr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.waitFor(s.count() + 300)
	acked := s.finish()

	// Node 1 deletes its replica once removed.
	for {
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node 1 still has %s", dir)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Node 3 alone holds every acknowledged record: with node 2 stopped
	// it leads and serves them.
	if err := c.Node(1).Stop(); err != nil {
		t.Fatal(err)
	}
	leaderOf(t, c.Node(2).Admin(), topic, 3)
	read := checkLog(t, c.Node(2), topic, acked)
	t.Logf("%d acknowledged before the reassignment began, %d in all, %d read back from node 3", startedAt, len(acked), read)
}

// TestReassignCancel: a partition on {1, 2} is reassigned to {2, 3} while
// node 3 cannot reach node 1's Kafka listener, so it cannot fetch and the
// reassignment stays in progress: ListPartitionReassignments shows
// replicas [2 3 1], adding [3], removing [1], and acks=all produces go on
// with the ISR {1, 2}. Cancelling it puts the partition back on 1 and 2
// (as [2 1]: like Kafka's PartitionReassignmentReplicas, the replicas
// before are the reassignment's without the adding ones), lists nothing, and a second cancellation is NO_REASSIGNMENT_IN_PROGRESS;
// node 3, which opened a follower replica when added, deletes it.
func TestReassignCancel(t *testing.T) {
	c := Start(t, Options{Nodes: 3, Static: failoverStatics})
	adm := c.Admin(kgo.MetadataMinAge(10 * time.Millisecond))
	const topic = "stuck"
	createAssigned(t, c, topic, 1, 2)
	leaderOf(t, adm, topic, 1)
	c.Link(2, 0).SetBoth(Fault{Mode: Drop})

	var move kadm.AlterPartitionAssignmentsReq
	move.Assign(topic, 0, []int32{2, 3})
	if resp, err := adm.AlterPartitionAssignments(ctxT(t, 30*time.Second), move); err != nil || resp.Error() != nil {
		t.Fatalf("reassign: %v %v", err, resp.Error())
	}
	dir := filepath.Join(c.Node(2).Dir(), topic+"-0")
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, statErr := os.Stat(dir)
		listed, err := adm.ListPartitionReassignments(ctxT(t, 10*time.Second), kadm.TopicsSet{topic: {0: {}}})
		if r, ok := listed[topic][0]; err == nil && ok && statErr == nil {
			if !slices.Equal(r.Replicas, []int32{2, 3, 1}) || !slices.Equal(r.AddingReplicas, []int32{3}) || !slices.Equal(r.RemovingReplicas, []int32{1}) {
				t.Fatalf("listed %+v", r)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reassignment listed (%v) or no replica on node 3 (%v)", err, statErr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	produce(t, c.Client(kgo.RequiredAcks(kgo.AllISRAcks())), topic, "while-stuck")

	var cancel kadm.AlterPartitionAssignmentsReq
	cancel.CancelAssign(topic, 0)
	if resp, err := adm.AlterPartitionAssignments(ctxT(t, 30*time.Second), cancel); err != nil || resp.Error() != nil {
		t.Fatalf("cancel: %v %v", err, resp.Error())
	}
	resp, err := adm.AlterPartitionAssignments(ctxT(t, 30*time.Second), cancel)
	if err != nil {
		t.Fatal(err)
	}
	if r := resp[topic][0]; !errors.Is(r.Err, kerr.NoReassignmentInProgress) {
		t.Fatalf("second cancel: %v", r.Err)
	}
	listed, err := adm.ListPartitionReassignments(ctxT(t, 10*time.Second), kadm.TopicsSet{topic: {0: {}}})
	if err != nil || len(listed[topic]) != 0 {
		t.Fatalf("listed after the cancel: %v %v", listed, err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		md, err := adm.Metadata(ctxT(t, 10*time.Second), topic)
		_, statErr := os.Stat(dir)
		if err == nil && slices.Equal(md.Topics[topic].Partitions[0].Replicas, []int32{2, 1}) && os.IsNotExist(statErr) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the cancel: metadata %v (%v), node 3's replica %v", md.Topics[topic].Partitions[0], err, statErr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.Link(2, 0).Heal()
	equal(t, "records", readAll(t, c.Node(1), topic), []string{"while-stuck"})
}
