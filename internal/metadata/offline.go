package metadata

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TypeOfflineReplicas tags OfflineReplicas.
const TypeOfflineReplicas RecordType = 15

// OfflineReplicas reports that the broker registered as BrokerID with
// BrokerEpoch can no longer serve its replicas of Replicas: their logs
// failed to write or sync (Kafka's BrokerHeartbeat OfflineLogDirs,
// KIP-858, for the logs rather than the directories; see package broker).
// Apply takes the broker out of each partition as a fence does for all of
// them (ReplicationControlManager.handleDirectoriesOffline generates the
// same changes as handleBrokerFenced): it leaves the ISR, and its
// leadership moves to the first unfenced ISR member in replica order. A
// partition of which it is the last ISR member keeps it as its ISR (no
// other replica is known to hold what it committed) but has no leader
// (Kafka's generateLeaderAndIsrUpdates never accepts the broker removed as
// a leader), and Metadata lists the replica offline, until the broker
// restarts (a registration fences the old life first, as after a crash)
// and leads again — or an unclean election, where allowed, picks another
// live replica. No election picks an offline replica (Image.electable). The
// broker joins each partition's Offline: leaders do not wait for an
// offline follower to join the ISR (it is not eligible, as a fenced one:
// Kafka's isReplicaIsrEligible checks the replica's directory is online),
// and AlterPartition refuses it (INELIGIBLE_REPLICA). Its next
// registration clears it from every Offline: the new life recovered its
// logs, follows the leaders again and rejoins the ISRs by catching up. A
// partition it is not a replica of, or a topic deleted meanwhile, is
// skipped; a stale registration is refused (STALE_BROKER_EPOCH).
type OfflineReplicas struct {
	BrokerID    int32
	BrokerEpoch int64
	Replicas    []PartitionRef
}

// PartitionRef names one partition by its topic's ID.
type PartitionRef struct {
	TopicID   TopicID
	Partition int32
}

func (OfflineReplicas) Type() RecordType { return TypeOfflineReplicas }

func (img *Image) applyOfflineReplicas(index uint64, r OfflineReplicas) (*Image, Result) {
	if b, ok := img.Brokers[r.BrokerID]; !ok || b.Epoch != r.BrokerEpoch {
		return img, reject(kerr.StaleBrokerEpoch)
	}
	n := img
	for _, ref := range r.Replicas {
		t := n.TopicsByID[ref.TopicID]
		if t == nil || ref.Partition < 0 || int(ref.Partition) >= len(t.Partitions) {
			continue
		}
		next, changed := afterOffline(t.Partitions[ref.Partition], r.BrokerID, n.Brokers)
		if !changed {
			continue
		}
		c := t.clone()
		c.Partitions[ref.Partition] = next
		n = n.replaceTopic(index, c)
	}
	return n, Result{}
}

// afterOffline returns p once broker id's replica of it is offline, and
// whether it changed: id joins Offline, and its ISR and leadership change
// as afterFence's for this one partition, except that a partition whose
// last ISR member id is keeps it as its ISR (leaderless). Any change bumps the
// partition epoch (the leader learns of it in its delta), a leader that
// moves the leader epoch too.
func afterOffline(p Partition, id int32, brokers map[int32]Broker) (Partition, bool) {
	if !slices.Contains(p.Replicas, id) || slices.Contains(p.Offline, id) {
		return p, false
	}
	next := p.clone()
	next.Offline = append(next.Offline, id)
	slices.Sort(next.Offline)
	next.PartitionEpoch++
	next.ISR = slices.DeleteFunc(next.ISR, func(r int32) bool { return r == id })
	if len(next.ISR) == 0 {
		// No other replica is known to hold what it committed: id stays
		// the ISR, to lead again once its log is back (a registration),
		// but it cannot lead with its log failed — the partition is
		// leaderless meanwhile, as Kafka's, and an unclean election (when
		// allowed) may pick another live replica.
		next.ISR = []int32{id}
		if p.Leader == id {
			next.Leader = -1
			next.LeaderEpoch++
		}
		return next, true
	}
	if p.Leader == id {
		next.Leader = -1
		for _, r := range p.Replicas {
			if b, ok := brokers[r]; ok && !b.Fenced && r != id && slices.Contains(next.ISR, r) {
				next.Leader = r
				break
			}
		}
	}
	if next.Leader != p.Leader {
		next.LeaderEpoch++
	}
	noteISR(p, &next)
	return next, true
}

// backOnline returns p without broker id among its offline replicas, and
// whether it changed: id registered again.
func backOnline(p Partition, id int32) (Partition, bool) {
	if !slices.Contains(p.Offline, id) {
		return p, false
	}
	next := p.clone()
	next.Offline = cloneIDs(slices.DeleteFunc(next.Offline, func(r int32) bool { return r == id }))
	return next, true
}
