package metadata

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// applyAlterPartition is Kafka's ReplicationControlManager.alterPartition
// for one partition, with its checks in its order
// (validateAlterPartitionData): the proposer is registered with
// BrokerEpoch (STALE_BROKER_EPOCH); the topic and partition exist
// (UNKNOWN_TOPIC_ID, UNKNOWN_TOPIC_OR_PARTITION); a leader or partition
// epoch above the partition's is NOT_CONTROLLER (the proposer knows a
// newer state than this one); a lower leader epoch FENCED_LEADER_EPOCH; a
// proposer that does not lead INVALID_REQUEST; a lower partition epoch
// INVALID_UPDATE_VERSION (the leader has not seen the latest change yet);
// an ISR with a duplicate or a non-replica, or without the leader,
// INVALID_REQUEST; a member that is not a registered unfenced broker, or
// fetched with another broker epoch when that is known, or whose replica
// is offline (offline.go), INELIGIBLE_REPLICA
// (which tells the leader to drop the change). An ISR equal to the
// current one changes nothing; any other bumps the partition epoch, and
// one holding every target of a reassignment completes it.
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
	case r.LeaderEpoch > p.LeaderEpoch || r.PartitionEpoch > p.PartitionEpoch:
		return img, reject(kerr.NotController)
	case r.LeaderEpoch < p.LeaderEpoch:
		return img, reject(kerr.FencedLeaderEpoch)
	case p.Leader != r.BrokerID:
		return img, reject(kerr.InvalidRequest)
	case r.PartitionEpoch < p.PartitionEpoch:
		return img, reject(kerr.InvalidUpdateVersion)
	case len(r.BrokerEpochs) != 0 && len(r.BrokerEpochs) != len(r.ISR):
		return img, reject(kerr.InvalidRequest)
	}
	for i, id := range r.ISR {
		if slices.Index(r.ISR, id) != i || !slices.Contains(p.Replicas, id) {
			return img, reject(kerr.InvalidRequest)
		}
	}
	if !slices.Contains(r.ISR, p.Leader) {
		return img, reject(kerr.InvalidRequest)
	}
	for i, id := range r.ISR {
		b, ok := img.Brokers[id]
		if !ok || b.Fenced || slices.Contains(p.Offline, id) || len(r.BrokerEpochs) != 0 && r.BrokerEpochs[i] != -1 && r.BrokerEpochs[i] != b.Epoch {
			return img, reject(kerr.IneligibleReplica)
		}
	}
	if slices.Equal(r.ISR, p.ISR) {
		return img, Result{}
	}
	next := p.clone()
	next.ISR = slices.Clone(r.ISR)
	// An ISR holding every target of a reassignment completes it
	// (reassign.go), which may remove the leader.
	next = img.keepLeader(p, img.completeReassignment(next))
	noteISR(p, &next)
	next.PartitionEpoch++
	t := old.clone()
	t.Partitions[r.Partition] = next
	return img.replaceTopic(index, t), Result{}
}
