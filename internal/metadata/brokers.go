package metadata

import (
	"math"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// applyRegisterBroker registers r.Broker (see RegisterBroker): a retry of
// the current registration changes nothing; otherwise the previous
// registration is fenced first, with its partitions moving as for a
// FenceBroker record, the broker's replicas are no longer offline
// (OfflineReplicas), and after an unclean shutdown the broker leaves the
// ISRs it was left in as their last member, unless it is the partition's
// only replica (no other copy can hold more than it does).
func (img *Image) applyRegisterBroker(index uint64, r RegisterBroker) (*Image, Result) {
	b := r.Broker
	if b.ID < 0 || b.Port < 0 || b.Port > math.MaxUint16 || slices.ContainsFunc(b.Listeners, func(e Endpoint) bool { return e.Port < 0 || e.Port > math.MaxUint16 }) {
		return img, reject(kerr.InvalidRequest)
	}
	n := img
	if old, ok := img.Brokers[b.ID]; ok {
		retry := old
		retry.Epoch, retry.Fenced = b.Epoch, b.Fenced
		if sameRegistration(retry, b) {
			return img, Result{BrokerEpoch: old.Epoch}
		}
		if !old.Fenced {
			n, _ = img.applyFence(index, old.ID, old.Epoch, true)
		}
	}
	b.Epoch, b.Fenced = int64(index), true
	n = n.withBroker(index, b)
	// A new life has opened (and recovered) its logs again.
	n = n.withPartitions(func(p Partition) (Partition, bool) { return backOnline(p, b.ID) })
	if r.UncleanShutdown {
		n = n.withPartitions(func(p Partition) (Partition, bool) { return leaveUnclean(p, b.ID) })
	}
	return n, Result{BrokerEpoch: b.Epoch}
}

// leaveUnclean returns p without broker id in its ISR, and whether it
// changed: id restarted after an unclean shutdown, so it cannot vouch for
// the records it had (the ISR's promise). A partition of one replica keeps
// it. A leader it was (it cannot be: its old registration was fenced
// first) would be dropped too.
func leaveUnclean(p Partition, id int32) (Partition, bool) {
	if len(p.Replicas) <= 1 || !slices.Contains(p.ISR, id) {
		return p, false
	}
	next := p.clone()
	next.ISR = slices.DeleteFunc(next.ISR, func(r int32) bool { return r == id })
	if next.Leader == id {
		next.Leader = -1
		next.LeaderEpoch++
	}
	noteISR(p, &next)
	next.PartitionEpoch++
	return next, true
}

// withBroker returns a copy of img in which b replaces the broker of its ID.
func (img *Image) withBroker(index uint64, b Broker) *Image {
	n := img.next(index)
	n.Brokers = make(map[int32]Broker, len(img.Brokers)+1)
	for id, old := range img.Brokers {
		n.Brokers[id] = old
	}
	n.Brokers[b.ID] = b
	return n
}

// applyFence fences or unfences the broker registered as id with epoch; a
// record for an earlier registration is stale. In the same record, as
// Kafka's controller does (ReplicationControlManager.handleBrokerFenced
// and handleBrokerUnfenced), partitions follow: a fenced broker leaves
// every ISR and its leaderships move to the first replica (in replica
// order) that is in the ISR and unfenced; a partition whose ISR would be
// empty keeps the broker as its last ISR member with no leader (-1), and
// gets it back as leader when it is unfenced. Only the ISR elects: an
// out-of-sync replica never becomes leader here.
func (img *Image) applyFence(index uint64, id int32, epoch int64, fenced bool) (*Image, Result) {
	b, ok := img.Brokers[id]
	if !ok {
		return img, reject(kerr.BrokerIDNotRegistered)
	}
	if b.Epoch != epoch {
		return img, reject(kerr.StaleBrokerEpoch)
	}
	if b.Fenced == fenced {
		return img, Result{}
	}
	b.Fenced = fenced
	n := img.withBroker(index, b)
	return n.withPartitions(func(p Partition) (Partition, bool) { return afterFence(p, id, fenced, n.Brokers) }), Result{}
}

// withPartitions returns img with every partition p replaced by change(p)
// where it reports a change, copying only the topics that change (img
// itself when none does). img must be a fresh copy (its Index set).
func (img *Image) withPartitions(change func(Partition) (Partition, bool)) *Image {
	var changed []*Topic
	for _, t := range img.Topics { // each partition's change is its own: order does not matter
		var c *Topic
		for i, p := range t.Partitions {
			next, ok := change(p)
			if !ok {
				continue
			}
			if c == nil {
				c = t.clone()
			}
			c.Partitions[i] = next
		}
		if c != nil {
			changed = append(changed, c)
		}
	}
	if len(changed) == 0 {
		return img
	}
	n := img.shallowCopy()
	n.Topics = make(map[string]*Topic, len(img.Topics))
	n.TopicsByID = make(map[TopicID]*Topic, len(img.TopicsByID))
	for name, old := range img.Topics {
		n.Topics[name] = old
		n.TopicsByID[old.ID] = old
	}
	for _, t := range changed {
		n.Topics[t.Name] = t
		n.TopicsByID[t.ID] = t
	}
	return n
}

// afterFence returns p after broker id is fenced (or unfenced), and
// whether it changed. A new leader bumps the leader epoch; any change
// bumps the partition epoch.
func afterFence(p Partition, id int32, fenced bool, brokers map[int32]Broker) (Partition, bool) {
	next := p.clone()
	if !fenced {
		if p.Leader != -1 || !slices.Contains(p.ISR, id) || slices.Contains(p.Offline, id) {
			return p, false
		}
		next.Leader = id
	} else {
		if p.Leader != id && !slices.Contains(p.ISR, id) {
			return p, false
		}
		next.ISR = slices.DeleteFunc(next.ISR, func(r int32) bool { return r == id })
		if len(next.ISR) == 0 {
			next.ISR = []int32{id} // the last in-sync replica stays, to be leader again
		}
		if p.Leader == id || p.Leader == -1 {
			next.Leader = -1
			for _, r := range p.Replicas {
				if b, ok := brokers[r]; ok && !b.Fenced && slices.Contains(next.ISR, r) {
					next.Leader = r
					break
				}
			}
		}
	}
	if next.Leader == p.Leader && slices.Equal(next.ISR, p.ISR) {
		return p, false
	}
	if next.Leader != p.Leader {
		next.LeaderEpoch++
	}
	noteISR(p, &next)
	next.PartitionEpoch++
	return next, true
}
