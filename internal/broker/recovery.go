package broker

import (
	"slices"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// awaitingReplica is a local replica of a partition that awaits recovery
// (metadata.Partition.AwaitsRecovery) of which this node is a candidate,
// as of the image the replicas followed.
type awaitingReplica struct {
	topic          string
	id             metadata.TopicID
	partition      int32
	partitionEpoch int32
}

// noteAwaiting finds, after the replicas followed next, the local replicas
// whose log the active controller waits to hear of before it elects a
// recovery leader, and reports whether there are any new ones (the
// broker then heartbeats at once). A delta that changes no local replica
// changes none of them.
func (r *partitions) noteAwaiting(d metadata.Delta, next *metadata.Image) bool {
	if len(d.Leaders) == 0 && len(d.Followers) == 0 && len(d.Stop) == 0 {
		return false
	}
	var found []awaitingReplica
	for name, t := range next.Topics {
		for _, p := range t.Partitions {
			if p.AwaitsRecovery() && slices.Contains(p.RecoveryCandidates(), r.nodeID) {
				found = append(found, awaitingReplica{topic: name, id: t.ID, partition: p.Partition, partitionEpoch: p.PartitionEpoch})
			}
		}
	}
	old := r.awaiting.Swap(&found)
	if old == nil {
		return len(found) > 0
	}
	for _, a := range found {
		if !slices.Contains(*old, a) {
			return true
		}
	}
	return false
}

// logReports is what this broker's heartbeats carry (quorum's
// SetLogReporter): for each awaiting replica that is open, the leader
// epoch of its log's last batch and its log end offset. Such a replica
// has no leader to fetch from, so its log does not change until the
// controller elects one.
func (r *partitions) logReports() []metadata.LogReport {
	awaiting := r.awaiting.Load()
	if awaiting == nil {
		return nil
	}
	var out []metadata.LogReport
	for _, a := range *awaiting {
		p := r.Get(a.topic, a.partition)
		if p == nil || r.topicID(a.topic) != a.id {
			continue // not open (offline): it cannot lead
		}
		out = append(out, metadata.LogReport{TopicID: a.id, Partition: a.partition, PartitionEpoch: a.partitionEpoch,
			LastEpoch: p.LatestEpoch(), LogEndOffset: p.LogEndOffset()})
	}
	return out
}
