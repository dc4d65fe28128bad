package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

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

	leo        atomic.Int64
	logStart   atomic.Int64
	closedFlag atomic.Bool

	// Lock order: mu, then ckMu, flushMu or handles.mu; never the reverse.
	mu               sync.Mutex
	cfg              Config
	segments         []*segment // by base offset; the last is the active one
	active           *activeSegment
	closed           bool
	failed           error // a write or sync failed: appends and flushes refuse
	appendedMessages int64
	flushedMessages  int64                    // appendedMessages when the last flush started
	firstDirty       int64                    // the cleaner cleaned the offsets below
	tombstoneHorizon int64                    // ms: a cleaning pass is due then to drop tombstones
	swapHook         func(point string) error // tests: fail at a named point of a swap
	activeProducers  func() map[int64]int64   // see SetActiveProducers

	ckMu         sync.Mutex // serialises writes of the recovery-point file
	checkpointed int64      // recovery point last written; guarded by ckMu

	flushMu   sync.Mutex
	flushCond *sync.Cond
	flushing  bool
	flushedTo int64 // every offset below is synced
	lastFlush time.Time
}

// activeSegment is the segment appends go to, with its indexes in memory (they
// are written to disk when it rolls or the log closes).
type activeSegment struct {
	seg      *segment
	w        *segWriter
	idx      *indexBuilder
	rollBase int64 // ms: when the first batch was appended (or its timestamp after a restart); -1 if empty
}

// segWriter is the write handle of the active segment. A flush holds a
// reference while it syncs outside Log.mu, so a roll or close in the meantime
// retires the handle and the last user closes it.
type segWriter struct {
	f       vfs.File
	refs    int  // guarded by Log.mu
	retired bool // guarded by Log.mu
}

// AppendResult tells where Append put the batches.
type AppendResult struct {
	FirstOffset, LastOffset int64
	LogStartOffset          int64
}

// checkBatches walks whole v2 batches and returns their count of records and
// the sum of their offset spans.
func checkBatches(b []byte) (records, span int64, err error) {
	if len(b) == 0 {
		return 0, 0, fmt.Errorf("%w: no batches", ErrInvalidBatch)
	}
	for pos := 0; pos < len(b); {
		h, err := parseHeader(b[pos:])
		if err != nil {
			return 0, 0, fmt.Errorf("%w: %w", ErrInvalidBatch, err)
		}
		if h.size > int64(len(b)-pos) {
			return 0, 0, fmt.Errorf("%w: batch of %d bytes in %d", ErrInvalidBatch, h.size, len(b)-pos)
		}
		records += int64(h.recordCount)
		span += int64(h.lastOffsetDelta) + 1
		pos += int(h.size)
	}
	return records, span, nil
}

// Append writes batches (one or more consecutive, already validated v2
// batches) at the log end: it rewrites each batch's baseOffset in place (the CRC
// does not cover it), writes the bytes to the active segment (rolling first if
// the segment would exceed SegmentBytes or is older than SegmentMs), updates the
// indexes and applies flush.messages. If the write fails the segment is
// truncated back; if that fails too, the log refuses further appends.
func (l *Log) Append(batches []byte) (AppendResult, error) {
	records, span, err := checkBatches(batches)
	if err != nil {
		return AppendResult{}, err
	}
	l.mu.Lock()
	if err := l.usableLocked(); err != nil {
		l.mu.Unlock()
		return AppendResult{}, err
	}
	first := l.leo.Load()
	if l.shouldRollLocked(int64(len(batches)), first+span-1, l.now().UnixMilli()) {
		if err := l.rollLocked(); err != nil {
			l.mu.Unlock()
			return AppendResult{}, err
		}
	}
	a := l.active
	if a.seg.size+int64(len(batches)) > math.MaxInt32 || first+span-1-a.seg.base > math.MaxInt32 {
		l.mu.Unlock()
		return AppendResult{}, fmt.Errorf("%w: %d bytes do not fit a segment", ErrInvalidBatch, len(batches))
	}
	next := first
	for pos := 0; pos < len(batches); {
		binary.BigEndian.PutUint64(batches[pos:], uint64(next))
		next += int64(int32(binary.BigEndian.Uint32(batches[pos+lastDeltaOffset:]))) + 1
		pos += batchPrefixSize + int(int32(binary.BigEndian.Uint32(batches[pos+batchLengthOffset:])))
	}
	if _, err := a.w.f.Write(batches); err != nil {
		err = l.writeFailedLocked(err)
		l.mu.Unlock()
		return AppendResult{}, err
	}
	if a.rollBase < 0 {
		a.rollBase = l.now().UnixMilli()
	}
	for pos := 0; pos < len(batches); {
		h, _ := parseHeader(batches[pos:])
		a.idx.add(h, a.seg.size+int64(pos))
		pos += int(h.size)
	}
	a.seg.size += int64(len(batches))
	l.leo.Store(next)
	l.appendedMessages += records
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
// not be undone or a failed fsync, what the files hold is unknown.
func (l *Log) failLocked(err error) error {
	if l.failed == nil {
		l.failed = fmt.Errorf("storage: log %s failed: %w", l.dir, err)
		l.logger.Error("log failed", "dir", l.dir, "err", err)
	}
	return l.failed
}

func (l *Log) writeFailedLocked(err error) error {
	if terr := l.active.w.f.Truncate(l.active.seg.size); terr != nil {
		l.failLocked(errors.Join(err, terr))
	}
	return fmt.Errorf("storage: append to %s: %w", l.dir, err)
}

// rollLocked finishes the active segment (syncs it, writes its indexes) and
// starts a new one at the log end offset.
func (l *Log) rollLocked() error {
	a := l.active
	if err := a.w.f.Sync(); err != nil {
		return l.failLocked(err)
	}
	x := a.idx.finish()
	if err := writeIndexFiles(l.fs, a.seg, x, true); err != nil {
		return l.failLocked(err)
	}
	base := l.leo.Load()
	na, err := l.createSegmentLocked(base)
	if err != nil {
		return l.failLocked(err)
	}
	a.seg.index.Store(x)
	l.retireLocked(a.w)
	l.segments = append(l.segments, na.seg)
	l.active = na
	l.flushMu.Lock()
	l.flushedTo = max(l.flushedTo, base)
	l.flushMu.Unlock()
	return nil
}

// createSegmentLocked creates an empty segment file at base, durable in the
// directory, and returns it as the active segment.
func (l *Log) createSegmentLocked(base int64) (*activeSegment, error) {
	s := newSegment(l.dir, base)
	// Index files left by an older segment of the same name are stale.
	for _, p := range []string{s.indexPath, s.timePath} {
		if err := l.fs.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	f, err := l.fs.OpenFile(s.logPath, os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		f.Close()
		return nil, err
	}
	return &activeSegment{seg: s, w: &segWriter{f: f}, idx: newIndexBuilder(base, l.cfg.IndexIntervalBytes), rollBase: -1}, nil
}

func (l *Log) retireLocked(w *segWriter) {
	w.retired = true
	if w.refs == 0 {
		w.f.Close()
	}
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

	upTo, err := l.syncActive()

	l.flushMu.Lock()
	l.flushing = false
	if err == nil {
		l.flushedTo = max(l.flushedTo, upTo)
		l.lastFlush = l.now()
	}
	l.flushCond.Broadcast()
	l.flushMu.Unlock()
	return err
}

// syncActive fsyncs the active segment outside mu and returns the offset below
// which everything is durable. Inactive segments were synced when they rolled.
func (l *Log) syncActive() (int64, error) {
	l.mu.Lock()
	if err := l.usableLocked(); err != nil {
		l.mu.Unlock()
		return 0, err
	}
	w := l.active.w
	w.refs++
	upTo := l.leo.Load()
	l.flushedMessages = l.appendedMessages
	l.mu.Unlock()

	err := w.f.Sync()

	l.mu.Lock()
	defer l.mu.Unlock()
	w.refs--
	if w.retired && w.refs == 0 {
		w.f.Close()
	}
	if err != nil {
		return 0, l.failLocked(err)
	}
	return upTo, nil
}

const (
	recoveryPointFile  = "recovery-point"
	logStartOffsetFile = "log-start-offset"
	partitionMetaFile  = "partition.metadata"
)

// writeRecoveryPoint records durably that every offset below offset is synced
// and verified, and whether the log was shut down cleanly.
func (l *Log) writeRecoveryPoint(offset int64, clean bool) error {
	l.ckMu.Lock()
	defer l.ckMu.Unlock()
	if !clean && l.closedFlag.Load() {
		return nil // Close wrote the final one.
	}
	data := fmt.Sprintf("version: 0\nrecovery_point: %d\nclean_shutdown: %t\n", offset, clean)
	if err := vfs.WriteFileAtomic(l.fs, l.dir, filepath.Join(l.dir, recoveryPointFile), []byte(data)); err != nil {
		return err
	}
	l.checkpointed = offset
	return nil
}

// checkpoint writes the recovery point if flushes advanced it; the Manager calls
// it periodically, so recovery after a crash scans less.
func (l *Log) checkpoint() error {
	l.flushMu.Lock()
	flushed := l.flushedTo
	l.flushMu.Unlock()
	l.ckMu.Lock()
	done := l.checkpointed
	l.ckMu.Unlock()
	if flushed <= done {
		return nil
	}
	return l.writeRecoveryPoint(flushed, false)
}

// Close flushes the log, writes the active segment's indexes and records a
// clean shutdown, so the next open does not rescan.
func (l *Log) Close() error { return l.close(true) }

// close closes the log; with clean false it only releases handles (the log is
// being deleted).
func (l *Log) close(clean bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	l.closedFlag.Store(true)
	defer l.handles.invalidate(l.dir)
	a := l.active
	defer l.retireLocked(a.w)
	if !clean {
		return nil
	}
	if l.failed != nil {
		return l.failed
	}
	if err := a.w.f.Sync(); err != nil {
		return l.failLocked(err)
	}
	if err := writeIndexFiles(l.fs, a.seg, a.idx.finish(), true); err != nil {
		return err
	}
	l.ckMu.Lock()
	l.checkpointed = -1
	l.ckMu.Unlock()
	return l.writeRecoveryPoint(l.leo.Load(), true)
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
