package partition

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/storage"
	"github.com/samsa-streaming/samsa/internal/txn"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// ErrLeaderTruncate refuses to truncate a leader's log: only a replica
// that is not the leader may lose records (a follower whose log diverged).
var ErrLeaderTruncate = errors.New("partition: the leader's log is not truncated")

// ErrNotFollower refuses a follower's append on a replica that is not a
// follower: the leader's batches are only taken by its followers.
var ErrNotFollower = errors.New("partition: not a follower")

// AppendAsFollower appends records, whole batches fetched from the leader,
// as they are (Kafka's appendRecordsToFollowerOrFutureReplica): their
// offsets, leader epochs and timestamps are the leader's. Each batch must
// pass its structural checks and CRC (the bytes came over the network);
// offsets below the log end or out of order are refused
// (storage.ErrOffsetOrder) with nothing appended. The epoch cache takes
// each batch's partition leader epoch, and the producer state is updated
// from the batches without the leader's duplicate and sequence checks (as
// Kafka's follower: the leader made them), so that it is right if this
// replica becomes leader. An empty log whose end lies inside the first
// batch (the leader's log start, which DeleteRecords put inside a batch,
// was fetched) starts again at that batch. Parked waiters are woken, and flush.messages applies as to a produce.
func (p *Partition) AppendAsFollower(records []byte) error {
	// Checked before the lock, as a produce's validation.
	var hs []batch.Header
	for pos := 0; pos < len(records); {
		h, err := batch.ParseHeader(records[pos:])
		if err == nil {
			err = h.Check()
		}
		if err == nil && h.Size() > len(records)-pos {
			err = fmt.Errorf("%w: batch of %d bytes in %d", batch.ErrCorrupt, h.Size(), len(records)-pos)
		}
		if err == nil && !batch.ValidCRC(records[pos:pos+h.Size()]) {
			err = fmt.Errorf("%w: CRC mismatch in the batch at offset %d", batch.ErrCorrupt, h.BaseOffset)
		}
		if err != nil {
			return fmt.Errorf("partition %s-%d: follower append: %w", p.Topic, p.Index, err)
		}
		hs = append(hs, h)
		pos += h.Size()
	}
	p.mu.Lock()
	if p.replica.Role() != RoleFollower {
		p.mu.Unlock()
		return fmt.Errorf("partition %s-%d: %w (%s)", p.Topic, p.Index, ErrNotFollower, p.replica.Role())
	}
	if end := p.log.LogEndOffset(); len(hs) > 0 && end == p.log.LogStartOffset() && hs[0].BaseOffset < end && hs[0].LastOffset() >= end {
		// The leader's log start is inside its first batch (DeleteRecords
		// is not batch aligned) and this log is empty from there: it starts
		// at the batch instead, as Kafka's follower does on
		// UnexpectedAppendOffsetException; the leader's log start, applied
		// after, moves the log start up again.
		if err := p.truncateFullyLocked(hs[0].BaseOffset); err != nil {
			p.failOnDiskErrorLocked(err)
			p.mu.Unlock()
			return err
		}
	}
	if _, err := p.log.AppendAsFollower(records); err != nil {
		p.failOnDiskErrorLocked(err)
		p.mu.Unlock()
		return fmt.Errorf("partition %s-%d: follower append: %w", p.Topic, p.Index, closedErr(err))
	}
	epochs := make([]EpochEntry, 0, len(hs))
	var err error
	for pos, i := 0, 0; i < len(hs); i++ {
		h := hs[i]
		epochs = append(epochs, EpochEntry{Epoch: h.PartitionLeaderEpoch, StartOffset: h.BaseOffset})
		if h.ProducerID >= 0 && err == nil {
			err = p.trackBatchLocked(h, records[pos:pos+h.Size()], true)
		}
		pos += h.Size()
	}
	end := p.log.LogEndOffset()
	if err == nil {
		err = p.applyLocked(p.replica.AppendAsFollower(epochs, end))
	}
	p.failOnDiskErrorLocked(err)
	p.mu.Unlock()
	p.wake()
	if err != nil {
		return err
	}
	return p.flushMessages(end, p.cfg.Load().FlushMessages)
}

// SetLeaderHighWatermark applies the high watermark of the leader's fetch
// response to a follower (Replica.SetLeaderHighWatermark: bounded by this
// replica's log end). A leader ignores it.
func (p *Partition) SetLeaderHighWatermark(hw int64) {
	p.mu.Lock()
	var fx Effects
	if p.replica.Role() == RoleFollower {
		fx = p.replica.SetLeaderHighWatermark(hw)
	}
	_ = p.applyLocked(fx) // no epoch changes here, so no file to fail writing
	p.mu.Unlock()
	p.wakeIfMoved(fx)
}

// Leader is the leader this replica follows (-1 if it follows none).
func (p *Partition) Leader() int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.replica.Leader()
}

// TruncateTo cuts a follower's log to offset (Kafka's truncateTo, after
// OffsetForLeaderEpoch found where it diverges from the leader's): the log
// (storage.Log.TruncateTo, which may stop below offset at a batch
// boundary), the epoch cache and the high watermark follow the new log
// end, and the producer state is rebuilt from what is left
// (txn.Rebuild), so a batch truncated away is no longer a duplicate.
func (p *Partition) TruncateTo(offset int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.truncateToLocked(offset)
	p.failOnDiskErrorLocked(err)
	return err
}

func (p *Partition) truncateToLocked(offset int64) error {
	if p.replica.Role() == RoleLeader {
		return ErrLeaderTruncate
	}
	if offset >= p.log.LogEndOffset() {
		// The log stays; the epoch cache may lose an entry at its end.
		return p.applyLocked(p.replica.TruncateTo(offset))
	}
	if err := p.log.TruncateTo(offset); err != nil {
		return closedErr(err)
	}
	end := p.log.LogEndOffset()
	snapshot, err := vfs.ReadFile(p.log.FS(), filepath.Join(p.log.Dir(), snapshotFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("partition %s-%d: reading the producer snapshot: %w", p.Topic, p.Index, err)
	}
	ps, used, err := txn.Rebuild(snapshot, p.log.LogStartOffset(), end, func(from int64) ([]byte, error) {
		b, err := p.log.Read(from, 1<<20, end)
		if errors.Is(err, storage.ErrOffsetOutOfRange) {
			return nil, nil
		}
		return b, err
	})
	if err != nil {
		return fmt.Errorf("partition %s-%d: producer state after truncation: %w", p.Topic, p.Index, err)
	}
	p.producers = ps
	p.refreshStableLocked()
	if snapshot != nil && used < 0 {
		// A snapshot above the new log end must not outlive it: once the
		// log grew past its offset again it would pass for a valid one.
		if err := p.log.WriteFile(snapshotFile, ps.MarshalSnapshot(end)); err != nil {
			return fmt.Errorf("partition %s-%d: replacing the producer snapshot: %w", p.Topic, p.Index, err)
		}
		p.snapshotAt = end
	} else if p.snapshotAt > end {
		p.snapshotAt = -1
	}
	fx := p.replica.TruncateTo(end)
	p.flushedTo.Store(min(p.flushedTo.Load(), end))
	if err := p.applyLocked(fx); err != nil {
		return err
	}
	return nil
}

// TruncateFullyAndStartAt empties a follower's log and starts it again at
// offset (Kafka's truncateFullyAndStartAt: the follower's log end is below
// the leader's log start, so nothing it holds is of use): the log
// (storage.Log.TruncateFullyAndStartAt: log start and end at offset), the
// epoch cache (emptied, its checkpoint rewritten), the high watermark
// (offset) and the producer state (empty, its snapshot replaced) follow. A
// leader refuses (ErrLeaderTruncate).
func (p *Partition) TruncateFullyAndStartAt(offset int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.replica.Role() == RoleLeader {
		return ErrLeaderTruncate
	}
	err := p.truncateFullyLocked(offset)
	p.failOnDiskErrorLocked(err)
	return err
}

func (p *Partition) truncateFullyLocked(offset int64) error {
	if err := p.log.TruncateFullyAndStartAt(offset); err != nil {
		return closedErr(err)
	}
	p.producers = txn.NewProducerState()
	p.fuo.Store(-1)
	// A snapshot of offsets that are gone would pass for a valid one once
	// the log grows past its offset again.
	if err := p.log.WriteFile(snapshotFile, p.producers.MarshalSnapshot(offset)); err != nil {
		return fmt.Errorf("partition %s-%d: replacing the producer snapshot: %w", p.Topic, p.Index, err)
	}
	p.snapshotAt = offset
	p.flushedTo.Store(offset)
	return p.applyLocked(p.replica.TruncateFullyAndStartAt(offset))
}

// SetLeaderLogStartOffset moves a follower's log start up to the leader's
// (the log start offset of its fetch response; Kafka's
// maybeIncrementLogStartOffset with LeaderOffsetIncremented), so that
// DeleteRecords and retention on the leader reach the follower. As Kafka,
// the log start does not pass the follower's high watermark: a later fetch
// carries it on. A leader, or an offset at or below the log start, changes
// nothing.
func (p *Partition) SetLeaderLogStartOffset(offset int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.replica.Role() != RoleFollower {
		return nil
	}
	offset = min(offset, p.hw.Load())
	if offset <= p.log.LogStartOffset() {
		return nil
	}
	if err := p.moveLogStartLocked(offset); err != nil {
		return fmt.Errorf("partition %s-%d: moving the log start to the leader's %d: %w", p.Topic, p.Index, offset, err)
	}
	return nil
}
