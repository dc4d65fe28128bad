package partition

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/samsa-streaming/samsa/internal/storage"
	"github.com/samsa-streaming/samsa/internal/txn"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// ErrLeaderTruncate refuses to truncate a leader's log: only a replica
// that is not the leader may lose records (a follower whose log diverged).
var ErrLeaderTruncate = errors.New("partition: the leader's log is not truncated")

// TruncateTo cuts a follower's log to offset (Kafka's truncateTo, after
// OffsetForLeaderEpoch found where it diverges from the leader's): the log
// (storage.Log.TruncateTo, which may stop below offset at a batch
// boundary), the epoch cache and the high watermark follow the new log
// end, and the producer state is rebuilt from what is left
// (txn.Rebuild), so a batch truncated away is no longer a duplicate.
func (p *Partition) TruncateTo(offset int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.replica.Role() == RoleLeader {
		return ErrLeaderTruncate
	}
	if offset >= p.log.LogEndOffset() {
		return nil
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
