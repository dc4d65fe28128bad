package metadata

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// A reassignment moves a partition to target replicas in Kafka's three
// stages (ReplicationControlManager.changePartitionReassignment and
// PartitionReassignmentReplicas): the AlterPartitionReassignment record
// makes the replicas the targets followed by the current replicas that are
// not targets (RemovingReplicas), and marks the targets that were not
// replicas as AddingReplicas; the adding replicas open as followers, fetch
// and are added to the ISR by the leader's AlterPartition; the record that
// gives the ISR every target (the AlterPartition, or the reassignment
// itself when the ISR already has them) completes it: the removing
// replicas leave the replicas and the ISR, the adding and removing lists
// are cleared, and a leader that was removed hands over to the first
// target in the new ISR. Every broker sees the stages as metadata deltas:
// an added replica starts following, a removed one is stopped and deleted.

// validReassignment checks p's adding and removing replicas against its
// replicas (seen): each among them, no duplicates, none both.
func validReassignment(p Partition, seen map[int32]bool) bool {
	for i, ids := range [][]int32{p.AddingReplicas, p.RemovingReplicas} {
		for j, id := range ids {
			if !seen[id] || slices.Index(ids, id) != j {
				return false
			}
			if i == 1 && slices.Contains(p.AddingReplicas, id) {
				return false
			}
		}
	}
	return true
}

// applyAlterPartitionReassignment starts, replaces or (Replicas nil)
// cancels the reassignment of one partition, with Kafka's errors:
// UNKNOWN_TOPIC_OR_PARTITION for a topic or partition that does not exist,
// INVALID_REPLICA_ASSIGNMENT for an empty target, a duplicate or an
// unregistered broker, NO_REASSIGNMENT_IN_PROGRESS for a cancellation of
// nothing, INVALID_REPLICA_ASSIGNMENT for a cancellation that would leave
// no in-sync replica. A new target while one is in progress is taken from
// the replicas as they are (the union), as Kafka does.
func (img *Image) applyAlterPartitionReassignment(index uint64, r AlterPartitionReassignment) (*Image, Result) {
	old := img.TopicsByID[r.TopicID]
	if old == nil || r.Partition < 0 || int(r.Partition) >= len(old.Partitions) {
		return img, reject(kerr.UnknownTopicOrPartition)
	}
	p := old.Partitions[r.Partition]
	next := p.clone()
	if r.Replicas == nil {
		if !p.Reassigning() {
			return img, reject(kerr.NoReassignmentInProgress)
		}
		// Kafka's PartitionReassignmentRevert: back to the replicas
		// before, without the adding ones in the ISR.
		adding := func(id int32) bool { return slices.Contains(p.AddingReplicas, id) }
		next.Replicas = slices.DeleteFunc(next.Replicas, adding)
		next.ISR = slices.DeleteFunc(next.ISR, adding)
		if len(next.ISR) == 0 {
			return img, reject(kerr.InvalidReplicaAssignment)
		}
		next.AddingReplicas, next.RemovingReplicas = nil, nil
	} else {
		if err := img.validAssignment(r.Replicas); err != nil {
			return img, reject(err)
		}
		var adding, removing []int32
		for _, id := range r.Replicas {
			if !slices.Contains(p.Replicas, id) {
				adding = append(adding, id)
			}
		}
		for _, id := range p.Replicas {
			if !slices.Contains(r.Replicas, id) {
				removing = append(removing, id)
			}
		}
		slices.Sort(adding)
		slices.Sort(removing)
		next.Replicas = append(slices.Clone(r.Replicas), removing...)
		next.AddingReplicas, next.RemovingReplicas = adding, removing
		next = img.completeReassignment(next)
	}
	next = img.keepLeader(p, next)
	noteISR(p, &next)
	if samePartition(p, next) && slices.Equal(p.AddingReplicas, next.AddingReplicas) && slices.Equal(p.RemovingReplicas, next.RemovingReplicas) {
		return img, Result{}
	}
	next.PartitionEpoch++
	t := old.clone()
	t.Partitions[r.Partition] = next
	return img.replaceTopic(index, t), Result{}
}

// validAssignment is Kafka's validateManualPartitionAssignment for one
// replica list: not empty, no broker twice, every broker registered.
func (img *Image) validAssignment(replicas []int32) *kerr.Error {
	if len(replicas) == 0 {
		return kerr.InvalidReplicaAssignment
	}
	for i, id := range replicas {
		if _, ok := img.Brokers[id]; !ok || slices.Index(replicas, id) != i {
			return kerr.InvalidReplicaAssignment
		}
	}
	return nil
}

// completeReassignment is Kafka's maybeCompleteReassignment: when the ISR
// without the removing replicas is not empty and holds every target,
// the removing replicas go and the reassignment is over; otherwise p is
// returned as it is.
func (img *Image) completeReassignment(p Partition) Partition {
	if !p.Reassigning() {
		return p
	}
	removing := func(id int32) bool { return slices.Contains(p.RemovingReplicas, id) }
	isr := slices.DeleteFunc(slices.Clone(p.ISR), removing)
	replicas := slices.DeleteFunc(slices.Clone(p.Replicas), removing)
	if len(isr) == 0 || len(replicas) == 0 {
		return p
	}
	for _, id := range replicas {
		if !slices.Contains(isr, id) {
			return p
		}
	}
	p.Replicas, p.ISR = replicas, isr
	p.AddingReplicas, p.RemovingReplicas = nil, nil
	return p
}

// keepLeader returns next, changed from prev, with a leader Kafka's
// PartitionChangeBuilder accepts: prev's leader while it is still in the
// ISR, a replica and live; otherwise the first replica in the ISR that is
// live, or none (-1). A new leader bumps the leader epoch.
func (img *Image) keepLeader(prev, next Partition) Partition {
	acceptable := func(id int32) bool {
		return slices.Contains(next.ISR, id) && slices.Contains(next.Replicas, id) && img.live(id)
	}
	if !acceptable(next.Leader) {
		next.Leader = -1
		for _, id := range next.Replicas {
			if acceptable(id) {
				next.Leader = id
				break
			}
		}
	}
	if next.Leader != prev.Leader {
		next.LeaderEpoch = prev.LeaderEpoch + 1
	}
	return next
}

// live reports whether broker id is registered and unfenced.
func (img *Image) live(id int32) bool {
	b, ok := img.Brokers[id]
	return ok && !b.Fenced
}

// electable reports whether broker id can lead p: live, and its replica of
// p not offline (its log failed; Kafka's isAcceptableLeader excludes a
// replica on an offline directory the same way).
func (img *Image) electable(p Partition, id int32) bool {
	return img.live(id) && !slices.Contains(p.Offline, id)
}
