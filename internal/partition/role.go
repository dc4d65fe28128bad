package partition

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// BecomeLeader makes this broker the partition's leader in epoch with
// partitionEpoch, replicas and isr from the metadata (Kafka's makeLeader).
// A state change older than the replica's (a lower leader or partition
// epoch) is refused with ErrStaleEpoch and changes nothing. The same
// epoch with a newer partition epoch takes the new replicas and ISR.
func (p *Partition) BecomeLeader(epoch, partitionEpoch int32, replicas, isr []int32) error {
	p.mu.Lock()
	fx, err := p.replica.BecomeLeader(p.now().UnixMilli(), epoch, partitionEpoch, replicas, isr)
	if err == nil {
		err = p.applyLocked(fx)
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
		err = p.applyLocked(Effects{})
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
			_ = p.applyLocked(fx) // a failed epoch checkpoint fails the next one's write again
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

// applyLocked publishes the core's state to the lock-free mirrors, wakes
// what waits on a moved high watermark and writes the leader-epoch
// checkpoint when the cache changed (atomically: a crash leaves the old
// one or the new one). p.mu is held.
func (p *Partition) applyLocked(fx Effects) error {
	r := p.replica
	p.leaderEpoch.Store(r.LeaderEpoch())
	roleMoved := p.role.Swap(int32(r.Role())) != int32(r.Role())
	p.hw.Store(r.HighWatermark())
	if p.fuo.Load() >= 0 {
		// Markers now below the high watermark are decided: only raises it.
		p.refreshStableLocked()
	}
	// A waiter counts itself before it takes p.mu to check, and this runs
	// under p.mu after the change, so a waiter not counted yet sees the
	// change in its check.
	if (fx.HighWatermarkMoved || roleMoved) && p.hwWaiters.Load() > 0 {
		p.hwMu.Lock()
		close(p.hwMoved)
		p.hwMoved = make(chan struct{})
		p.hwMu.Unlock()
	}
	if fx.EpochsChanged {
		if err := p.log.WriteFile(EpochCheckpointFile, EncodeEpochCheckpoint(r.Epochs().Entries())); err != nil {
			return fmt.Errorf("partition %s-%d: writing %s: %w", p.Topic, p.Index, EpochCheckpointFile, err)
		}
	}
	return nil
}

// readEpochCheckpoint reads the leader-epoch checkpoint of the partition
// directory dir. A missing file (a new partition) or an empty one (a crash
// while the broker was closing, when files are replaced unsynced) is an
// empty cache; one that does not parse is an error, as in Kafka, rather
// than a guess that could let a follower keep records the leader lacks.
func readEpochCheckpoint(fsys vfs.FS, dir string) ([]EpochEntry, error) {
	b, err := vfs.ReadFile(fsys, filepath.Join(dir, EpochCheckpointFile))
	switch {
	case errors.Is(err, fs.ErrNotExist) || (err == nil && len(b) == 0):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reading %s: %w", EpochCheckpointFile, err)
	}
	entries, err := DecodeEpochCheckpoint(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EpochCheckpointFile, err)
	}
	return entries, nil
}

// highWatermarkMoved returns a channel closed the next time the high
// watermark or the role moves.
func (p *Partition) highWatermarkMoved() <-chan struct{} {
	p.hwMu.Lock()
	defer p.hwMu.Unlock()
	return p.hwMoved
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch from the leader-epoch
// cache (EpochCache.EndOffsetFor): the largest epoch at or below epoch
// and the offset where it ended, the log end for the current epoch, or
// (-1, -1) for an epoch the cache does not know.
func (p *Partition) EndOffsetForEpoch(epoch int32) (int32, int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.replica.Epochs().EndOffsetFor(epoch, p.log.LogEndOffset())
}

// LatestEpoch is the newest epoch in the leader-epoch cache (-1 if it is
// empty): the last fetched epoch a follower's fetch carries.
func (p *Partition) LatestEpoch() int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.replica.Epochs().Latest(); ok {
		return e.Epoch
	}
	return -1
}
