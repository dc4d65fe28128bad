package broker

import (
	"maps"
	"time"

	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// highWatermarks writes every local partition's high watermark to the data
// directory's replication-offset-checkpoint (Kafka's file and format) every
// replica.high.watermark.checkpoint.interval.ms until the broker stops, so
// that a replica restarted after a crash starts from a high watermark it
// knew to be committed rather than its log end. A restart after a clean
// shutdown finds the last one, written by Close before the partitions
// close.
type highWatermarks struct {
	fs      vfs.FS
	dir     string
	written map[partition.TopicPartition]int64 // what the file holds; only the writer touches it
}

// logFS is the filesystem of the partition logs and the checkpoints.
func (b *Broker) logFS() vfs.FS {
	if b.cfg.FS == nil {
		return vfs.OS()
	}
	return b.cfg.FS
}

func (b *Broker) checkpointHighWatermarks(hw *highWatermarks, interval time.Duration) {
	defer b.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.writeHighWatermarks(hw)
		}
	}
}

// writeHighWatermarks writes the file if any high watermark moved (or a
// partition came or went) since the last write: an idle broker does not
// fsync every interval.
func (b *Broker) writeHighWatermarks(hw *highWatermarks) {
	now := map[partition.TopicPartition]int64{}
	b.partitions.each(func(p *partition.Partition) {
		now[partition.TopicPartition{Topic: p.Topic, Partition: p.Index}] = p.HighWatermark()
	})
	if hw.written != nil && maps.Equal(now, hw.written) {
		return
	}
	if err := partition.WriteHighWatermarks(hw.fs, hw.dir, now); err != nil {
		b.logger.Warn("checkpointing high watermarks", "err", err)
		return
	}
	hw.written = now
}
