package metadata

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// applyElectLeader is one partition of Kafka's ElectLeaders
// (ReplicationControlManager.electLeader with PartitionChangeBuilder's
// PREFERRED and UNCLEAN elections).
//
// Preferred: the preferred replica (the first) becomes leader if it is in
// the ISR and live; ELECTION_NOT_NEEDED when it already leads,
// PREFERRED_LEADER_NOT_AVAILABLE when it cannot.
//
// Unclean: a partition whose leader is live needs none
// (ELECTION_NOT_NEEDED); otherwise the first live replica of the ISR, else
// the first live replica at all (a replica whose log failed, in Offline,
// counts as not live in either), which becomes the whole ISR (it may lack
// acknowledged records: the operator asked for availability);
// ELIGIBLE_LEADERS_NOT_AVAILABLE when no replica is live.
func (img *Image) applyElectLeader(index uint64, r ElectLeader) (*Image, Result) {
	old := img.TopicsByID[r.TopicID]
	if old == nil || r.Partition < 0 || int(r.Partition) >= len(old.Partitions) {
		return img, reject(kerr.UnknownTopicOrPartition)
	}
	p := old.Partitions[r.Partition]
	next := p.clone()
	if !r.Unclean {
		preferred := p.Replicas[0]
		switch {
		case p.Leader == preferred:
			return img, reject(kerr.ElectionNotNeeded)
		case !slices.Contains(p.ISR, preferred) || !img.electable(p, preferred):
			return img, reject(kerr.PreferredLeaderNotAvailable)
		}
		next.Leader = preferred
	} else {
		if p.Leader != -1 && img.electable(p, p.Leader) {
			return img, reject(kerr.ElectionNotNeeded)
		}
		next.Leader = -1
		for _, id := range p.Replicas {
			if slices.Contains(p.ISR, id) && img.electable(p, id) {
				next.Leader = id
				break
			}
		}
		if next.Leader == -1 {
			for _, id := range p.Replicas {
				if img.electable(p, id) {
					// The records only the old ISR and the last-known
					// members had are given up with them.
					next.Leader, next.ISR, next.LastKnownISR = id, []int32{id}, nil
					break
				}
			}
		}
		if next.Leader == -1 {
			return img, reject(kerr.EligibleLeadersNotAvailable)
		}
	}
	next.LeaderEpoch++
	next.PartitionEpoch++
	t := old.clone()
	t.Partitions[r.Partition] = next
	return img.replaceTopic(index, t), Result{}
}
