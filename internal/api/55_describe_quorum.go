package api

// DescribeQuorum v0-v2 (KIP-595, KIP-853): the metadata quorum, as the
// raft leader sees it, on the one partition it describes,
// __cluster_metadata-0 (raft index i is offset i-1: the commit index is
// the high watermark, a replica's last index its log end offset; see
// quorum.Description). A broker that does not lead forwards it to the
// leader, as Kafka's brokers forward it to the active controller; with no
// leader reachable the partition answers NOT_LEADER_OR_FOLLOWER, as
// Kafka's KafkaRaftClient does off the leader. A request for anything but
// exactly that one partition gets UNKNOWN_TOPIC_OR_PARTITION for each
// partition asked (Kafka's hasValidTopicPartition). Replica directory IDs
// (v2) are the zero UUID: Samsa's voters are keyed by node ID alone, as
// Kafka's static (controller.quorum.voters) voters are. v2's nodes are
// the voters with their controller listener.

import (
	"context"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/quorum"
)

// metadataTopic is the KRaft metadata log's topic name.
const metadataTopic = "__cluster_metadata"

func describeQuorum(h *Handlers, ctx context.Context, req *kmsg.DescribeQuorumRequest) (*kmsg.DescribeQuorumResponse, error) {
	resp := req.ResponseKind().(*kmsg.DescribeQuorumResponse)
	if len(req.Topics) != 1 || req.Topics[0].Topic != metadataTopic ||
		len(req.Topics[0].Partitions) != 1 || req.Topics[0].Partitions[0].Partition != 0 {
		for _, rt := range req.Topics {
			st := kmsg.NewDescribeQuorumResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewDescribeQuorumResponseTopicPartition()
				sp.Partition, sp.ErrorCode, sp.LeaderID = rp.Partition, kerr.UnknownTopicOrPartition.Code, -1
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil
	}
	st := kmsg.NewDescribeQuorumResponseTopic()
	st.Topic = metadataTopic
	sp := kmsg.NewDescribeQuorumResponseTopicPartition()
	d, err := h.Controller.DescribeQuorum(ctx)
	if err != nil {
		sp.ErrorCode, sp.LeaderID = errorCode(err), -1
		if req.Version >= 2 {
			sp.ErrorMessage = errorMessage(err)
		}
	} else {
		sp.LeaderID, sp.LeaderEpoch, sp.HighWatermark = d.LeaderID, d.LeaderEpoch, d.HighWatermark
		sp.CurrentVoters = replicaStates(d.Voters)
		sp.Observers = replicaStates(d.Observers)
		for _, v := range d.Voters {
			host, port, err := net.SplitHostPort(v.Addr)
			n, perr := strconv.ParseUint(port, 10, 16)
			if err != nil || perr != nil {
				continue
			}
			node := kmsg.NewDescribeQuorumResponseNode()
			node.NodeID = v.ID
			l := kmsg.NewDescribeQuorumResponseNodeListener()
			l.Name, l.Host, l.Port = d.Listener, host, uint16(n)
			node.Listeners = append(node.Listeners, l)
			resp.Nodes = append(resp.Nodes, node)
		}
	}
	st.Partitions = append(st.Partitions, sp)
	resp.Topics = append(resp.Topics, st)
	return resp, nil
}

func replicaStates(vs []quorum.Voter) []kmsg.DescribeQuorumResponseTopicPartitionReplicaState {
	out := make([]kmsg.DescribeQuorumResponseTopicPartitionReplicaState, 0, len(vs))
	for _, v := range vs {
		s := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
		s.ReplicaID, s.LogEndOffset = v.ID, v.LogEndOffset
		s.LastFetchTimestamp, s.LastCaughtUpTimestamp = v.LastFetch, v.LastCaughtUp
		out = append(out, s)
	}
	return out
}
