package storage

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
)

// segmentName returns the 20-digit file name stem of a segment.
func segmentName(base int64) string { return fmt.Sprintf("%020d", base) }

// parseSegmentName returns the base offset of a file named
// "<20 digits><suffix>".
func parseSegmentName(name, suffix string) (int64, bool) {
	if len(name) != 20+len(suffix) || name[20:] != suffix {
		return 0, false
	}
	for _, c := range name[:20] {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	base, err := strconv.ParseInt(name[:20], 10, 64)
	return base, err == nil
}

// segment is one .log file with its indexes. base and the paths never change.
type segment struct {
	base      int64
	logPath   string
	indexPath string
	timePath  string
	txnPath   string
	deleted   atomic.Bool
	// replaced is set when the cleaner swaps the segment out: its files now
	// hold the cleaned copy (or are gone), so a reader that read it retries
	// on a fresh snapshot.
	replaced atomic.Bool

	// size is guarded by Log.mu; readers copy it in a snapshot.
	size int64

	// index holds the indexes of an inactive segment once loaded; the active
	// segment's indexes live in Log.active. loadMu serialises loading.
	loadMu sync.Mutex
	index  atomic.Pointer[segIndex]

	// txns are the entries of the segment's .txnindex, loaded at open
	// (loadTxnIndexes) or set when the segment is created; replaced, never
	// changed in place, under Log.mu.
	txns atomic.Pointer[[]AbortedTxn]
}

func newSegment(dir string, base int64) *segment {
	stem := filepath.Join(dir, segmentName(base))
	return &segment{base: base, logPath: stem + logSuffix, indexPath: stem + indexSuffix, timePath: stem + timeIndexSuffix, txnPath: stem + txnIndexSuffix}
}

// segIndex is a segment's two indexes; immutable once published.
type segIndex struct {
	offsets []offsetEntry
	times   []timeEntry
}

// maxTimestamp returns the largest timestamp of the segment and the offset
// (relative) of the batch carrying it, from the last time index entry.
func (x *segIndex) maxTimestamp() (int64, int64) {
	if len(x.times) == 0 {
		return -1, -1
	}
	last := x.times[len(x.times)-1]
	return last.ts, int64(last.rel)
}

// indexBuilder grows a segment's indexes as batches are appended or scanned,
// Kafka's way: an offset entry when more than interval bytes were written since
// the last one, a time entry with it when the max timestamp grew, and a final
// time entry when the segment is finished.
type indexBuilder struct {
	base       int64
	interval   int64
	offsets    []offsetEntry
	times      []timeEntry
	bytesSince int64
	maxTs      int64 // largest batch max timestamp so far, -1 if none
	maxTsOff   int64 // last offset of the first batch carrying maxTs
	firstTs    int64 // max timestamp of the first batch, -1 if none
	next       int64 // offset after the last batch
	size       int64 // bytes of whole batches added
}

func newIndexBuilder(base int64, interval int32) *indexBuilder {
	return &indexBuilder{base: base, interval: int64(interval), maxTs: -1, maxTsOff: -1, firstTs: -1, next: base}
}

func (b *indexBuilder) add(h batch.Header, pos int64) {
	last := h.LastOffset()
	if b.size == 0 {
		b.firstTs = h.MaxTimestamp
	}
	if h.MaxTimestamp > b.maxTs {
		b.maxTs, b.maxTsOff = h.MaxTimestamp, last
	}
	if b.bytesSince > b.interval {
		b.offsets = append(b.offsets, offsetEntry{rel: int32(last - b.base), pos: int32(pos)})
		b.appendTime()
		b.bytesSince = 0
	}
	b.bytesSince += int64(h.Size())
	b.next = last + 1
	b.size = pos + int64(h.Size())
}

func (b *indexBuilder) appendTime() {
	if b.maxTs >= 0 && (len(b.times) == 0 || b.maxTs > b.times[len(b.times)-1].ts) {
		b.times = append(b.times, timeEntry{ts: b.maxTs, rel: int32(b.maxTsOff - b.base)})
	}
}

// finish records the final time entry, as Kafka does when a segment becomes
// inactive or the log closes.
func (b *indexBuilder) finish() *segIndex {
	b.appendTime()
	return &segIndex{offsets: b.offsets, times: b.times}
}

// parseHeader decodes the header of a stored batch at the start of b and
// checks it (batch.Header.Check); errors wrap ErrCorrupt, which recovery
// truncates at.
func parseHeader(b []byte) (batch.Header, error) {
	h, err := batch.ParseHeader(b)
	if err == nil {
		err = h.Check()
	}
	return h, corrupt(err)
}

// scanBatches reads whole batches of the segment file r from pos to size,
// checking length, magic, CRC-32C, that offsets increase from minOffset and fit
// the segment's 4-byte relative offsets, and adds each to b. It returns the
// position after the last valid batch and, if it stopped before size, why
// (wrapping ErrCorrupt for bad bytes).
func scanBatches(r io.ReaderAt, pos, size, minOffset int64, b *indexBuilder) (int64, error) {
	br := bufio.NewReaderSize(io.NewSectionReader(r, pos, size-pos), 64<<10)
	var buf []byte
	for pos < size {
		if size-pos < batch.HeaderSize {
			return pos, fmt.Errorf("%w: torn batch header at position %d", ErrCorrupt, pos)
		}
		// The header is checked before its length sizes the buffer (read
		// into buf, which is reused: a local array would escape to the heap
		// through io.ReadFull, once per batch).
		if cap(buf) < batch.HeaderSize {
			buf = make([]byte, batch.HeaderSize, 4<<10)
		}
		buf = buf[:batch.HeaderSize]
		if _, err := io.ReadFull(br, buf); err != nil {
			return pos, err
		}
		h, err := parseHeader(buf)
		if err != nil {
			return pos, fmt.Errorf("at position %d: %w", pos, err)
		}
		total := h.Size()
		if int64(total) > size-pos {
			return pos, fmt.Errorf("%w: batch length %d at position %d of %d", ErrCorrupt, h.Length, pos, size)
		}
		if cap(buf) < total {
			buf = append(make([]byte, 0, total), buf...)
		}
		buf = buf[:total]
		if _, err := io.ReadFull(br, buf[batch.HeaderSize:]); err != nil {
			return pos, err
		}
		if !batch.ValidCRC(buf) {
			return pos, fmt.Errorf("%w: CRC mismatch at position %d", ErrCorrupt, pos)
		}
		if h.BaseOffset < minOffset || h.LastOffset()-b.base > math.MaxInt32 || pos+int64(h.Size()) > math.MaxInt32 {
			return pos, fmt.Errorf("%w: offset %d at position %d (expected >= %d)", ErrCorrupt, h.BaseOffset, pos, minOffset)
		}
		b.add(h, pos)
		minOffset = h.LastOffset() + 1
		pos += int64(h.Size())
	}
	return pos, nil
}

// loadIndex returns the indexes of an inactive segment of size bytes whose
// offsets are below end, reading its index files or, if they are missing or
// invalid, rebuilding them from the log (and rewriting them, best effort).
func (l *Log) loadIndex(s *segment, size, end int64, interval int32) (*segIndex, error) {
	if x := s.index.Load(); x != nil {
		return x, nil
	}
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	if x := s.index.Load(); x != nil {
		return x, nil
	}
	maxRel := end - s.base
	if maxRel > math.MaxInt32 || maxRel < 0 {
		maxRel = math.MaxInt32
	}
	x, err := readIndexFiles(l.fs, s, size, maxRel)
	if err == nil {
		err = l.checkIndexTail(s, size, x)
	}
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			l.logger.Warn("rebuilding segment index", "segment", s.logPath, "err", err)
		}
		if x, err = l.rebuildIndex(s, size, interval); err != nil {
			return nil, err
		}
	}
	s.index.Store(x)
	return x, nil
}

// checkIndexTail checks the last entry of each index against the log: the last
// offset entry must point at a batch with its offset, and the last time entry
// (the segment's largest timestamp) at a batch with its offset and timestamp.
// Index files are trusted otherwise (as Kafka does); reads check each offset
// entry they use.
func (l *Log) checkIndexTail(s *segment, size int64, x *segIndex) error {
	if len(x.offsets) == 0 && len(x.times) == 0 {
		return nil
	}
	h, err := l.handles.acquire(s.logPath)
	if err != nil {
		return err
	}
	defer l.handles.release(h)
	w := newWalker(h.f, size)
	defer w.release()
	return verifyIndexTail(w, s.base, x)
}

func verifyIndexTail(w *walker, base int64, x *segIndex) error {
	if len(x.offsets) > 0 {
		if _, err := checkEntry(w, base, x.offsets[len(x.offsets)-1]); err != nil {
			return err
		}
	}
	if len(x.times) > 0 {
		te := x.times[len(x.times)-1]
		start, err := checkEntry(w, base, lookupOffset(x.offsets, int64(te.rel)))
		if err != nil {
			return err
		}
		_, h, found, err := w.find(start, base+int64(te.rel))
		if err != nil {
			return err
		}
		if !found || h.LastOffset() != base+int64(te.rel) || h.MaxTimestamp != te.ts {
			return fmt.Errorf("%w: time index entry (%d, %d) does not match the log", ErrCorrupt, te.ts, te.rel)
		}
	}
	return nil
}

func readIndexFiles(fs vfs.FS, s *segment, size, maxRel int64) (*segIndex, error) {
	ob, err := vfs.ReadFile(fs, s.indexPath)
	if err != nil {
		return nil, err
	}
	tb, err := vfs.ReadFile(fs, s.timePath)
	if err != nil {
		return nil, err
	}
	offsets, err := decodeOffsetIndex(ob, size, maxRel)
	if err != nil {
		return nil, err
	}
	times, err := decodeTimeIndex(tb, maxRel)
	if err != nil {
		return nil, err
	}
	if size > 0 && len(times) == 0 {
		// A finished segment ends with a time entry unless none of its batches
		// has a timestamp; an emptied file (a crash while rewriting it) looks the
		// same, so rebuild: it is rare and cheap for small segments.
		return nil, fmt.Errorf("%w: time index missing its final entry", ErrCorrupt)
	}
	return &segIndex{offsets: offsets, times: times}, nil
}

func (l *Log) rebuildIndex(s *segment, size int64, interval int32) (*segIndex, error) {
	h, err := l.handles.acquire(s.logPath)
	if err != nil {
		return nil, err
	}
	defer l.handles.release(h)
	b := newIndexBuilder(s.base, interval)
	if _, err := scanBatches(h.f, 0, size, s.base, b); err != nil {
		// Keep what indexes the valid prefix; reads past it report the corruption.
		l.logger.Error("segment has invalid batches", "segment", s.logPath, "err", err)
	}
	x := b.finish()
	if s.replaced.Load() {
		return x, nil // the files are the cleaned segment's now
	}
	if err := writeIndexFiles(l.fs, s, x, true); err != nil {
		l.logger.Warn("cannot rewrite segment index", "segment", s.logPath, "err", err)
	}
	return x, nil
}

// writeIndexFiles replaces the index files of s with x, syncing them if asked.
func writeIndexFiles(fs vfs.FS, s *segment, x *segIndex, sync bool) error {
	if err := writeWhole(fs, s.indexPath, appendOffsetIndex(nil, x.offsets), sync); err != nil {
		return err
	}
	return writeWhole(fs, s.timePath, appendTimeIndex(nil, x.times), sync)
}

func writeWhole(fs vfs.FS, path string, data []byte, sync bool) error {
	f, err := fs.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if sync {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}
