package storage

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// encodePartitionMetadata renders Kafka's partition.metadata file.
func encodePartitionMetadata(id [16]byte) []byte {
	return []byte("version: 0\ntopic_id: " + base64.RawURLEncoding.EncodeToString(id[:]) + "\n")
}

func parsePartitionMetadata(b []byte) ([16]byte, error) {
	var id [16]byte
	kv, err := parseKV(b)
	if err != nil {
		return id, err
	}
	raw, err := base64.RawURLEncoding.DecodeString(kv["topic_id"])
	if err != nil || len(raw) != 16 {
		return id, fmt.Errorf("%w: topic_id %q", ErrCorrupt, kv["topic_id"])
	}
	copy(id[:], raw)
	return id, nil
}

// recoveryPoint is the content of the recovery-point file: every offset below
// offset is synced and verified; clean says the log was closed cleanly, which
// is trusted only as the Manager says (Manager.trusted).
type recoveryPoint struct {
	offset int64
	clean  bool
}

func parseRecoveryPoint(b []byte) (recoveryPoint, error) {
	kv, err := parseKV(b)
	if err != nil {
		return recoveryPoint{}, err
	}
	var rp recoveryPoint
	if rp.offset, err = kvInt(kv, "recovery_point"); err != nil {
		return recoveryPoint{}, err
	}
	switch kv["clean_shutdown"] {
	case "true":
		rp.clean = true
	case "false":
	default:
		return recoveryPoint{}, fmt.Errorf("%w: clean_shutdown %q", ErrCorrupt, kv["clean_shutdown"])
	}
	return rp, nil
}

func encodeRecoveryPoint(rp recoveryPoint) []byte {
	return fmt.Appendf(nil, "version: 0\nrecovery_point: %d\nclean_shutdown: %t\n", rp.offset, rp.clean)
}

func parseLogStartOffset(b []byte) (int64, error) {
	kv, err := parseKV(b)
	if err != nil {
		return 0, err
	}
	return kvInt(kv, "log_start_offset")
}

// readCheckpoint reads one of the small files with parse; a missing file gives
// ok false, a corrupt one is logged and treated as missing.
func readCheckpoint[T any](l *Log, name string, parse func([]byte) (T, error)) (T, bool, error) {
	var zero T
	b, err := vfs.ReadFile(l.fs, filepath.Join(l.dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return zero, false, nil
	}
	if err != nil {
		return zero, false, err
	}
	v, err := parse(b)
	if err != nil {
		l.logger.Warn("ignoring corrupt checkpoint", "file", filepath.Join(l.dir, name), "err", err)
		return zero, false, nil
	}
	return v, true, nil
}

// load reads the directory, recovers the segments if the last shutdown was not
// clean, and opens the active segment for appending.
func (l *Log) load() error {
	// A directory just created (preparePartitionDir) holds only
	// partition.metadata: nothing to read.
	fresh := l.unsynced&unsyncedDir != 0
	truncated := false // an interrupted truncation was finished: recover
	var names []string
	if !fresh {
		if err := l.completeSwaps(); err != nil {
			return err
		}
		var err error
		if truncated, err = l.finishTruncation(); err != nil {
			return err
		}
		if names, err = l.fs.ReadDir(l.dir); err != nil {
			return err
		}
	}
	var segs []*segment
	hasLog := map[int64]bool{}
	for _, name := range names {
		if base, ok := parseSegmentName(name, logSuffix); ok {
			hasLog[base] = true
			segs = append(segs, newSegment(l.dir, base))
		}
	}
	hasTxnIndex := map[int64]bool{}
	for _, name := range names {
		base, isIndex := parseSegmentName(name, indexSuffix)
		if !isIndex {
			base, isIndex = parseSegmentName(name, timeIndexSuffix)
		}
		if !isIndex {
			if base, isIndex = parseSegmentName(name, txnIndexSuffix); isIndex && hasLog[base] {
				hasTxnIndex[base] = true
			}
		}
		if (isIndex && !hasLog[base]) || strings.HasSuffix(name, ".tmp") {
			if err := l.fs.Remove(filepath.Join(l.dir, name)); err != nil {
				return err
			}
		}
	}
	for _, s := range segs {
		fi, err := l.fs.Stat(s.logPath)
		if err != nil {
			return err
		}
		s.size = fi.Size()
	}
	slices.SortFunc(segs, func(a, b *segment) int { return int(min(max(a.base-b.base, -1), 1)) })

	var logStart int64
	var point recoveryPoint
	if !fresh {
		var err error
		if logStart, _, err = readCheckpoint(l, logStartOffsetFile, parseLogStartOffset); err != nil {
			return err
		}
		if point, _, err = readCheckpoint(l, recoveryPointFile, parseRecoveryPoint); err != nil {
			return err
		}
	}
	// The files are trusted only when the Manager knows they were closed
	// cleanly and not appended to since (Manager.claim); point.clean alone
	// would not say that a later run appended without closing.
	trusted := l.trustClean && !truncated

	var b *indexBuilder
	var err error
	switch {
	case len(segs) == 0:
	case trusted:
		var stale bool
		b, stale, err = l.openClean(segs[len(segs)-1])
		if stale {
			l.dirty.Store(true) // rewrite the index files at close
		}
	default:
		l.logger.Info("recovering log after unclean shutdown", "dir", l.dir, "recovery_point", point.offset)
		segs, b, err = l.recover(segs, point.offset)
	}
	if err != nil {
		return err
	}
	leo := int64(0)
	if b != nil {
		leo = b.next
	}
	if len(segs) > 0 {
		logStart = max(logStart, segs[0].base)
	}
	if logStart > leo && len(segs) > 0 {
		// Records below the log start offset were deleted and what followed was
		// lost in a crash: start over at the log start offset, keeping offsets
		// monotonic.
		l.logger.Warn("log end below log start offset: truncating fully", "dir", l.dir, "leo", leo, "log_start", logStart)
		if err := l.removeSegments(segs); err != nil {
			return err
		}
		segs = nil
	}

	if len(segs) == 0 {
		a, err := l.createSegmentLocked(logStart, false)
		if err != nil {
			return err
		}
		l.active, leo = a, logStart
	} else {
		// The write handle is opened by the first append (handleCache).
		s := segs[len(segs)-1]
		a := &activeSegment{seg: s, idx: b, rollBase: -1}
		if s.size > 0 {
			a.rollBase = l.now().UnixMilli()
			if b.firstTs >= 0 {
				a.rollBase = min(a.rollBase, b.firstTs)
			}
		}
		l.active = a
	}
	if len(segs) == 0 {
		segs = []*segment{l.active.seg}
	}
	// Entries a crash may have lost go, and the owner of the producer
	// state adds them again from TxnIndexValidFrom on. Only the last
	// segment's can be lost: a segment's .txnindex is synced when it rolls
	// (and at once when written later), its name when created, and the
	// active one's entries with each flush, so below the recovery point. An
	// active segment without the file had no entry.
	risk := leo
	if last := segs[len(segs)-1]; !trusted && hasTxnIndex[last.base] {
		risk = min(leo, max(point.offset, last.base))
	}
	if l.txnValidFrom, err = l.loadTxnIndexes(segs, hasTxnIndex, leo, risk); err != nil {
		return err
	}
	l.segments = segs
	l.leo.Store(leo)
	l.logStart.Store(logStart)
	l.firstDirty = min(l.firstDirty, leo)
	l.flushedTo = leo
	if !trusted {
		// Recovered: the active segment holds what may not be synced.
		l.flushedTo = min(leo, max(point.offset, l.active.seg.base))
	}
	l.lastFlush = l.now()
	// Nothing is written here: the Manager removed its clean-shutdown mark, so
	// a crash from now on makes the next start recover whatever the
	// recovery-point file says. checkpointed is what that file holds.
	l.checkpointed = point.offset
	if !trusted {
		l.dirty.Store(true)
	}
	return nil
}

// openClean opens the active segment after a clean shutdown: it trusts the
// segments and the index files, and only scans the active segment from its last
// index entry (to find the log end offset and drop bytes appended after the
// shutdown, such as garbage). stale says the index files on disk should be
// rewritten (they were unusable or it truncated).
func (l *Log) openClean(s *segment) (_ *indexBuilder, stale bool, _ error) {
	interval := l.cfg.IndexIntervalBytes
	b := newIndexBuilder(s.base, interval)
	start := int64(0)
	f, err := l.fs.OpenFile(s.logPath, os.O_RDWR, 0)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	x, err := readIndexFiles(l.fs, s, s.size, math.MaxInt32)
	if err == nil {
		w := newWalker(f, s.size)
		err = verifyIndexTail(w, s.base, x)
		w.release()
	}
	indexed := err == nil
	if err == nil && len(x.offsets) > 0 {
		b.offsets, b.times = x.offsets, x.times
		if ts, rel := x.maxTimestamp(); ts >= 0 {
			b.maxTs, b.maxTsOff = ts, s.base+rel
		}
		start = int64(x.offsets[len(x.offsets)-1].pos)
	}
	if start > 0 {
		var hdr [batch.HeaderSize]byte
		if _, err := f.ReadAt(hdr[:], 0); err != nil && err != io.EOF {
			return nil, false, err
		}
		if h, err := parseHeader(hdr[:]); err == nil {
			b.firstTs = h.MaxTimestamp
		}
		b.size = start
	}
	end, err := scanBatches(f, start, s.size, s.base, b)
	if err != nil && start > 0 && errors.Is(err, ErrCorrupt) {
		l.logger.Warn("active segment index inconsistent: rescanning", "segment", s.logPath, "err", err)
		b = newIndexBuilder(s.base, interval)
		end, err = scanBatches(f, 0, s.size, s.base, b)
		indexed = false
	}
	// A segment without offset entries needs no index files (Log.close).
	stale = !indexed && len(b.offsets) > 0
	if err != nil && !errors.Is(err, ErrCorrupt) {
		return nil, false, err
	}
	if end < s.size {
		l.logger.Warn("truncating invalid tail of segment", "segment", s.logPath, "at", end, "size", s.size, "err", err)
		if err := truncateSync(f, end); err != nil {
			return nil, false, err
		}
		s.size = end
		stale = true
	}
	return b, stale, nil
}

func truncateSync(f vfs.File, size int64) error {
	if err := f.Truncate(size); err != nil {
		return err
	}
	return f.Sync()
}

// recover verifies every batch of the segments that may hold unflushed data
// (from the one holding the recovery point on), truncates at the first invalid
// batch, deletes the segments after it and rebuilds the scanned segments'
// indexes. It returns the segments kept and the active segment's indexes.
func (l *Log) recover(segs []*segment, recoveryPoint int64) ([]*segment, *indexBuilder, error) {
	first := 0
	for i, s := range segs {
		if s.base <= recoveryPoint {
			first = i
		}
	}
	minOffset := segs[first].base
	var b *indexBuilder
	for i := first; i < len(segs); i++ {
		s := segs[i]
		minOffset = max(minOffset, s.base)
		b = newIndexBuilder(s.base, l.cfg.IndexIntervalBytes)
		f, err := l.fs.OpenFile(s.logPath, os.O_RDWR, 0)
		if err != nil {
			return nil, nil, err
		}
		end, err := scanBatches(f, 0, s.size, minOffset, b)
		if err != nil && !errors.Is(err, ErrCorrupt) {
			f.Close()
			return nil, nil, err
		}
		truncated := end < s.size
		if truncated {
			l.logger.Warn("truncating invalid tail of segment", "segment", s.logPath, "at", end, "size", s.size, "err", err)
			if err := f.Truncate(end); err != nil {
				f.Close()
				return nil, nil, err
			}
			s.size = end
		}
		// Only a truncation is synced: what the scan verified stays as
		// durable as it was (segments with a successor were synced when they
		// rolled; load keeps the active one's flushed offset below it), as
		// in Kafka, whose recovery does not flush either.
		if truncated {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, nil, err
		}
		minOffset = b.next
		if truncated || i == len(segs)-1 {
			if err := l.removeSegments(segs[i+1:]); err != nil {
				return nil, nil, err
			}
			return segs[:i+1], b, nil
		}
		x := b.finish()
		if err := writeIndexFiles(l.fs, s, x, true); err != nil {
			return nil, nil, err
		}
		s.index.Store(x)
	}
	return segs, b, nil
}

// removeSegments deletes the files of segs, the .log first so that a crash
// leaves at worst orphan index files, which load deletes.
func (l *Log) removeSegments(segs []*segment) error {
	if len(segs) == 0 {
		return nil
	}
	for _, s := range segs {
		s.deleted.Store(true)
		l.handles.invalidate(s.logPath)
		for _, p := range []string{s.logPath, s.indexPath, s.timePath, s.txnPath} {
			if err := l.fs.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	return l.fs.SyncDir(l.dir)
}

// parseKV parses the small text files storage writes: "key: value" lines, the
// first being "version: 0".
func parseKV(b []byte) (map[string]string, error) {
	kv := map[string]string{}
	for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok || k == "" {
			return nil, fmt.Errorf("%w: line %d %q", ErrCorrupt, i+1, line)
		}
		if i == 0 && (k != "version" || v != "0") {
			return nil, fmt.Errorf("%w: unsupported %q", ErrCorrupt, line)
		}
		kv[k] = v
	}
	if _, ok := kv["version"]; !ok {
		return nil, fmt.Errorf("%w: no version", ErrCorrupt)
	}
	return kv, nil
}

func kvInt(kv map[string]string, key string) (int64, error) {
	v, err := strconv.ParseInt(kv[key], 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%w: %s %q", ErrCorrupt, key, kv[key])
	}
	return v, nil
}
