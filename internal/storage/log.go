package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// Log is one partition's log: a directory of segments. Appends are serialised by
// one mutex; reads, LogEndOffset and LogStartOffset do not wait for appends.
type Log struct {
	topic     string
	partition int32
	dir       string
	fs        vfs.FS
	now       func() time.Time
	logger    *slog.Logger
	handles   *handleCache
	m         *Manager
	// trustClean says the files may be trusted as closed cleanly (Manager.claim).
	trustClean bool

	leo        atomic.Int64
	logStart   atomic.Int64
	closedFlag atomic.Bool
	failedFlag atomic.Bool // failed is set: Failed reads it without the lock
	// dirty says the files differ from what the recovery-point file describes
	// as clean (appended, rolled, recovered or created since open): Close has
	// to write them. A log opened clean and left alone closes without a write.
	dirty atomic.Bool

	// Lock order: mu, then ckMu, flushMu or handles.mu; never the reverse.
	mu               sync.Mutex
	cfg              Config
	segments         []*segment // by base offset; the last is the active one
	active           *activeSegment
	closed           bool
	failed           error        // a write or sync failed: appends and flushes refuse
	unsynced         unsyncedBits // what of a new directory is not durable yet
	appendedMessages int64
	flushedMessages  int64                    // appendedMessages when the last flush started
	firstDirty       int64                    // the cleaner cleaned the offsets below
	tombstoneHorizon int64                    // ms: a cleaning pass is due then to drop tombstones
	swapHook         func(point string) error // tests: fail at a named point of a swap
	activeProducers  func() map[int64]int64   // see SetActiveProducers
	cleanLimit       func() int64             // see SetCleanLimit
	retentionLimit   func() int64             // see SetRetentionLimit
	txnUnsynced      bool                     // the active segment's .txnindex has entries not synced
	txnValidFrom     int64                    // see TxnIndexValidFrom

	ckMu         sync.Mutex // serialises writes of the recovery-point file
	checkpointed int64      // recovery point last written; guarded by ckMu
	// truncations counts TruncateTo and TruncateFullyAndStartAt calls that
	// changed the log; written with mu, ckMu and flushMu held, so any of them
	// reads it. A flush or checkpoint that began before one does not raise
	// the flushed offset or the recovery point past what the truncation left.
	truncations uint64

	flushMu   sync.Mutex
	flushCond *sync.Cond
	flushing  bool
	flushedTo int64 // every offset below is synced
	lastFlush time.Time
}

// activeSegment is the segment appends go to, with its indexes in memory (they
// are written to disk when it rolls or the log closes). Its write handle comes
// from the Manager's handleCache, opened by the first append and closed when
// evicted; a flush holds it while it syncs outside Log.mu.
type activeSegment struct {
	seg      *segment
	idx      *indexBuilder
	rollBase int64 // ms: when the first batch was appended (or its timestamp after a restart); -1 if empty
}

// unsyncedBits say what of a newly created log directory was not synced.
type unsyncedBits uint8

const (
	unsyncedMeta   unsyncedBits = 1 << iota // partition.metadata's content
	unsyncedDir                             // the entries of the log directory
	unsyncedParent                          // the log directory's entry in the data directory
)

// syncDirsLocked makes a new log directory durable, once: before the first
// flush, roll or clean close, which promise that data in it survives a crash.
func (l *Log) syncDirsLocked() error {
	if l.unsynced == 0 {
		return nil
	}
	if l.unsynced&unsyncedMeta != 0 {
		f, err := l.fs.OpenFile(filepath.Join(l.dir, partitionMetaFile), os.O_RDWR, 0)
		if err != nil {
			return l.failLocked(err)
		}
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return l.failLocked(err)
		}
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		return l.failLocked(err)
	}
	if l.unsynced&unsyncedParent != 0 {
		if err := l.fs.SyncDir(filepath.Dir(l.dir)); err != nil {
			return l.failLocked(err)
		}
	}
	l.unsynced = 0
	return nil
}

// AppendResult tells where Append put the batches.
type AppendResult struct {
	FirstOffset, LastOffset int64
	LogStartOffset          int64
}

// batchSet is what checkBatches found in the bytes of an append.
type batchSet struct {
	records int64 // records in all batches
	span    int64 // sum of the batches' offset spans
	// first and last are the first batch's base offset and the last batch's
	// last offset as the bytes carry them (meaningful for a follower's append).
	first, last int64
}

// checkBatches walks whole v2 batches; with assigned, their offsets must
// also increase from batch to batch (a leader's batches, gaps allowed).
func checkBatches(b []byte, assigned bool) (batchSet, error) {
	var s batchSet
	if len(b) == 0 {
		return s, fmt.Errorf("%w: no batches", ErrInvalidBatch)
	}
	for pos := 0; pos < len(b); {
		h, err := parseHeader(b[pos:])
		if err != nil {
			return s, fmt.Errorf("%w: %w", ErrInvalidBatch, err)
		}
		if h.Size() > len(b)-pos {
			return s, fmt.Errorf("%w: batch of %d bytes in %d", ErrInvalidBatch, h.Size(), len(b)-pos)
		}
		if pos == 0 {
			s.first = h.BaseOffset
		} else if assigned && h.BaseOffset <= s.last {
			return s, fmt.Errorf("%w: batch at offset %d overlaps the one before, ending at %d", ErrOffsetOrder, h.BaseOffset, s.last)
		}
		s.records += int64(h.NumRecords)
		s.span += int64(h.LastOffsetDelta) + 1
		s.last = h.LastOffset()
		pos += h.Size()
	}
	return s, nil
}

// Append writes batches (one or more consecutive, already validated v2
// batches) at the log end: it rewrites each batch's baseOffset in place (the CRC
// does not cover it), writes the bytes to the active segment (rolling first if
// the segment would exceed SegmentBytes or is older than SegmentMs), updates the
// indexes and applies flush.messages. If the write fails the segment is
// truncated back; if that fails too, the log refuses further appends.
func (l *Log) Append(batches []byte) (AppendResult, error) {
	return l.append(batches, false)
}

// AppendAsFollower writes batches whose offsets the leader assigned, as they
// are (Kafka's appendAsFollower): the first batch's base offset must be at or
// above the log end offset and each batch must start after the one before
// ends. Gaps are allowed (a compacted leader's log has them); the log end
// offset becomes the last batch's last offset plus one. Batches below the log
// end or overlapping are refused with ErrOffsetOrder and nothing is written.
// Everything else is Append's.
func (l *Log) AppendAsFollower(batches []byte) (AppendResult, error) {
	return l.append(batches, true)
}

// append is Append, or with assigned AppendAsFollower.
func (l *Log) append(batches []byte, assigned bool) (AppendResult, error) {
	bs, err := checkBatches(batches, assigned)
	if err != nil {
		return AppendResult{}, err
	}
	l.mu.Lock()
	if err := l.usableLocked(); err != nil {
		l.mu.Unlock()
		return AppendResult{}, err
	}
	first, last := l.leo.Load(), l.leo.Load()+bs.span-1
	if assigned {
		if bs.first < first {
			l.mu.Unlock()
			return AppendResult{}, fmt.Errorf("%w: batch at offset %d is below the log end offset %d", ErrOffsetOrder, bs.first, first)
		}
		first, last = bs.first, bs.last
	}
	if l.shouldRollLocked(int64(len(batches)), last, l.now().UnixMilli()) {
		if err := l.rollLocked(); err != nil {
			l.mu.Unlock()
			return AppendResult{}, err
		}
	}
	a := l.active
	if a.seg.size+int64(len(batches)) > math.MaxInt32 || last-a.seg.base > math.MaxInt32 {
		l.mu.Unlock()
		return AppendResult{}, fmt.Errorf("%w: %d bytes do not fit a segment", ErrInvalidBatch, len(batches))
	}
	h, err := l.handles.acquireWrite(a.seg.logPath)
	if err != nil {
		l.mu.Unlock()
		return AppendResult{}, fmt.Errorf("storage: append to %s: %w", l.dir, err)
	}
	next := last + 1
	if !assigned {
		next = first
		for pos := 0; pos < len(batches); {
			batch.SetBaseOffset(batches[pos:], next)
			h, _ := batch.ParseHeader(batches[pos:]) // checked by checkBatches
			next = h.LastOffset() + 1
			pos += h.Size()
		}
	}
	l.dirty.Store(true)
	_, err = h.f.Write(batches)
	if err != nil {
		err = l.writeFailedLocked(h.f, err)
	}
	l.handles.release(h)
	if err != nil {
		l.mu.Unlock()
		return AppendResult{}, err
	}
	if a.rollBase < 0 {
		a.rollBase = l.now().UnixMilli()
	}
	for pos := 0; pos < len(batches); {
		h, _ := batch.ParseHeader(batches[pos:])
		a.idx.add(h, a.seg.size+int64(pos))
		pos += h.Size()
	}
	a.seg.size += int64(len(batches))
	l.leo.Store(next)
	l.appendedMessages += bs.records
	flush := l.appendedMessages-l.flushedMessages >= l.cfg.FlushMessages
	res := AppendResult{FirstOffset: first, LastOffset: next - 1, LogStartOffset: l.logStart.Load()}
	l.mu.Unlock()
	if flush {
		if err := l.Flush(); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (l *Log) usableLocked() error {
	if l.closed {
		return ErrClosed
	}
	return l.failed
}

func (l *Log) shouldRollLocked(n, lastOffset, nowMs int64) bool {
	a := l.active
	if a.seg.size == 0 {
		return false
	}
	return a.seg.size+n > l.cfg.SegmentBytes ||
		(a.rollBase >= 0 && nowMs-a.rollBase > l.rollMsLocked()) ||
		lastOffset-a.seg.base > math.MaxInt32
}

// failLocked puts the log in the failed state: after a failed write that could
// not be undone or a failed fsync, what the files hold is unknown. The
// Manager's OnFailure hears of it once.
func (l *Log) failLocked(err error) error {
	if l.failed == nil {
		l.failed = fmt.Errorf("storage: log %s failed: %w", l.dir, err)
		l.failedFlag.Store(true)
		l.logger.Error("log failed", "dir", l.dir, "err", err)
		if l.m.onFailure != nil {
			l.m.onFailure(l.topic, l.partition, l.failed)
		}
	}
	return l.failed
}

// Fail puts the log in the failed state for err, as a failed fsync does:
// from then on it refuses appends, truncations and deletions, its
// Close writes nothing and does not vouch for it (the next start recovers
// it as after a crash), and Failed returns the error. The caller decided
// that err, a write the log itself undid (a full disk), leaves it unfit
// to serve (a replica then stops: package partition). A log already
// failed keeps its first error.
func (l *Log) Fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failLocked(err)
}

// Failed returns why the log failed, or nil. It takes the log's lock only
// once the log has failed.
func (l *Log) Failed() error {
	if !l.failedFlag.Load() {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failed
}

func (l *Log) writeFailedLocked(f vfs.File, err error) error {
	if terr := f.Truncate(l.active.seg.size); terr != nil {
		l.failLocked(errors.Join(err, terr))
	}
	return fmt.Errorf("storage: append to %s: %w", l.dir, err)
}

// rollLocked finishes the active segment (syncs it, writes its indexes) and
// starts a new one at the log end offset.
func (l *Log) rollLocked() error {
	a := l.active
	l.dirty.Store(true)
	if err := l.syncDirsLocked(); err != nil {
		return err
	}
	if err := l.syncActiveLocked(); err != nil {
		return err
	}
	if err := l.syncTxnIndexLocked(); err != nil {
		return err
	}
	x := a.idx.finish()
	if err := writeIndexFiles(l.fs, a.seg, x, true); err != nil {
		return l.failLocked(err)
	}
	base := l.leo.Load()
	na, err := l.createSegmentLocked(base, true)
	if err != nil {
		return l.failLocked(err)
	}
	a.seg.index.Store(x)
	l.handles.dropWrite(a.seg.logPath)
	l.segments = append(l.segments, na.seg)
	l.active = na
	l.flushMu.Lock()
	l.flushedTo = max(l.flushedTo, base)
	l.flushMu.Unlock()
	return nil
}

// createSegmentLocked creates an empty segment file at base and returns it as
// the active segment. With sync it is durable in the directory (with every
// other entry created in it so far); else the directory is left to
// syncDirsLocked.
func (l *Log) createSegmentLocked(base int64, sync bool) (*activeSegment, error) {
	s := newSegment(l.dir, base)
	// Index files left by an older segment of the same name are stale.
	s.setTxns(nil)
	for _, p := range []string{s.indexPath, s.timePath, s.txnPath} {
		if err := l.fs.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	f, err := l.fs.OpenFile(s.logPath, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	if !sync {
		l.unsynced |= unsyncedDir
	} else if err := l.fs.SyncDir(l.dir); err != nil {
		return nil, err
	}
	l.dirty.Store(true)
	return &activeSegment{seg: s, idx: newIndexBuilder(base, l.cfg.IndexIntervalBytes), rollBase: -1}, nil
}

// syncActiveLocked fsyncs the active segment unless everything in it is
// synced already (so a log left alone opens no handle).
func (l *Log) syncActiveLocked() error {
	l.flushMu.Lock()
	synced := l.flushedTo >= l.leo.Load()
	l.flushMu.Unlock()
	if synced {
		return nil
	}
	h, err := l.handles.acquireWrite(l.active.seg.logPath)
	if err != nil {
		return l.failLocked(err)
	}
	err = h.f.Sync()
	l.handles.release(h)
	if err != nil {
		return l.failLocked(err)
	}
	return nil
}

// Flush fsyncs everything appended so far. Concurrent callers share fsyncs: a
// caller that arrives while one runs waits for it and, if its data was
// appended after that fsync started, joins the next one.
func (l *Log) Flush() error {
	target := l.leo.Load()
	l.flushMu.Lock()
	for {
		if l.flushedTo >= target {
			l.flushMu.Unlock()
			return nil
		}
		if !l.flushing {
			break
		}
		l.flushCond.Wait()
	}
	l.flushing = true
	l.flushMu.Unlock()

	upTo, gen, err := l.syncActive()

	l.flushMu.Lock()
	l.flushing = false
	if err == nil {
		l.flushedLocked(upTo, gen)
	}
	l.flushCond.Broadcast()
	l.flushMu.Unlock()
	return err
}

// flushedLocked records, with flushMu held, that an fsync begun when the
// log had had gen truncations made every offset below upTo durable: unless
// a truncation came meanwhile, whose offsets upTo may no longer describe.
func (l *Log) flushedLocked(upTo int64, gen uint64) {
	if gen == l.truncations {
		l.flushedTo = max(l.flushedTo, upTo)
		l.lastFlush = l.now()
	}
}

// syncActive fsyncs the active segment outside mu and returns the offset below
// which everything is durable, with the count of truncations at the time.
// Inactive segments were synced when they rolled.
func (l *Log) syncActive() (int64, uint64, error) {
	l.mu.Lock()
	if err := l.usableLocked(); err != nil {
		l.mu.Unlock()
		return 0, 0, err
	}
	if err := l.syncDirsLocked(); err != nil {
		l.mu.Unlock()
		return 0, 0, err
	}
	h, err := l.handles.acquireWrite(l.active.seg.logPath)
	if err != nil {
		l.mu.Unlock()
		return 0, 0, fmt.Errorf("storage: flush %s: %w", l.dir, err)
	}
	upTo, gen := l.leo.Load(), l.truncations
	l.flushedMessages = l.appendedMessages
	txnPath := ""
	if l.txnUnsynced {
		// Cleared before the sync: an entry added meanwhile sets it again.
		txnPath, l.txnUnsynced = l.active.seg.txnPath, false
	}
	l.mu.Unlock()

	err = h.f.Sync()
	l.handles.release(h)
	if err == nil && txnPath != "" {
		err = syncFile(l.fs, txnPath)
	}
	if err != nil {
		l.mu.Lock()
		defer l.mu.Unlock()
		return 0, 0, l.failLocked(err)
	}
	return upTo, gen, nil
}

const (
	recoveryPointFile  = "recovery-point"
	logStartOffsetFile = "log-start-offset"
	partitionMetaFile  = "partition.metadata"
)

// writeRecoveryPoint records durably that every offset below offset is synced
// and verified, and whether the log was closed cleanly (informative: the
// Manager decides what is trusted).
func (l *Log) writeRecoveryPoint(offset int64, clean bool) error {
	l.ckMu.Lock()
	defer l.ckMu.Unlock()
	if !clean && l.closedFlag.Load() {
		return nil // Close wrote the final one.
	}
	rp := recoveryPoint{offset: offset, clean: clean}
	if err := vfs.WriteFileAtomic(l.fs, l.dir, filepath.Join(l.dir, recoveryPointFile), encodeRecoveryPoint(rp)); err != nil {
		return err
	}
	l.checkpointed = offset
	return nil
}

// writeRecoveryPointLocked writes an unclean recovery point with ckMu held
// (a truncation lowering it).
func (l *Log) writeRecoveryPointLocked(offset int64) error {
	rp := recoveryPoint{offset: offset}
	if err := vfs.WriteFileAtomic(l.fs, l.dir, filepath.Join(l.dir, recoveryPointFile), encodeRecoveryPoint(rp)); err != nil {
		return err
	}
	l.checkpointed = offset
	return nil
}

// checkpoint writes the recovery point if flushes advanced it; the Manager calls
// it periodically, so recovery after a crash scans less.
func (l *Log) checkpoint() error {
	l.flushMu.Lock()
	flushed, gen := l.flushedTo, l.truncations
	l.flushMu.Unlock()
	l.ckMu.Lock()
	defer l.ckMu.Unlock()
	if flushed <= l.checkpointed || gen != l.truncations || l.closedFlag.Load() {
		return nil // nothing new, or a truncation lowered it meanwhile
	}
	return l.writeRecoveryPointLocked(flushed)
}

// Close flushes the log, writes the active segment's indexes and records a
// clean shutdown, so the next open does not rescan. A log opened clean and
// left alone writes nothing. Once the Manager is shutting down (BeginShutdown)
// the writes are not synced: Manager.Close syncs them all at once.
func (l *Log) Close() error { return l.close(true) }

// close closes the log; with clean false it only releases handles (the log is
// being deleted).
func (l *Log) close(clean bool) (err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	l.closedFlag.Store(true)
	defer l.handles.invalidate(l.dir)
	if !clean {
		return nil
	}
	defer func() { l.m.logClosed(l.dir, err == nil) }()
	if l.failed != nil {
		return l.failed
	}
	if !l.dirty.Load() {
		return nil
	}
	// An active segment without offset entries is small: the next open scans
	// it whole, so its index files are not worth writing.
	a := l.active
	if l.m.deferSyncs() {
		// Manager.Close syncs everything, then its clean-shutdown mark vouches
		// for this log: the recovery point (a lower bound) can stay as it is.
		if len(a.idx.offsets) == 0 {
			return nil
		}
		return writeIndexFiles(l.fs, a.seg, a.idx.finish(), false)
	}
	if err := l.syncDirsLocked(); err != nil {
		return err
	}
	if err := l.syncActiveLocked(); err != nil {
		return err
	}
	if err := l.syncTxnIndexLocked(); err != nil {
		return err
	}
	if len(a.idx.offsets) > 0 {
		if err := writeIndexFiles(l.fs, a.seg, a.idx.finish(), true); err != nil {
			return err
		}
	}
	l.ckMu.Lock()
	l.checkpointed = -1
	l.ckMu.Unlock()
	return l.writeRecoveryPoint(l.leo.Load(), true)
}

// WriteFile replaces the small file name of the log's directory (a producer
// snapshot) atomically: durable when it returns or, once the Manager is
// shutting down, when Manager.Close returns. Readers must check its content
// (a crash during shutdown can leave it empty).
func (l *Log) WriteFile(name string, data []byte) error {
	path := filepath.Join(l.dir, name)
	if l.m.deferSyncs() {
		return vfs.ReplaceFile(l.fs, path, data)
	}
	return vfs.WriteFileAtomic(l.fs, l.dir, path, data)
}

// LogStartOffset returns the first offset readable.
func (l *Log) LogStartOffset() int64 { return l.logStart.Load() }

// LogEndOffset returns the offset the next append gets.
func (l *Log) LogEndOffset() int64 { return l.leo.Load() }

// SetConfig replaces the configuration; it applies to the next append, roll
// and retention check.
func (l *Log) SetConfig(cfg Config) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cfg = cfg.normalized()
	l.active.idx.interval = int64(l.cfg.IndexIntervalBytes)
}

// Config returns the configuration in use (with defaults applied).
func (l *Log) Config() Config {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cfg
}

// Size returns the bytes on disk of all segment files.
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n int64
	for _, s := range l.segments {
		n += s.size
	}
	return n
}

// Dir returns the log's directory.
func (l *Log) Dir() string { return l.dir }

// FS returns the filesystem the log lives on.
func (l *Log) FS() vfs.FS { return l.fs }
