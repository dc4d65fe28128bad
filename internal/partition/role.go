package partition

import "slices"

// BecomeLeader makes this broker the partition's leader in epoch with
// partitionEpoch, replicas and isr from the metadata (Kafka's makeLeader).
// A state change older than the replica's (a lower leader or partition
// epoch) is refused with ErrStaleEpoch and changes nothing. The same
// epoch with a newer partition epoch takes the new replicas and ISR.
func (p *Partition) BecomeLeader(epoch, partitionEpoch int32, replicas, isr []int32) error {
	p.mu.Lock()
	fx, err := p.replica.BecomeLeader(p.now().UnixMilli(), epoch, partitionEpoch, replicas, isr)
	if err == nil {
		p.applyLocked(fx)
	}
	p.mu.Unlock()
	return err
}

// BecomeFollower makes this broker a follower of leader in epoch (Kafka's
// makeFollower): it takes no more produces and serves no consumer; a
// stale state change is refused with ErrStaleEpoch.
func (p *Partition) BecomeFollower(epoch, partitionEpoch, leader int32, replicas []int32) error {
	p.mu.Lock()
	err := p.replica.BecomeFollower(epoch, partitionEpoch, leader, replicas)
	if err == nil {
		p.applyLocked(Effects{})
	}
	p.mu.Unlock()
	if err == nil {
		p.wake() // parked consumer fetches answer NOT_LEADER_OR_FOLLOWER now
	}
	return err
}

// SetLeaderEpoch moves a leader to epoch, keeping its replicas, ISR and
// partition epoch; an older epoch changes nothing.
func (p *Partition) SetLeaderEpoch(epoch int32) {
	p.mu.Lock()
	r := p.replica
	if r.Role() == RoleLeader && epoch > r.LeaderEpoch() {
		fx, err := r.BecomeLeader(p.now().UnixMilli(), epoch, r.PartitionEpoch(), r.Replicas(), r.ISR())
		if err == nil {
			p.applyLocked(fx)
		}
	}
	p.mu.Unlock()
}

// Role is this broker's role for the partition.
func (p *Partition) Role() Role { return Role(p.role.Load()) }

// ISR is the committed in-sync replica set (the leader's; nil on a
// follower).
func (p *Partition) ISR() []int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.replica.ISR())
}

// applyLocked publishes the core's state to the lock-free mirrors and
// wakes what waits on a moved high watermark. p.mu is held.
func (p *Partition) applyLocked(fx Effects) {
	r := p.replica
	p.leaderEpoch.Store(r.LeaderEpoch())
	p.role.Store(int32(r.Role()))
	p.hw.Store(r.HighWatermark())
	if fx.HighWatermarkMoved {
		p.hwMu.Lock()
		close(p.hwMoved)
		p.hwMoved = make(chan struct{})
		p.hwMu.Unlock()
	}
}

// highWatermarkMoved returns a channel closed the next time the high
// watermark moves.
func (p *Partition) highWatermarkMoved() <-chan struct{} {
	p.hwMu.Lock()
	defer p.hwMu.Unlock()
	return p.hwMoved
}
