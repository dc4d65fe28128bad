package partition

import "github.com/twmb/franz-go/pkg/kerr"

// The leader's inputs from replication: a follower's fetch, the ISR check
// on a timer and the controller's AlterPartition answer. Each returns the
// ISR change to send to the controller, if the input proposed one; the
// caller sends it (and answers it with AlterPartitionResponse).

// FollowerFetch records that follower replica fetched from fetchOffset
// with its log starting at logStart and its broker epoch (-1: not given):
// the follower's log end, the ISR expansion and the high watermark move as
// Replica.FollowerFetch says. A code (NOT_LEADER_OR_FOLLOWER, OFFSET_OUT_OF_RANGE,
// KAFKA_STORAGE_ERROR from an offline replica) refuses the fetch.
func (p *Partition) FollowerFetch(replica int32, brokerEpoch, fetchOffset, logStart int64) (*AlterPartition, int16) {
	p.mu.Lock()
	if p.log.Failed() != nil {
		p.mu.Unlock()
		return nil, kerr.KafkaStorageError.Code // an offline replica commits nothing more
	}
	fx, code := p.replica.FollowerFetch(p.now().UnixMilli(), replica, brokerEpoch, fetchOffset, logStart)
	_ = p.applyLocked(fx) // no epoch changes here, so no file to fail writing
	p.mu.Unlock()
	p.wakeIfMoved(fx)
	return fx.Alter, code
}

// Follower is the leader's view of follower replica id (false if this
// replica does not lead it).
func (p *Partition) Follower(id int32) (FollowerState, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.replica.Follower(id)
}

// Tick runs the ISR shrink check (Kafka's maybeShrinkIsr; the replica
// manager calls it every replica.lag.time.max.ms/2).
func (p *Partition) Tick() *AlterPartition {
	p.mu.Lock()
	fx := p.replica.Tick(p.now().UnixMilli())
	_ = p.applyLocked(fx) // no epoch changes here, so no file to fail writing
	p.mu.Unlock()
	p.wakeIfMoved(fx)
	return fx.Alter
}

// SetFencedReplicas tells the replica which followers are not eligible
// for the ISR (Replica.SetFenced): those on fenced brokers, and those
// whose logs failed (offline in the metadata); a high watermark that
// moves wakes the acks=all produces waiting for it.
func (p *Partition) SetFencedReplicas(fenced []int32) {
	p.mu.Lock()
	fx := p.replica.SetFenced(p.now().UnixMilli(), fenced)
	_ = p.applyLocked(fx) // no epoch changes here, so no file to fail writing
	p.mu.Unlock()
}

// PendingAlter is the ISR change in flight, or nil (Replica.Pending).
func (p *Partition) PendingAlter() *AlterPartition {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.replica.Pending()
}

// AlterPartitionResponse applies the controller's answer to the pending
// ISR change (Replica.AlterPartitionResponse).
func (p *Partition) AlterPartitionResponse(code int16, leaderEpoch, partitionEpoch int32, isr []int32) {
	p.mu.Lock()
	fx := p.replica.AlterPartitionResponse(p.now().UnixMilli(), code, leaderEpoch, partitionEpoch, isr)
	_ = p.applyLocked(fx) // no epoch changes here, so no file to fail writing
	p.mu.Unlock()
	p.wakeIfMoved(fx)
}

// wakeIfMoved wakes the parked consumer fetches when the high watermark
// moved: records became visible.
func (p *Partition) wakeIfMoved(fx Effects) {
	if fx.HighWatermarkMoved {
		p.wake()
	}
}
