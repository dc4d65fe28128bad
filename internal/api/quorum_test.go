package api

import (
	"context"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// TestDescribeClusterVersions: v2 lists fenced brokers only when asked,
// marked; v0-v1 and v2 without the flag leave them out; the controllers
// endpoint type is UNSUPPORTED_ENDPOINT_TYPE on a broker listener.
func TestDescribeClusterVersions(t *testing.T) {
	img := metadata.EmptyImage()
	for i, id := range []int32{3, 1, 2} {
		img, _ = img.Apply(uint64(i+1), metadata.RegisterBroker{Broker: metadata.Broker{ID: id, Host: "h", Port: 9000 + id}})
	}
	img, _ = img.Apply(10, metadata.UnfenceBroker{ID: 1, Epoch: 2})
	img, _ = img.Apply(11, metadata.UnfenceBroker{ID: 3, Epoch: 1})
	h := &Handlers{NodeID: 1, Controller: standby{img: img, active: 1}}
	ids := func(resp *kmsg.DescribeClusterResponse) (out []int32, fenced []bool) {
		for _, b := range resp.Brokers {
			out, fenced = append(out, b.NodeID), append(fenced, b.IsFenced)
		}
		return out, fenced
	}
	for _, tc := range []struct {
		version int16
		include bool
		want    []int32
		fenced  []bool
	}{
		{0, true, []int32{1, 3}, []bool{false, false}},
		{1, true, []int32{1, 3}, []bool{false, false}},
		{2, false, []int32{1, 3}, []bool{false, false}},
		{2, true, []int32{1, 2, 3}, []bool{false, true, false}},
	} {
		req := kmsg.NewPtrDescribeClusterRequest()
		req.Version, req.IncludeFencedBrokers, req.EndpointType = tc.version, tc.include, 1
		resp, _ := describeCluster(h, context.Background(), req)
		got, fenced := ids(resp)
		if resp.ErrorCode != 0 || !slices.Equal(got, tc.want) || !slices.Equal(fenced, tc.fenced) {
			t.Errorf("v%d include %v: brokers %v fenced %v, want %v %v", tc.version, tc.include, got, fenced, tc.want, tc.fenced)
		}
	}
	req := kmsg.NewPtrDescribeClusterRequest()
	req.Version, req.EndpointType = 1, 2
	if resp, _ := describeCluster(h, context.Background(), req); resp.ErrorCode != kerr.UnsupportedEndpointType.Code || len(resp.Brokers) != 0 {
		t.Errorf("controllers endpoint: %v, brokers %v", kerr.ErrorForCode(resp.ErrorCode), resp.Brokers)
	}
}

// TestQuorumRequestsOffLeader: without a leader to forward to, the quorum
// APIs answer NOT_LEADER_OR_FOLLOWER (DescribeQuorum in its partition); a
// request for another partition is UNKNOWN_TOPIC_OR_PARTITION and a
// foreign cluster ID INCONSISTENT_CLUSTER_ID, before anything is asked of
// the quorum.
func TestQuorumRequestsOffLeader(t *testing.T) {
	img, _ := metadata.EmptyImage().Apply(1, metadata.SetClusterID{ClusterID: "c1"})
	h := &Handlers{NodeID: 1, Controller: standby{img: img, active: -1}}
	ctx := context.Background()
	dq := kmsg.NewPtrDescribeQuorumRequest()
	dq.Version = 2
	topic := kmsg.NewDescribeQuorumRequestTopic()
	topic.Topic = metadataTopic
	topic.Partitions = []kmsg.DescribeQuorumRequestTopicPartition{kmsg.NewDescribeQuorumRequestTopicPartition()}
	dq.Topics = []kmsg.DescribeQuorumRequestTopic{topic}
	resp, _ := describeQuorum(h, ctx, dq)
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != kerr.NotLeaderForPartition.Code || p.LeaderID != -1 || p.ErrorMessage == nil {
		t.Errorf("DescribeQuorum off the leader: %+v", p)
	}
	dq.Topics[0].Partitions = append(dq.Topics[0].Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
	dq.Topics[0].Partitions[1].Partition = 1
	resp, _ = describeQuorum(h, ctx, dq)
	if len(resp.Topics[0].Partitions) != 2 || resp.Topics[0].Partitions[0].ErrorCode != kerr.UnknownTopicOrPartition.Code ||
		resp.Topics[0].Partitions[1].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("DescribeQuorum of two partitions: %+v", resp.Topics)
	}

	other, same := "c2", "c1"
	add := kmsg.NewPtrAddRaftVoterRequest()
	add.ClusterID, add.VoterID = &other, 4
	if r, _ := addRaftVoter(h, ctx, add); r.ErrorCode != kerr.InconsistentClusterID.Code {
		t.Errorf("AddRaftVoter of another cluster: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	add.ClusterID = &same
	if r, _ := addRaftVoter(h, ctx, add); r.ErrorCode != kerr.NotLeaderForPartition.Code {
		t.Errorf("AddRaftVoter off the leader: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	remove := kmsg.NewPtrRemoveRaftVoterRequest()
	remove.ClusterID, remove.VoterID = &other, 2
	if r, _ := removeRaftVoter(h, ctx, remove); r.ErrorCode != kerr.InconsistentClusterID.Code {
		t.Errorf("RemoveRaftVoter of another cluster: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	remove.ClusterID = nil
	if r, _ := removeRaftVoter(h, ctx, remove); r.ErrorCode != kerr.NotLeaderForPartition.Code {
		t.Errorf("RemoveRaftVoter off the leader: %v", kerr.ErrorForCode(r.ErrorCode))
	}
}
