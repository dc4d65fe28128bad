package storage

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// Truncation removes the end of a log (a follower whose log diverged from
// its new leader's), as Kafka's UnifiedLog.truncateTo and
// truncateFullyAndStartAt.
//
// Crash safety. A truncation first writes truncateFile, durably, naming the
// offset: its commit point. It then deletes and cuts segments, writes the
// cut segment's indexes, creates the new active segment, lowers the
// recovery point (and the log start offset and the cleaner's first dirty
// offset where they were above), syncing each, and last removes the file
// and syncs the directory. Opening a log that has the file finishes the
// truncation from the files alone (finishTruncation), so a crash leaves
// either the old log (before the commit point) or the truncated one, and a
// truncation that returned is durable: nothing above its offset comes back.
//
// Readers. Segment files are append-only for readers (read.go), so a
// truncation never writes into a file a reader may hold: the segment it
// cuts is never appended to again (appends go to a new segment starting at
// the truncation offset), a segment it removes is unlinked (open handles
// keep the old bytes), and every segment it touches is marked replaced
// before its file changes, so a Read or ReadRegion that used it retries on a
// fresh segment list. A Region taken before the truncation and sent after
// it may therefore come up short (its file was cut: the send fails) or
// carry the old bytes of a removed segment, as if it had been sent before
// the truncation; it never carries bytes of a different record at an
// offset.

// truncateFile marks a truncation in progress:
// "version: 0\ntruncate_to: N\nfull: true|false\n".
const truncateFile = "truncating"

// truncation is the content of truncateFile.
type truncation struct {
	offset int64
	full   bool // TruncateFullyAndStartAt
}

func encodeTruncation(m truncation) []byte {
	return fmt.Appendf(nil, "version: 0\ntruncate_to: %d\nfull: %t\n", m.offset, m.full)
}

func parseTruncation(b []byte) (truncation, error) {
	kv, err := parseKV(b)
	if err != nil {
		return truncation{}, err
	}
	var m truncation
	if m.offset, err = kvInt(kv, "truncate_to"); err != nil {
		return truncation{}, err
	}
	switch kv["full"] {
	case "true":
		m.full = true
	case "false":
	default:
		return truncation{}, fmt.Errorf("%w: full %q", ErrCorrupt, kv["full"])
	}
	return m, nil
}

// TruncateTo removes every record at or above offset, as Kafka's
// UnifiedLog.truncateTo: segments whose base offset is above it are
// deleted and the segment holding it is cut before the first batch whose
// last offset is at or above it. An offset inside a batch therefore
// removes that whole batch, and, as in Kafka (LocalLog.truncateTo sets the
// log end offset to the target), the log end offset becomes offset itself:
// the offsets of the removed batch below it stay unused. Appends go on at
// offset in a new segment. An offset at or above the log end offset
// changes nothing; one below the first segment's base offset truncates
// fully (TruncateFullyAndStartAt), and one below the log start offset
// lowers it to offset (Kafka: logStartOffset = min(target, logStartOffset)).
// The recovery point, flushed offset and the cleaner's first dirty offset
// come down to offset where they were above it. See truncate.go for crash
// safety and concurrent readers.
func (l *Log) TruncateTo(offset int64) error {
	return l.truncate(offset, l.truncateToLocked)
}

// truncate runs fn with the log locked, if offset is valid and the log usable.
func (l *Log) truncate(offset int64, fn func(int64) error) error {
	if offset < 0 {
		return fmt.Errorf("storage: truncate %s to negative offset %d", l.dir, offset)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usableLocked(); err != nil {
		return err
	}
	return fn(offset)
}

func (l *Log) truncateToLocked(offset int64) error {
	if offset >= l.leo.Load() {
		return nil
	}
	if l.segments[0].base > offset {
		return l.truncateFullyLocked(offset)
	}
	k := sort.Search(len(l.segments), func(i int) bool { return l.segments[i].base > offset }) - 1
	s := l.segments[k]
	// Find the cut and the cut segment's indexes before changing anything:
	// an error here leaves the log as it was.
	pos, x, err := l.cutPointLocked(k, offset)
	if err != nil {
		return fmt.Errorf("storage: truncate %s to %d: %w", l.dir, offset, err)
	}
	if err := l.syncDirsLocked(); err != nil {
		return err
	}
	// The entries kept stay durable when a new active segment takes over.
	if err := l.syncTxnIndexLocked(); err != nil {
		return err
	}
	if err := l.beginTruncationLocked(offset, false); err != nil {
		return err
	}
	// Past the commit point a failure fails the log: the next open finishes.
	gone := slices.Clone(l.segments[k:])
	for _, g := range gone {
		g.replaced.Store(true)
	}
	l.handles.dropWrite(l.active.seg.logPath)
	// The segment holding offset stays, cut (empty if nothing of it is
	// below offset, as Kafka keeps it), unless it starts at offset: the new
	// active segment takes its name.
	removed := gone[1:]
	var kept *segment
	if s.base == offset {
		removed = gone
	} else {
		kept = newSegment(l.dir, s.base)
		kept.size = pos
		kept.index.Store(x)
		// Kafka's TransactionIndex.truncateTo: the entries of markers at or
		// above offset go with them.
		txns := s.loadedTxns()
		n := sort.Search(len(txns), func(i int) bool { return txns[i].LastOffset >= offset })
		kept.setTxns(slices.Clip(txns[:n]))
		if n < len(txns) {
			if err := writeTxnIndex(l.fs, kept.txnPath, txns[:n]); err != nil {
				return l.failLocked(err)
			}
		}
	}
	if err := l.removeSegments(removed); err != nil {
		return l.failLocked(err)
	}
	if kept != nil {
		l.handles.invalidate(s.logPath)
		if err := cutFile(l.fs, s.logPath, pos); err != nil {
			return l.failLocked(err)
		}
		if err := writeIndexFiles(l.fs, kept, x, true); err != nil {
			return l.failLocked(err)
		}
	}
	a, err := l.createSegmentLocked(offset, true)
	if err != nil {
		return l.failLocked(err)
	}
	segs := make([]*segment, 0, k+2) // a new array: readers share the old one
	segs = append(segs, l.segments[:k]...)
	if kept != nil {
		segs = append(segs, kept)
	}
	l.segments = append(segs, a.seg)
	l.active = a
	return l.endTruncationLocked(offset, min(l.logStart.Load(), offset))
}

// TruncateFullyAndStartAt deletes every segment and starts the log empty at
// offset, which becomes its log start and end offset, as Kafka's
// truncateFullyAndStartAt (a follower whose fetch offset the leader no
// longer has). offset may be anywhere, above the log end offset too.
func (l *Log) TruncateFullyAndStartAt(offset int64) error {
	return l.truncate(offset, l.truncateFullyLocked)
}

func (l *Log) truncateFullyLocked(offset int64) error {
	if err := l.syncDirsLocked(); err != nil {
		return err
	}
	if err := l.beginTruncationLocked(offset, true); err != nil {
		return err
	}
	gone := l.segments
	for _, g := range gone {
		g.replaced.Store(true)
	}
	l.handles.dropWrite(l.active.seg.logPath)
	if err := l.removeSegments(gone); err != nil {
		return l.failLocked(err)
	}
	a, err := l.createSegmentLocked(offset, true)
	if err != nil {
		return l.failLocked(err)
	}
	l.txnUnsynced = false
	l.segments = []*segment{a.seg}
	l.active = a
	return l.endTruncationLocked(offset, offset)
}

// cutPointLocked returns where segment k is cut to remove offsets >= offset
// (the position of the first batch whose last offset is >= offset, or its
// size) and its indexes up to there.
func (l *Log) cutPointLocked(k int, offset int64) (int64, *segIndex, error) {
	s := l.segments[k]
	v := segView{seg: s, size: s.size, end: l.leo.Load()}
	if k == len(l.segments)-1 {
		a := l.active
		v.active = &segIndex{offsets: a.idx.offsets, times: a.idx.times}
	} else {
		v.end = l.segments[k+1].base
	}
	if v.size == 0 {
		return 0, &segIndex{}, nil
	}
	h, err := l.handles.acquire(s.logPath)
	if err != nil {
		return 0, nil, err
	}
	defer l.handles.release(h)
	w := newWalker(h.f, v.size)
	defer w.release()
	pos, _, found, err := l.locate(w, v, offset, l.cfg.IndexIntervalBytes)
	if err != nil {
		return 0, nil, err
	}
	if !found {
		pos = v.size
	}
	if pos == 0 {
		return 0, &segIndex{}, nil
	}
	x, err := l.viewIndex(v, l.cfg.IndexIntervalBytes)
	if err != nil {
		return 0, nil, err
	}
	x, err = cutIndex(h.f, s.base, x, pos, l.cfg.IndexIntervalBytes)
	return pos, x, err
}

// cutIndex returns the indexes of the first pos bytes (whole batches) of the
// segment at base whose indexes are x, as Kafka's LogSegment.truncateTo: the
// entries of batches before pos stay, and the batches from the last of them
// to pos are read again for the largest timestamp and the final time entry.
// An index entry depends only on the batches before it, so the result is the
// index a scan of the first pos bytes would build.
func cutIndex(r io.ReaderAt, base int64, x *segIndex, pos int64, interval int32) (*segIndex, error) {
	b := newIndexBuilder(base, interval)
	n := sort.Search(len(x.offsets), func(i int) bool { return int64(x.offsets[i].pos) >= pos })
	start := int64(0)
	if n > 0 {
		last := x.offsets[n-1]
		start = int64(last.pos)
		b.offsets = slices.Clone(x.offsets[:n])
		// Time entries go with offset entries: those up to the last kept one
		// are what the builder had then, and its largest timestamp is the last.
		t := sort.Search(len(x.times), func(i int) bool { return x.times[i].rel > last.rel })
		b.times = slices.Clone(x.times[:t])
		if t > 0 {
			b.maxTs, b.maxTsOff = x.times[t-1].ts, base+int64(x.times[t-1].rel)
		}
		var hdr [batch.HeaderSize]byte
		if _, err := r.ReadAt(hdr[:], 0); err != nil {
			return nil, err
		}
		h, err := parseHeader(hdr[:])
		if err != nil {
			return nil, err
		}
		b.firstTs, b.size = h.MaxTimestamp, start
	}
	if end, err := scanBatches(r, start, pos, base, b); err != nil || end != pos {
		return nil, fmt.Errorf("%w: segment at %d does not end in a whole batch at %d: %v", ErrCorrupt, base, pos, err)
	}
	return b.finish(), nil
}

// cutFile truncates the file at path to size and syncs it.
func cutFile(fs vfs.FS, path string, size int64) error {
	f, err := fs.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = truncateSync(f, size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// beginTruncationLocked writes the commit point of a truncation to offset.
// The flush and checkpoint state changes with it: an fsync or recovery-point
// write that started before must not raise them past what is left.
func (l *Log) beginTruncationLocked(offset int64, full bool) error {
	if err := l.hook("truncate-begin"); err != nil {
		return err
	}
	data := encodeTruncation(truncation{offset: offset, full: full})
	if err := vfs.WriteFileAtomic(l.fs, l.dir, filepath.Join(l.dir, truncateFile), data); err != nil {
		return err
	}
	l.dirty.Store(true)
	return l.hook("truncate-commit")
}

// endTruncationLocked sets the log's offsets after a truncation to offset
// and makes the checkpoint files agree before removing the commit point.
func (l *Log) endTruncationLocked(offset, logStart int64) error {
	l.leo.Store(offset)
	l.flushedMessages = l.appendedMessages // everything left is synced
	l.ckMu.Lock()
	l.flushMu.Lock()
	l.truncations++
	l.flushedTo = offset
	l.flushMu.Unlock()
	rp := min(l.checkpointed, offset)
	err := l.writeRecoveryPointLocked(rp)
	l.ckMu.Unlock()
	if err != nil {
		return l.failLocked(err)
	}
	if logStart != l.logStart.Load() {
		if err := l.writeLogStartOffset(logStart); err != nil {
			return l.failLocked(err)
		}
		l.logStart.Store(logStart)
	}
	if l.firstDirty > offset {
		l.firstDirty = offset
		if err := l.writeCleanerCheckpointLocked(); err != nil {
			return l.failLocked(err)
		}
	}
	if err := l.hook("truncate-end"); err != nil {
		return err
	}
	if err := l.fs.Remove(filepath.Join(l.dir, truncateFile)); err != nil {
		return l.failLocked(err)
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		return l.failLocked(err)
	}
	return nil
}

func (l *Log) writeLogStartOffset(offset int64) error {
	data := fmt.Appendf(nil, "version: 0\nlog_start_offset: %d\n", offset)
	return vfs.WriteFileAtomic(l.fs, l.dir, filepath.Join(l.dir, logStartOffsetFile), data)
}

func (l *Log) writeCleanerCheckpointLocked() error {
	data := fmt.Appendf(nil, "version: 0\nfirst_dirty_offset: %d\ndelete_horizon_ms: %d\n", l.firstDirty, l.tombstoneHorizon)
	return vfs.WriteFileAtomic(l.fs, l.dir, filepath.Join(l.dir, cleanerCheckpointFile), data)
}

// finishTruncation completes a truncation a crash interrupted, from the
// files alone: it removes the segments at or above the offset, cuts the one
// holding it, creates the empty segment at it, and lowers the checkpoint
// files, then removes the commit point. It reports whether there was one
// (the log must then be recovered, not trusted). load calls it after
// completeSwaps.
func (l *Log) finishTruncation() (bool, error) {
	m, ok, err := readCheckpoint(l, truncateFile, parseTruncation)
	if err != nil {
		return false, err
	}
	path := filepath.Join(l.dir, truncateFile)
	if !ok {
		// A commit point that cannot be read was never complete (it is
		// renamed into place whole): the truncation did not begin.
		if err := l.fs.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return false, err
		}
		return false, nil
	}
	l.logger.Warn("finishing interrupted truncation", "dir", l.dir, "offset", m.offset, "full", m.full)
	names, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return true, err
	}
	var segs []*segment
	for _, name := range names {
		if base, ok := parseSegmentName(name, logSuffix); ok {
			s := newSegment(l.dir, base)
			fi, err := l.fs.Stat(s.logPath)
			if err != nil {
				return true, err
			}
			s.size = fi.Size()
			segs = append(segs, s)
		}
	}
	slices.SortFunc(segs, func(a, b *segment) int { return int(min(max(a.base-b.base, -1), 1)) })
	k := sort.Search(len(segs), func(i int) bool { return segs[i].base > m.offset }) - 1
	if m.full {
		k = -1
	}
	var gone []*segment
	if k >= 0 {
		pos, err := l.cutPosition(segs[k], m.offset)
		if err != nil {
			return true, err
		}
		if segs[k].base == m.offset {
			k-- // the segment goes whole: the new one takes its name
		} else {
			// Its indexes are rebuilt from the log when first needed.
			for _, p := range []string{segs[k].indexPath, segs[k].timePath} {
				if err := l.fs.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
					return true, err
				}
			}
			if err := cutFile(l.fs, segs[k].logPath, pos); err != nil {
				return true, err
			}
		}
	}
	gone = segs[k+1:]
	if err := l.removeSegments(gone); err != nil {
		return true, err
	}
	if _, err := l.createSegmentLocked(m.offset, true); err != nil {
		return true, err
	}
	if rp, ok, err := readCheckpoint(l, recoveryPointFile, parseRecoveryPoint); err != nil {
		return true, err
	} else if !ok || rp.offset > m.offset {
		if err := vfs.WriteFileAtomic(l.fs, l.dir, filepath.Join(l.dir, recoveryPointFile),
			encodeRecoveryPoint(recoveryPoint{offset: min(rp.offset, m.offset)})); err != nil {
			return true, err
		}
	}
	logStart, _, err := readCheckpoint(l, logStartOffsetFile, parseLogStartOffset)
	if err != nil {
		return true, err
	}
	if m.full && logStart != m.offset || logStart > m.offset {
		if err := l.writeLogStartOffset(m.offset); err != nil {
			return true, err
		}
	}
	if l.firstDirty > m.offset {
		l.firstDirty = m.offset
		if err := l.writeCleanerCheckpointLocked(); err != nil {
			return true, err
		}
	}
	if err := l.fs.Remove(path); err != nil {
		return true, err
	}
	return true, l.fs.SyncDir(l.dir)
}

// cutPosition scans segment s for the position of the first batch whose
// last offset is at or above offset (or the first bad batch, which recovery
// would cut at anyway), or its size.
func (l *Log) cutPosition(s *segment, offset int64) (int64, error) {
	f, err := l.fs.OpenFile(s.logPath, os.O_RDONLY, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := newWalker(f, s.size)
	defer w.release()
	pos, _, found, err := w.find(0, offset)
	if err != nil && !errors.Is(err, ErrCorrupt) {
		return 0, err
	}
	if !found && err == nil {
		pos = s.size
	}
	return pos, nil
}
