package partition

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/storage"
	"github.com/samsa-streaming/samsa/internal/txn"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

const snapshotFile = "producer.snapshot"

// ErrClosed is returned by reads of a partition that was closed: its topic
// was deleted (or re-created) or the broker is stopping. It is never a disk
// problem: the fetch handler answers it from the metadata
// (UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_ID), not with
// KAFKA_STORAGE_ERROR.
var ErrClosed = errors.New("partition: closed")

// ErrNotLeader refuses a consumer's read of a replica that is not the
// partition's leader (NOT_LEADER_OR_FOLLOWER).
var ErrNotLeader = errors.New("partition: not the leader")

// ErrOffline refuses every read of a replica whose log failed (Fail): what
// it holds may not be what it acknowledged. Handlers answer
// KAFKA_STORAGE_ERROR.
var ErrOffline = errors.New("partition: offline after a storage failure")

// Partition is this broker's replica of one partition.
type Partition struct {
	Topic   string
	Index   int32
	TopicID [16]byte

	log *storage.Log
	now func() time.Time

	// mu serialises appends with the producer state they check and update.
	mu        sync.Mutex
	producers *txn.ProducerState
	// snapshotAt is the log end offset the producer snapshot on disk was
	// taken at when it matches the log (-1 if not): Close then writes none.
	snapshotAt int64

	// replica is the deterministic core: role, epochs, ISR, followers and
	// the high-watermark rule. Guarded by mu; hw, leaderEpoch and role
	// mirror it for readers that take no lock.
	replica *Replica

	cfg atomic.Pointer[config.Topic]
	hw  atomic.Int64
	// fuo mirrors the producer state's first unstable offset (-1: none),
	// stored before the high watermark passes it, so LastStableOffset
	// reads both without the lock and never answers too high.
	fuo         atomic.Int64
	leaderEpoch atomic.Int32
	role        atomic.Int32 // a Role
	flushedTo   atomic.Int64 // log end offset when the last flush.messages fsync began

	waitMu  sync.Mutex
	waiters map[chan struct{}]struct{}

	hwMu    sync.Mutex
	hwMoved chan struct{} // guarded by hwMu: closed and replaced when the high watermark or the role moves while hwWaiters > 0
	// hwWaiters counts acks=all waits in progress, so that an append nobody
	// waits on (acks=1, or acks=all with an ISR of the leader alone) does
	// not replace hwMoved: no channel allocated and no lock per append.
	hwWaiters atomic.Int32

	closeOnce sync.Once
	closed    chan struct{} // closed by Close: acks=all waits end
}

// StandaloneID is the node ID a partition opened by Open leads as, alone.
const StandaloneID = -1

// Open opens (creating or recovering) the partition's log through m,
// restores the producer state and makes it the leader of leaderEpoch with
// no other replica: the high watermark follows the log end at once, as on
// a single node.
func Open(m *storage.Manager, topic string, index int32, topicID [16]byte, leaderEpoch int32, cfg config.Topic, now func() time.Time) (*Partition, error) {
	p, err := OpenReplica(m, topic, index, topicID, cfg, Options{NodeID: StandaloneID, Now: now})
	if err != nil {
		return nil, err
	}
	if err := p.BecomeLeader(leaderEpoch, 0, []int32{StandaloneID}, []int32{StandaloneID}); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// Options are a replica's settings from the broker.
type Options struct {
	NodeID int32 // this broker's node.id
	// ReplicaLagTimeMaxMs is replica.lag.time.max.ms (0: Kafka's 30000).
	ReplicaLagTimeMaxMs int64
	// HighWatermark is the partition's entry in the data directory's
	// replication-offset-checkpoint (ReadHighWatermarks); 0 without one, as
	// Kafka. It is bounded by the log; a leader then moves it by the ISR
	// (alone, at once to the log end).
	HighWatermark int64
	Now           func() time.Time // nil: time.Now
}

// OpenReplica opens (creating or recovering) the partition's log through
// m and restores the producer state. The replica has no role until
// BecomeLeader or BecomeFollower: it takes no produce and serves no read.
func OpenReplica(m *storage.Manager, topic string, index int32, topicID [16]byte, cfg config.Topic, opts Options) (*Partition, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	l, err := m.OpenLog(topic, index, topicID, StorageConfig(cfg))
	if err != nil {
		return nil, err
	}
	p := &Partition{Topic: topic, Index: index, TopicID: topicID, log: l, now: now,
		waiters: make(map[chan struct{}]struct{}), hwMoved: make(chan struct{}), closed: make(chan struct{})}
	p.cfg.Store(&cfg)
	p.fuo.Store(-1)
	if err := p.loadProducers(); err != nil {
		l.Close()
		return nil, err
	}
	epochs, err := readEpochCheckpoint(l.FS(), l.Dir())
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("partition %s-%d: %w", topic, index, err)
	}
	p.replica = NewReplica(opts.NodeID, l.LogStartOffset(), l.LogEndOffset(), opts.HighWatermark, epochs, opts.ReplicaLagTimeMaxMs)
	p.replica.SetMinInsyncReplicas(cfg.MinInsyncReplicas)
	p.leaderEpoch.Store(-1)
	p.hw.Store(p.replica.HighWatermark())
	p.refreshStableLocked()
	p.flushedTo.Store(l.LogEndOffset())
	l.SetActiveProducers(p.lastProducerOffsets)
	// The cleaner stops at the last stable offset, as Kafka's: above the
	// high watermark a follower may still truncate, and must not find the
	// only value of a key gone; above the first unstable offset a
	// transaction is undecided. Retention stops there too (package doc).
	l.SetCleanLimit(p.LastStableOffset)
	l.SetRetentionLimit(p.LastStableOffset)
	return p, nil
}

// lastProducerOffsets tells the log cleaner which batches hold the last
// sequence number of a producer not expired.
func (p *Partition) lastProducerOffsets() map[int64]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.producers.LastOffsets()
}

// StorageConfig maps a topic's resolved configs onto the log's.
func StorageConfig(c config.Topic) storage.Config {
	return storage.Config{
		SegmentBytes:       c.SegmentBytes,
		SegmentMs:          c.SegmentMs,
		IndexIntervalBytes: c.IndexIntervalBytes,
		RetentionMs:        c.RetentionMs,
		RetentionBytes:     c.RetentionBytes,
		// The partition applies flush.messages itself, after releasing its
		// append lock, so that concurrent producers share one fsync.
		FlushMessages: math.MaxInt64,
		FlushMs:       c.FlushMs,

		Compact:                slices.Contains(c.CleanupPolicy, "compact"),
		Delete:                 slices.Contains(c.CleanupPolicy, "delete"),
		DeleteRetentionMs:      c.DeleteRetentionMs,
		MinCleanableDirtyRatio: c.MinCleanableDirtyRatio,
		MinCompactionLagMs:     c.MinCompactionLagMs,
		MaxCompactionLagMs:     c.MaxCompactionLagMs,
	}
}

// loadProducers reads the producer snapshot, if any, and replays the log
// after it (Kafka's loadProducerState), every batch through
// UpdateBatch so that markers end transactions. A missing or corrupt
// snapshot means replaying from the start, and so does one above the
// offset from which the log's aborted-transaction index may lack entries
// (storage.Log.TxnIndexValidFrom: a crash lost them), since the replay
// adds those again, as Kafka's recovery rebuilds a segment's .txnindex
// from the producer state. Only a log whose active segment had aborted
// transactions can lack entries; for one, a crash that follows a clean
// start before its recovery point was checkpointed costs a replay of the
// whole log (the snapshot, taken at the clean close, is above the point);
// Kafka avoids that with a snapshot per segment.
func (p *Partition) loadProducers() error {
	fs := p.log.FS()
	from := p.log.LogStartOffset()
	p.producers = txn.NewProducerState()
	p.snapshotAt = -1
	end := p.log.LogEndOffset()
	validFrom := p.log.TxnIndexValidFrom()
	if b, err := vfs.ReadFile(fs, filepath.Join(p.log.Dir(), snapshotFile)); err == nil {
		if ps, off, err := txn.UnmarshalSnapshot(b); err == nil && off <= end && off >= from && off <= validFrom {
			p.producers, from = ps, off
			if off == end {
				p.snapshotAt = off
			}
		}
	}
	for from < end {
		chunk, err := p.log.Read(from, 1<<20, end)
		if err != nil {
			if errors.Is(err, storage.ErrOffsetOutOfRange) {
				break
			}
			return fmt.Errorf("partition %s-%d: replay producer state: %w", p.Topic, p.Index, err)
		}
		if len(chunk) == 0 {
			break
		}
		next := from
		var aerr error
		batch.Iterate(chunk, func(h batch.Header, raw []byte) bool {
			if h.ProducerID >= 0 {
				aerr = p.trackBatchLocked(h, raw, h.LastOffset() >= validFrom)
			}
			next = h.LastOffset() + 1
			return aerr == nil
		})
		if aerr != nil {
			return fmt.Errorf("partition %s-%d: rebuild the aborted-transaction index: %w", p.Topic, p.Index, aerr)
		}
		if next <= from {
			break
		}
		from = next
	}
	return nil
}

// trackBatchLocked feeds one appended batch (h with its assigned offsets,
// raw its bytes) through the producer state; when it is an ABORT marker
// ending a transaction and index says so, the transaction goes to the
// log's aborted-transaction index with the last stable offset Kafka
// records (UnifiedLog.append: segment.updateTxnIndex). The first unstable
// offset is refreshed before the caller moves the high watermark.
func (p *Partition) trackBatchLocked(h batch.Header, raw []byte, index bool) error {
	done, ended := p.producers.UpdateBatch(h, raw, h.BaseOffset)
	if h.Transactional() || h.Control() {
		p.refreshStableLocked()
	}
	if !ended || !done.Aborted || !index {
		return nil
	}
	return p.log.AddAbortedTxn(storage.AbortedTxn{
		ProducerID:       done.ProducerID,
		FirstOffset:      done.FirstOffset,
		LastOffset:       done.LastOffset,
		LastStableOffset: p.producers.IndexStableOffset(done),
	})
}

// refreshStableLocked publishes the producer state's first unstable offset
// at the current high watermark (p.mu held).
func (p *Partition) refreshStableLocked() {
	p.fuo.Store(p.producers.FirstUnstableOffset(p.hw.Load()))
}

// AppendResult is the outcome of a produce to this partition.
type AppendResult struct {
	BaseOffset int64
	// NextOffset is the offset after the batch's last (-1 if not
	// appended): what an acks=all produce waits for the high watermark to
	// reach (WaitForAcks).
	NextOffset     int64
	LogAppendTime  int64 // -1 unless the topic uses LogAppendTime
	LogStartOffset int64
	ErrorCode      int16
	ErrorMessage   string
	RecordErrors   []batch.RecordError // the refused records, for Produce v8+
}

// Append is AppendAcks with acks=1.
func (p *Partition) Append(records []byte) AppendResult { return p.AppendAcks(records, 1) }

// AppendAcks validates records (one produce request's records for this
// partition), checks them against the producer state and appends them. It
// returns once the data is as durable as the flush policy promises; an
// acks=all producer then waits for the high watermark (WaitForAcks). A
// non-leader answers NOT_LEADER_OR_FOLLOWER, and acks=all with fewer than
// min.insync.replicas in the ISR NOT_ENOUGH_REPLICAS, before appending.
func (p *Partition) AppendAcks(records []byte, acks int16) AppendResult {
	cfg := p.cfg.Load()
	res := AppendResult{BaseOffset: -1, NextOffset: -1, LogAppendTime: -1, LogStartOffset: -1}
	now := p.now().UnixMilli()
	// Validation reads only the request's bytes and the configs, so it runs
	// before the lock: producers to one partition decompress in parallel.
	v := batch.Validate(records, validateOptions(cfg, now))
	if v.Code != 0 {
		res.ErrorCode, res.ErrorMessage, res.RecordErrors = v.Code, v.Message, v.RecordErrors
		return res
	}
	h := v.Header
	if codec, recompress := targetCodec(cfg.CompressionType, h.Codec()); recompress {
		// compression.type names a codec: store batches in it, as Kafka does.
		rebuilt, err := recompressBatch(records, h, codec)
		if err != nil {
			res.ErrorCode, res.ErrorMessage = kerr.CorruptMessage.Code, err.Error()
			return res
		}
		records = rebuilt
	} else if !h.LogAppendTime() && cfg.TimestampType != "LogAppendTime" && h.MaxTimestamp != v.MaxTimestamp {
		// As Kafka, the records' timestamps, not the producer's header, say
		// what the time index holds.
		batch.SetMaxTimestamp(records, v.MaxTimestamp)
		h.MaxTimestamp = v.MaxTimestamp
	}
	p.mu.Lock()
	if code := p.replica.CheckAppend(acks); code != 0 {
		p.mu.Unlock()
		res.ErrorCode = code
		return res
	}
	if h.ProducerID >= 0 {
		check := p.producers.Check(h)
		if check.ErrorCode != 0 {
			p.mu.Unlock()
			res.ErrorCode, res.ErrorMessage = check.ErrorCode, check.Message
			return res
		}
		if check.Duplicate {
			p.mu.Unlock()
			res.BaseOffset = check.FirstOffset
			res.NextOffset = check.FirstOffset + int64(h.LastOffsetDelta) + 1
			res.LogStartOffset = p.log.LogStartOffset()
			return res
		}
	}
	return p.appendAndUnlock(records, h, cfg, now, res)
}

// AppendMarker appends the transaction coordinator's marker ending
// producerID's transaction (commit, or abort) at producerEpoch from a
// coordinator of coordinatorEpoch: a control batch (transactional, one
// txn.MarkerRecord) as Kafka's ReplicaManager.appendRecords with
// AppendOrigin.COORDINATOR and acks=all writes it. The leader alone takes
// it (NOT_LEADER_OR_FOLLOWER), with at least min.insync.replicas in the
// ISR (NOT_ENOUGH_REPLICAS); the producer state refuses an older producer
// epoch (INVALID_PRODUCER_EPOCH) and an older coordinator epoch than the
// last marker's for the producer (TRANSACTION_COORDINATOR_FENCED). An
// ABORT of an open transaction goes to the aborted-transaction index. As
// an acks=all produce, the caller then waits for the high watermark to
// pass it (WaitForAcks with NextOffset): until then the transaction is
// not decided for a read_committed consumer either. The producer epoch is
// checked as for transactions v0/v1 (AppendMarkerVersion for others).
func (p *Partition) AppendMarker(producerID int64, producerEpoch int16, coordinatorEpoch int32, commit bool) AppendResult {
	return p.AppendMarkerVersion(producerID, producerEpoch, coordinatorEpoch, commit, 0)
}

// AppendMarkerVersion is AppendMarker for a transaction of
// transactionVersion (WriteTxnMarkers v2's TransactionVersion): from 2 on
// the marker's producer epoch must be above the producer's
// (txn.ProducerState.CheckMarker).
func (p *Partition) AppendMarkerVersion(producerID int64, producerEpoch int16, coordinatorEpoch int32, commit bool, transactionVersion int8) AppendResult {
	cfg := p.cfg.Load()
	res := AppendResult{BaseOffset: -1, NextOffset: -1, LogAppendTime: -1, LogStartOffset: -1}
	now := p.now().UnixMilli()
	marker := txn.MarkerRecord(txn.Marker{Commit: commit, CoordinatorEpoch: coordinatorEpoch})
	marker.Timestamp = now
	records := batch.Build(batch.BuildOptions{
		ProducerID:    producerID,
		ProducerEpoch: producerEpoch,
		BaseSequence:  -1,
		Transactional: true,
		Control:       true,
	}, []batch.Record{marker})
	h, err := batch.ParseHeader(records)
	if err != nil {
		panic(err) // Build wrote it
	}
	p.mu.Lock()
	if code := p.replica.CheckAppend(-1); code != 0 {
		p.mu.Unlock()
		res.ErrorCode = code
		return res
	}
	if check := p.producers.CheckMarker(producerID, producerEpoch, coordinatorEpoch, transactionVersion); check.ErrorCode != 0 {
		p.mu.Unlock()
		res.ErrorCode, res.ErrorMessage = check.ErrorCode, check.Message
		return res
	}
	return p.appendAndUnlock(records, h, cfg, now, res)
}

// AppendCoordinator appends a batch a coordinator of this broker built
// for one of its internal partitions on behalf of a producer (the group
// coordinator's transactional offset commits: transactional, sequence -1),
// as Kafka's appendRecords with AppendOrigin.COORDINATOR and acks=all
// without waiting: leader only (NOT_LEADER_OR_FOLLOWER), at least
// min.insync.replicas in the ISR (NOT_ENOUGH_REPLICAS), an older producer
// epoch refused (INVALID_PRODUCER_EPOCH), no sequence check. The producer
// state tracks the batch, so the transaction's marker ends it and the LSO
// waits for it. The caller waits for the high watermark (WaitForAcks).
func (p *Partition) AppendCoordinator(records []byte) AppendResult {
	cfg := p.cfg.Load()
	res := AppendResult{BaseOffset: -1, NextOffset: -1, LogAppendTime: -1, LogStartOffset: -1}
	now := p.now().UnixMilli()
	h, err := batch.ParseHeader(records)
	if err != nil {
		res.ErrorCode, res.ErrorMessage = kerr.CorruptMessage.Code, err.Error()
		return res
	}
	p.mu.Lock()
	if code := p.replica.CheckAppend(-1); code != 0 {
		p.mu.Unlock()
		res.ErrorCode = code
		return res
	}
	if check := p.producers.CheckCoordinator(h); check.ErrorCode != 0 {
		p.mu.Unlock()
		res.ErrorCode, res.ErrorMessage = check.ErrorCode, check.Message
		return res
	}
	return p.appendAndUnlock(records, h, cfg, now, res)
}

// appendAndUnlock appends records, one batch checked against the replica
// and the producer state (h its header), with p.mu held, and releases it:
// the producer state, the replica and the flush policy follow.
func (p *Partition) appendAndUnlock(records []byte, h batch.Header, cfg *config.Topic, now int64, res AppendResult) AppendResult {
	if cfg.TimestampType == "LogAppendTime" {
		batch.SetLogAppendTime(records, now)
		res.LogAppendTime = now
	}
	batch.SetPartitionLeaderEpoch(records, p.replica.LeaderEpoch())
	ar, err := p.log.Append(records)
	if err != nil {
		p.failOnDiskErrorLocked(err)
		p.mu.Unlock()
		res.ErrorCode, res.ErrorMessage = kerr.KafkaStorageError.Code, err.Error()
		if errors.Is(err, storage.ErrClosed) {
			// The topic went meanwhile (or the broker is stopping): not a
			// disk problem.
			res.ErrorCode = kerr.NotLeaderForPartition.Code
		}
		return res
	}
	if h.ProducerID >= 0 {
		h.BaseOffset = ar.FirstOffset
		err = p.trackBatchLocked(h, records, true)
	}
	if err == nil {
		err = p.applyLocked(p.replica.AppendAsLeader(now, ar.FirstOffset, ar.LastOffset+1))
	}
	p.failOnDiskErrorLocked(err)
	p.mu.Unlock()
	p.wake()
	if err != nil {
		res.ErrorCode, res.ErrorMessage = kerr.KafkaStorageError.Code, err.Error()
		return res
	}

	if err := p.flushMessages(ar.LastOffset+1, cfg.FlushMessages); err != nil {
		res.ErrorCode, res.ErrorMessage = kerr.KafkaStorageError.Code, err.Error()
		return res
	}
	res.BaseOffset, res.NextOffset = ar.FirstOffset, ar.LastOffset+1
	res.LogStartOffset = ar.LogStartOffset
	return res
}

// flushMessages applies flush.messages after an append that ended at end:
// fsync once that many messages are unflushed. The fsync runs outside mu,
// and Flush itself merges concurrent callers into one fsync (group commit).
func (p *Partition) flushMessages(end, flushMessages int64) error {
	if end-p.flushedTo.Load() < flushMessages {
		return nil
	}
	if err := p.log.Flush(); err != nil {
		p.mu.Lock()
		p.failOnDiskErrorLocked(err)
		p.mu.Unlock()
		return err
	}
	for {
		cur := p.flushedTo.Load()
		if cur >= end || p.flushedTo.CompareAndSwap(cur, end) {
			return nil
		}
	}
}

// validateOptions are the checks the topic's configs ask of a produced batch.
func validateOptions(cfg *config.Topic, now int64) batch.ValidateOptions {
	return batch.ValidateOptions{
		MaxBatchBytes: cfg.MaxMessageBytes,
		Compacted:     slices.Contains(cfg.CleanupPolicy, "compact"),
		Timestamps:    true,
		LogAppendTime: cfg.TimestampType == "LogAppendTime",
		Now:           now,
		BeforeMaxMs:   cfg.MessageTimestampBeforeMaxMs,
		AfterMaxMs:    cfg.MessageTimestampAfterMaxMs,
	}
}

// Read returns whole batches from offset up to maxBytes, bounded by the
// high watermark, for a consumer. A closed partition returns ErrClosed, a
// replica that is not the leader ErrNotLeader.
func (p *Partition) Read(offset int64, maxBytes int32) ([]byte, error) {
	return p.ReadFor(false, offset, maxBytes)
}

// ReadRegion is Read as a file region, for sendfile.
func (p *Partition) ReadRegion(offset int64, maxBytes int32) (storage.Region, error) {
	return p.ReadRegionFor(false, offset, maxBytes)
}

// ReadFor is Read, or with follower a follower's read: bounded by the log
// end offset, not the high watermark (a follower copies what the leader
// has; the high watermark moves once the followers have it).
func (p *Partition) ReadFor(follower bool, offset int64, maxBytes int32) ([]byte, error) {
	return p.ReadBounded(readBound(follower), offset, maxBytes)
}

// ReadRegionFor is ReadFor as a file region, for sendfile.
func (p *Partition) ReadRegionFor(follower bool, offset int64, maxBytes int32) (storage.Region, error) {
	return p.ReadRegionBounded(readBound(follower), offset, maxBytes)
}

// Bound says where a leader's read stops, by who reads (Kafka's
// FetchIsolation).
type Bound int8

const (
	// HighWatermarkBound: a read_uncommitted consumer's read stops at the
	// high watermark.
	HighWatermarkBound Bound = iota
	// StableBound: a read_committed consumer's read stops at the last
	// stable offset.
	StableBound
	// LogEndBound: a follower's read stops at the log end.
	LogEndBound
)

func readBound(follower bool) Bound {
	if follower {
		return LogEndBound
	}
	return HighWatermarkBound
}

// ReadBounded is Read stopping where bound says.
func (p *Partition) ReadBounded(bound Bound, offset int64, maxBytes int32) ([]byte, error) {
	end, err := p.readEnd(bound)
	if err != nil {
		return nil, err
	}
	b, err := p.log.Read(offset, maxBytes, end)
	return b, closedErr(err)
}

// ReadRegionBounded is ReadBounded as a file region, for sendfile.
func (p *Partition) ReadRegionBounded(bound Bound, offset int64, maxBytes int32) (storage.Region, error) {
	end, err := p.readEnd(bound)
	if err != nil {
		return storage.Region{}, err
	}
	r, err := p.log.ReadRegion(offset, maxBytes, end)
	return r, closedErr(err)
}

// readEnd is the offset a leader's read stops at: the high watermark or
// the last stable offset for a consumer, the log end for a follower.
func (p *Partition) readEnd(bound Bound) (int64, error) {
	if err := p.log.Failed(); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrOffline, err)
	}
	if Role(p.role.Load()) != RoleLeader {
		return 0, ErrNotLeader
	}
	switch bound {
	case LogEndBound:
		return p.log.LogEndOffset(), nil
	case StableBound:
		return p.LastStableOffset(), nil
	}
	return p.hw.Load(), nil
}

// closedErr turns the closed log's error into ErrClosed.
func closedErr(err error) error {
	if errors.Is(err, storage.ErrClosed) {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return err
}

// HighWatermark is the offset below which records are committed.
func (p *Partition) HighWatermark() int64 { return p.hw.Load() }

// LastStableOffset is the offset below which every transaction is decided
// and committed to the ISR: min(high watermark, first unstable offset), as
// Kafka's UnifiedLog.lastStableOffset. A read_committed consumer reads up
// to it. A first unstable offset below the log start (its transaction's
// first records were deleted: only a follower following its leader's log
// start, or a truncation, can do that) counts as the log start, as
// Kafka's maybeIncrementFirstUnstableOffset has it. It takes no lock.
func (p *Partition) LastStableOffset() int64 {
	hw := p.hw.Load()
	f := p.fuo.Load()
	if f < 0 {
		return hw
	}
	return min(hw, max(f, p.log.LogStartOffset()))
}

// LogStartOffset is the first offset still readable.
func (p *Partition) LogStartOffset() int64 { return p.log.LogStartOffset() }

// LogEndOffset is the next offset to be written.
func (p *Partition) LogEndOffset() int64 { return p.log.LogEndOffset() }

// LeaderEpoch is the current leader epoch.
func (p *Partition) LeaderEpoch() int32 { return p.leaderEpoch.Load() }

// Size is the partition's size on disk.
func (p *Partition) Size() int64 { return p.log.Size() }

// Config returns the topic configs in force.
func (p *Partition) Config() config.Topic { return *p.cfg.Load() }

// SetConfig applies new topic configs at once.
func (p *Partition) SetConfig(cfg config.Topic) {
	p.cfg.Store(&cfg)
	p.log.SetConfig(StorageConfig(cfg))
	p.mu.Lock()
	p.replica.SetMinInsyncReplicas(cfg.MinInsyncReplicas)
	p.mu.Unlock()
}

// DeleteRecords moves the log start offset to offset (-1 means the high
// watermark) and returns the new low watermark. An offset past the last
// stable offset (but not the high watermark) stops there: the log start
// never passes the first offset of an open transaction.
func (p *Partition) DeleteRecords(offset int64) (int64, int16) {
	p.mu.Lock()
	defer p.mu.Unlock()
	hw := p.hw.Load()
	if offset == -1 {
		offset = hw
	}
	if offset < 0 || offset > hw {
		return -1, kerr.OffsetOutOfRange.Code
	}
	offset = min(offset, p.LastStableOffset())
	if err := p.moveLogStartLocked(offset); err != nil {
		return -1, kerr.KafkaStorageError.Code
	}
	return p.log.LogStartOffset(), 0
}

// moveLogStartLocked moves the log start up to offset (at most the log
// end; the caller bounds it by the high watermark): records below it are
// deleted, and the producer state and the epoch cache drop what went with
// them. p.mu is held.
func (p *Partition) moveLogStartLocked(offset int64) error {
	if offset > p.log.LogStartOffset() {
		if err := p.log.DeleteRecordsBefore(offset); err != nil {
			return closedErr(err)
		}
	}
	start := p.log.LogStartOffset()
	p.producers.TruncateBefore(start)
	p.refreshStableLocked()
	return p.applyLocked(p.replica.SetLogStartOffset(start))
}

// ExpireProducers forgets idempotent producers whose last write is older
// than expiration (producer.id.expiration.ms) and producers whose batches
// all lie below the log start offset (removed by retention).
func (p *Partition) ExpireProducers(now time.Time, expiration time.Duration) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	// Retention moved the log start in the background: the epoch cache
	// drops what went with it (a failed checkpoint write is retried with
	// the next change).
	_ = p.applyLocked(p.replica.SetLogStartOffset(p.log.LogStartOffset()))
	n := p.producers.TruncateBefore(p.log.LogStartOffset())
	n += p.producers.RemoveExpired(now.UnixMilli(), expiration.Milliseconds())
	p.refreshStableLocked()
	return n
}

// Producers lists the idempotent producers with state in this partition.
func (p *Partition) Producers() []txn.ProducerEntry {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.producers.Producers()
}

// Close snapshots the producer state (unless nothing was appended since the
// snapshot on disk: expiring producers alone does not need one, and a
// failed log's state is not to be trusted: the next open replays the log
// it recovers), closes the
// log and then wakes the parked fetches: in that order, a fetch woken reads
// the closed log (ErrClosed) and is answered at once, and one that parks
// later reads it before waiting.
func (p *Partition) Close() error {
	p.mu.Lock()
	var err error
	if end := p.log.LogEndOffset(); end != p.snapshotAt && p.log.Failed() == nil {
		err = p.log.WriteFile(snapshotFile, p.producers.MarshalSnapshot(end))
	}
	if cerr := p.log.Close(); err == nil {
		err = cerr
	}
	p.mu.Unlock()
	p.closeOnce.Do(func() { close(p.closed) })
	p.wake()
	return err
}

// Waiter is signalled when data is appended to any partition it watches.
type Waiter chan struct{}

// NewWaiter returns a waiter for long-polling fetches.
func NewWaiter() Waiter { return make(Waiter, 1) }

// Watch registers w to be signalled on the next append.
func (p *Partition) Watch(w Waiter) {
	p.waitMu.Lock()
	p.waiters[w] = struct{}{}
	p.waitMu.Unlock()
}

// Unwatch removes w.
func (p *Partition) Unwatch(w Waiter) {
	p.waitMu.Lock()
	delete(p.waiters, w)
	p.waitMu.Unlock()
}

func (p *Partition) wake() {
	p.waitMu.Lock()
	for w := range p.waiters {
		select {
		case w <- struct{}{}:
		default:
		}
	}
	p.waitMu.Unlock()
}

// FindBatchByTimestamp returns the first batch whose max timestamp is at or
// after ts.
func (p *Partition) FindBatchByTimestamp(ts int64) ([]byte, bool, error) {
	return p.log.FindBatchByTimestamp(ts)
}

// MaxTimestampBatch returns the batch holding the log's largest timestamp.
func (p *Partition) MaxTimestampBatch() ([]byte, bool, error) {
	return p.log.MaxTimestampBatch()
}

// targetCodec maps the topic's compression.type to the codec batches must
// be stored in; recompress is false for "producer" or a batch already in it.
func targetCodec(compressionType string, have batch.Codec) (batch.Codec, bool) {
	var want batch.Codec
	switch compressionType {
	case "uncompressed":
		want = batch.None
	case "gzip":
		want = batch.Gzip
	case "snappy":
		want = batch.Snappy
	case "lz4":
		want = batch.LZ4
	case "zstd":
		want = batch.Zstd
	default:
		return have, false
	}
	return want, want != have
}

// recompressBatch decodes one validated batch and encodes its records again
// with codec, keeping the producer fields, attributes and timestamps.
func recompressBatch(b []byte, h batch.Header, codec batch.Codec) ([]byte, error) {
	recs, err := batch.Records(b)
	if err != nil {
		return nil, fmt.Errorf("recompressing batch: %w", err)
	}
	return batch.Build(batch.BuildOptions{
		Codec:         codec,
		ProducerID:    h.ProducerID,
		ProducerEpoch: h.ProducerEpoch,
		BaseSequence:  h.BaseSequence,
		Transactional: h.Transactional(),
		LogAppendTime: h.LogAppendTime(),
	}, recs), nil
}

// AbortedTxns returns the aborted transactions overlapping the offsets
// [from, upTo), for a read_committed fetch of that range
// (storage.Log.AbortedTxns).
func (p *Partition) AbortedTxns(from, upTo int64) ([]storage.AbortedTxn, error) {
	txns, err := p.log.AbortedTxns(from, upTo)
	return txns, closedErr(err)
}
