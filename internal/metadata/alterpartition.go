package metadata

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// applyAlterPartition is Kafka's ReplicationControlManager.alterPartition
// for one partition. Its checks, in Kafka's order: the proposer is
// registered with BrokerEpoch (STALE_BROKER_EPOCH); the topic and
// partition exist (UNKNOWN_TOPIC_ID, UNKNOWN_TOPIC_OR_PARTITION); the
// proposer leads the partition (INVALID_REQUEST); in LeaderEpoch
// (FENCED_LEADER_EPOCH), from PartitionEpoch (INVALID_UPDATE_VERSION: the
// leader has not seen the latest change yet); the ISR lists no replica
// twice (INVALID_REQUEST); and every member is a replica, a registered
// unfenced broker whose epoch is the one it fetched with when known, and
// the leader is among them (INELIGIBLE_REPLICA, which tells the leader to
// drop the change). An ISR equal to the current one changes nothing;
// any other bumps the partition epoch.
func (img *Image) applyAlterPartition(index uint64, r AlterPartition) (*Image, Result) {
	if b, ok := img.Brokers[r.BrokerID]; !ok || b.Epoch != r.BrokerEpoch {
		return img, reject(kerr.StaleBrokerEpoch)
	}
	old := img.TopicsByID[r.TopicID]
	if old == nil {
		return img, reject(kerr.UnknownTopicID)
	}
	if r.Partition < 0 || int(r.Partition) >= len(old.Partitions) {
		return img, reject(kerr.UnknownTopicOrPartition)
	}
	p := old.Partitions[r.Partition]
	switch {
	case p.Leader != r.BrokerID:
		return img, reject(kerr.InvalidRequest)
	case p.LeaderEpoch != r.LeaderEpoch:
		return img, reject(kerr.FencedLeaderEpoch)
	case p.PartitionEpoch != r.PartitionEpoch:
		return img, reject(kerr.InvalidUpdateVersion)
	case len(r.BrokerEpochs) != 0 && len(r.BrokerEpochs) != len(r.ISR):
		return img, reject(kerr.InvalidRequest)
	}
	for i, id := range r.ISR {
		if slices.Index(r.ISR, id) != i {
			return img, reject(kerr.InvalidRequest)
		}
		b, ok := img.Brokers[id]
		if !ok || b.Fenced || !slices.Contains(p.Replicas, id) ||
			len(r.BrokerEpochs) != 0 && r.BrokerEpochs[i] != -1 && r.BrokerEpochs[i] != b.Epoch {
			return img, reject(kerr.IneligibleReplica)
		}
	}
	if !slices.Contains(r.ISR, p.Leader) {
		return img, reject(kerr.IneligibleReplica)
	}
	if slices.Equal(r.ISR, p.ISR) {
		return img, Result{}
	}
	t := old.clone()
	t.Partitions[r.Partition].ISR = slices.Clone(r.ISR)
	t.Partitions[r.Partition].PartitionEpoch++
	return img.replaceTopic(index, t), Result{}
}
