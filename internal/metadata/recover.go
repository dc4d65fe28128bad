package metadata

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// noteISR keeps next.LastKnownISR after a change of p's ISR to next's
// (see Partition.LastKnownISR): an ISR of two or more members vouches for
// the acknowledged records by itself, so the list is cleared; a change
// that leaves fewer adds the members it removes to it. Members back in
// the ISR, or no longer replicas, are dropped from it.
func noteISR(p Partition, next *Partition) {
	if len(next.ISR) >= 2 {
		next.LastKnownISR = nil
		return
	}
	known := slices.Clone(p.LastKnownISR)
	for _, id := range p.ISR {
		if !slices.Contains(known, id) {
			known = append(known, id)
		}
	}
	known = slices.DeleteFunc(known, func(id int32) bool {
		return slices.Contains(next.ISR, id) || !slices.Contains(next.Replicas, id)
	})
	slices.Sort(known)
	next.LastKnownISR = cloneIDs(known)
}

// AwaitsRecovery reports whether p has no leader and an empty ISR: its
// last in-sync replica restarted after an unclean shutdown (RegisterBroker),
// so no replica is known to hold every acknowledged record by itself, and
// only the recovery election (RecoverLeader) or an unclean one
// (ElectLeader) gives it a leader again.
func (p Partition) AwaitsRecovery() bool { return p.Leader == -1 && len(p.ISR) == 0 }

// RecoveryCandidates are the replicas a recovery election of p waits for
// and chooses from: LastKnownISR, or, for a partition whose ISR was
// emptied before that was kept (or, in a hand-made image, with none), all
// its replicas, which hold at least what the last-known members do.
func (p Partition) RecoveryCandidates() []int32 {
	if len(p.LastKnownISR) > 0 {
		return p.LastKnownISR
	}
	return p.Replicas
}

// RecoverLeader is KIP-966's unclean recovery ("balanced") for one
// partition that AwaitsRecovery: the active controller, once every
// recovery candidate is registered, unfenced and has reported its log's
// last leader epoch and end offset at PartitionEpoch, elects the one with
// the longest log (highest last epoch, then highest end offset) as Leader,
// the ISR alone. The reports travel with the heartbeats and are not in the
// metadata log, so apply checks what it can: the partition still awaits
// recovery at PartitionEpoch, every candidate is live and still in the
// registration that reported (BrokerEpochs, by position in
// RecoveryCandidates: a broker that restarted since may have lost what it
// reported), and Leader is one of them.
type RecoverLeader struct {
	TopicID        TopicID
	Partition      int32
	PartitionEpoch int32
	Leader         int32
	BrokerEpochs   []int64
}

// applyRecoverLeader applies r (see RecoverLeader), with Kafka's codes:
// UNKNOWN_TOPIC_OR_PARTITION for a partition that does not exist,
// ELECTION_NOT_NEEDED for one that does not await recovery,
// INVALID_UPDATE_VERSION for a decision taken at another partition epoch
// (the candidates may have changed), ELIGIBLE_LEADERS_NOT_AVAILABLE when a
// candidate is not live or Leader is not one, STALE_BROKER_EPOCH when a
// candidate registered again since it reported. The other candidates stay
// in LastKnownISR until the ISR has two members again: they hold what they
// held.
func (img *Image) applyRecoverLeader(index uint64, r RecoverLeader) (*Image, Result) {
	old := img.TopicsByID[r.TopicID]
	if old == nil || r.Partition < 0 || int(r.Partition) >= len(old.Partitions) {
		return img, reject(kerr.UnknownTopicOrPartition)
	}
	p := old.Partitions[r.Partition]
	switch {
	case !p.AwaitsRecovery():
		return img, reject(kerr.ElectionNotNeeded)
	case r.PartitionEpoch != p.PartitionEpoch:
		return img, reject(kerr.InvalidUpdateVersion)
	}
	candidates := p.RecoveryCandidates()
	if !slices.Contains(candidates, r.Leader) {
		return img, reject(kerr.EligibleLeadersNotAvailable)
	}
	for _, id := range candidates {
		if !img.live(id) {
			return img, reject(kerr.EligibleLeadersNotAvailable)
		}
	}
	if len(r.BrokerEpochs) != len(candidates) {
		return img, reject(kerr.InvalidRequest)
	}
	for i, id := range candidates {
		if img.Brokers[id].Epoch != r.BrokerEpochs[i] {
			return img, reject(kerr.StaleBrokerEpoch)
		}
	}
	next := p.clone()
	next.Leader, next.ISR = r.Leader, []int32{r.Leader}
	next.LastKnownISR = cloneIDs(slices.DeleteFunc(slices.Clone(candidates), func(id int32) bool { return id == r.Leader }))
	next.LeaderEpoch++
	next.PartitionEpoch++
	t := old.clone()
	t.Partitions[r.Partition] = next
	return img.replaceTopic(index, t), Result{}
}

// LogReport is what a broker tells the active controller of its replica
// of a partition that awaits recovery: the leader epoch of its log's last
// batch (-1 when empty) and its log end offset, as of PartitionEpoch.
type LogReport struct {
	TopicID        TopicID
	Partition      int32
	PartitionEpoch int32
	LastEpoch      int32
	LogEndOffset   int64
}

// Longer reports whether a's log is longer than b's in KIP-966's order:
// a higher last leader epoch, then a higher log end offset. Among logs
// kept by clean elections the longest holds every record any of them
// had committed (doc.go).
func (a LogReport) Longer(b LogReport) bool {
	if a.LastEpoch != b.LastEpoch {
		return a.LastEpoch > b.LastEpoch
	}
	return a.LogEndOffset > b.LogEndOffset
}

// RecoveryLeader is the active controller's recovery election of p, a
// partition that AwaitsRecovery, given the reports of the brokers'
// current registrations in img (by broker, for this partition): once
// every candidate is live and has reported at p's partition epoch, the
// candidate with the longest log (Longer; the first in replica order
// among equals), and true; otherwise the candidates still awaited (not
// live, or no report at this epoch), and false.
func (img *Image) RecoveryLeader(p Partition, reports map[int32]LogReport) (leader int32, waiting []int32, ok bool) {
	candidates := p.RecoveryCandidates()
	for _, id := range candidates {
		if r, ok := reports[id]; !ok || r.PartitionEpoch != p.PartitionEpoch || !img.live(id) {
			waiting = append(waiting, id)
		}
	}
	if len(waiting) > 0 {
		return -1, waiting, false
	}
	leader = -1
	for _, id := range p.Replicas {
		if !slices.Contains(candidates, id) {
			continue
		}
		if leader == -1 || reports[id].Longer(reports[leader]) {
			leader = id
		}
	}
	return leader, nil, leader != -1
}

// CandidateEpochs are the broker epochs of p's recovery candidates in img,
// by position: what RecoverLeader.BrokerEpochs carries for a decision
// taken on img.
func (img *Image) CandidateEpochs(p Partition) []int64 {
	candidates := p.RecoveryCandidates()
	out := make([]int64, len(candidates))
	for i, id := range candidates {
		out[i] = img.Brokers[id].Epoch
	}
	return out
}
