package storage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"sort"
	"sync"

	"github.com/samsa-streaming/samsa/internal/batch"
)

// segView is a segment as a reader sees it: its size and, for the active
// segment, its indexes at the time of the snapshot. Segments are append-only,
// so reading below size without the log lock is safe.
type segView struct {
	seg      *segment
	size     int64
	end      int64     // offset after the segment's last offset bound
	active   *segIndex // non-nil for the active segment
	maxTs    int64     // active segment only
	maxTsOff int64     // active segment only, absolute
}

// snapshot is what a reader copies under the log lock: the segment list from
// the segment it needs on, and the active segment's size and indexes. The
// list shares its backing array with the log (rolls append beyond it and
// deletions allocate a new one), and inactive segments never change, so
// nothing else needs copying.
type snapshot struct {
	segs     []*segment // the last one was active at the time
	active   segView
	leo      int64
	logStart int64
	interval int32
}

// snapshot takes a snapshot from the segment holding offset (all segments if
// offset < 0).
func (l *Log) snapshot(offset int64) (snapshot, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return snapshot{}, ErrClosed
	}
	i := 0
	if offset >= 0 {
		i = sort.Search(len(l.segments), func(i int) bool { return l.segments[i].base > offset }) - 1
		i = max(i, 0)
	}
	a := l.active
	return snapshot{
		segs: l.segments[i:len(l.segments):len(l.segments)],
		active: segView{
			seg: a.seg, size: a.seg.size, end: l.leo.Load(),
			active: &segIndex{offsets: a.idx.offsets, times: a.idx.times},
			maxTs:  a.idx.maxTs, maxTsOff: a.idx.maxTsOff,
		},
		leo:      l.leo.Load(),
		logStart: l.logStart.Load(),
		interval: l.cfg.IndexIntervalBytes,
	}, nil
}

// view returns the view of sn.segs[j].
func (sn *snapshot) view(j int) segView {
	if j == len(sn.segs)-1 {
		return sn.active
	}
	s := sn.segs[j]
	return segView{seg: s, size: s.size, end: sn.segs[j+1].base}
}

func (l *Log) viewIndex(v segView, interval int32) (*segIndex, error) {
	if v.active != nil {
		return v.active, nil
	}
	return l.loadIndex(v.seg, v.size, v.end, interval)
}

// viewMaxTimestamp returns the segment's largest timestamp and the absolute
// last offset of the first batch carrying it.
func (l *Log) viewMaxTimestamp(v segView, interval int32) (int64, int64, error) {
	if v.active != nil {
		return v.maxTs, v.maxTsOff, nil
	}
	x, err := l.loadIndex(v.seg, v.size, v.end, interval)
	if err != nil {
		return 0, 0, err
	}
	ts, rel := x.maxTimestamp()
	return ts, v.seg.base + rel, nil
}

var walkerBuffers = sync.Pool{New: func() any { b := make([]byte, 8<<10); return &b }}

// walker reads batch headers of a segment file through a small buffer.
type walker struct {
	r      io.ReaderAt
	size   int64
	buf    *[]byte
	bufPos int64
	n      int
}

func newWalker(r io.ReaderAt, size int64) *walker {
	return &walker{r: r, size: size, buf: walkerBuffers.Get().(*[]byte)}
}

func (w *walker) release() { walkerBuffers.Put(w.buf) }

func (w *walker) header(pos int64) (batch.Header, error) {
	if pos+batch.HeaderSize > w.size {
		return batch.Header{}, fmt.Errorf("%w: torn batch header at position %d of %d", ErrCorrupt, pos, w.size)
	}
	if pos < w.bufPos || pos+batch.HeaderSize > w.bufPos+int64(w.n) {
		buf := *w.buf
		n := int(min(int64(len(buf)), w.size-pos))
		if m, err := w.r.ReadAt(buf[:n], pos); m < n {
			if err == nil || err == io.EOF {
				err = fmt.Errorf("%w: segment shorter than %d bytes", ErrCorrupt, pos+int64(n))
			}
			return batch.Header{}, err
		}
		w.bufPos, w.n = pos, n
	}
	h, err := parseHeader((*w.buf)[pos-w.bufPos : w.n])
	if err != nil {
		return h, fmt.Errorf("at position %d: %w", pos, err)
	}
	if int64(h.Size()) > w.size-pos {
		return h, fmt.Errorf("%w: torn batch at position %d", ErrCorrupt, pos)
	}
	return h, nil
}

// find returns the position and header of the first batch at or after pos
// whose last offset is >= offset; found is false at the end of the segment.
func (w *walker) find(pos, offset int64) (int64, batch.Header, bool, error) {
	for pos < w.size {
		h, err := w.header(pos)
		if err != nil {
			return pos, h, false, err
		}
		if h.LastOffset() >= offset {
			return pos, h, true, nil
		}
		pos += int64(h.Size())
	}
	return pos, batch.Header{}, false, nil
}

// locate finds the batch holding offset (or the first after it) in v using the
// offset index, falling back to a scan from the start if the index points at
// bad bytes.
func (l *Log) locate(w *walker, v segView, offset int64, interval int32) (int64, batch.Header, bool, error) {
	x, err := l.viewIndex(v, interval)
	if err != nil {
		return 0, batch.Header{}, false, err
	}
	start, err := checkEntry(w, v.seg.base, lookupOffset(x.offsets, offset-v.seg.base))
	if err != nil {
		l.badIndex(v, interval, err)
	}
	return w.find(start, offset)
}

// checkEntry returns the position of offset index entry e after checking that
// it points at a batch with the offset it claims: then every batch holding a
// later offset is at or after it. On a mismatch it returns 0 (scan from the
// start) and the error.
func checkEntry(w *walker, base int64, e offsetEntry) (int64, error) {
	if e.pos == 0 {
		return 0, nil
	}
	h, err := w.header(int64(e.pos))
	if err == nil && h.LastOffset() != base+int64(e.rel) {
		err = fmt.Errorf("%w: index entry (%d, %d) points at a batch ending at %d", ErrCorrupt, e.rel, e.pos, h.LastOffset())
	}
	if err != nil {
		return 0, err
	}
	return int64(e.pos), nil
}

// badIndex handles an index that points at bytes that are not a batch: the
// caller rescans from the segment start, and an inactive segment's index is
// rebuilt for the next readers.
func (l *Log) badIndex(v segView, interval int32, err error) {
	l.logger.Warn("index points at bad bytes", "segment", v.seg.logPath, "err", err)
	if v.active != nil {
		return
	}
	if v.seg.replaced.Load() {
		return // the reader retries on the cleaned segment
	}
	v.seg.loadMu.Lock()
	defer v.seg.loadMu.Unlock()
	if x, err := l.rebuildIndex(v.seg, v.size, interval); err == nil {
		v.seg.index.Store(x)
	}
}

// readErr turns a failure to read a segment deleted meanwhile (retention) into
// ErrOffsetOutOfRange.
func readErr(v segView, err error) error {
	if v.seg.deleted.Load() && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrClosed)) {
		return ErrOffsetOutOfRange
	}
	return err
}

// Read returns whole batches, starting with the batch that contains offset,
// totalling at most maxBytes except that the first batch is always whole
// (KIP-74), and only batches whose last offset is below maxOffset (the high
// watermark). A read that reaches the end of a segment goes on in the next
// ones, so that a fetch gets all there is up to its limits rather than one
// segment's worth. offset == LEO (or >= maxOffset) returns nothing; offset
// below the log start offset or above the LEO returns ErrOffsetOutOfRange.
func (l *Log) Read(offset int64, maxBytes int32, maxOffset int64) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		var sn snapshot
		data, err := l.readOnce(&sn, offset, maxBytes, maxOffset)
		if attempt < maxReadAttempts && sn.stale() {
			continue
		}
		return data, err
	}
}

// maxReadAttempts bounds the retries of a read whose segments the cleaner
// swapped out meanwhile; each retry reads a newer segment list, so it takes a
// swap per attempt to exhaust them.
const maxReadAttempts = 16

// stale reports whether the cleaner replaced a segment of sn since sn was
// taken. A reader of such a segment may have opened the cleaned file (the
// swap sets the flag before the file is renamed in), so it retries on a fresh
// snapshot; a reader that finds the flag clear after reading read the file
// its snapshot described.
func (sn *snapshot) stale() bool {
	for _, s := range sn.segs {
		if s.replaced.Load() {
			return true
		}
	}
	return false
}

func (l *Log) readOnce(sn *snapshot, offset int64, maxBytes int32, maxOffset int64) ([]byte, error) {
	var err error
	if *sn, err = l.snapshot(offset); err != nil {
		return nil, err
	}
	if offset < sn.logStart || offset > sn.leo {
		return nil, ErrOffsetOutOfRange
	}
	if offset == sn.leo || offset >= maxOffset {
		return nil, nil
	}
	var out []byte
	budget, whole := int64(maxBytes), true
	for j := range sn.segs {
		v := sn.view(j)
		var found, more bool
		out, found, more, err = l.readView(out, v, offset, budget, whole, maxOffset, sn.interval)
		if err != nil {
			return nil, readErr(v, err)
		}
		if !found {
			continue // nothing at or after offset in this segment
		}
		if !more {
			break
		}
		budget, whole, offset = int64(maxBytes)-int64(len(out)), false, v.end
	}
	return out, nil
}

// readView appends to dst the whole batches of v from the one holding
// offset, totalling at most budget (the first one whole even if larger
// when whole is set) and below maxOffset. found is false if v holds no
// batch at or after offset; more is true if the read reached the end of v,
// so that the next segment may add to it.
func (l *Log) readView(dst []byte, v segView, offset, budget int64, whole bool, maxOffset int64, interval int32) ([]byte, bool, bool, error) {
	if v.size == 0 {
		return dst, false, false, nil
	}
	h, err := l.handles.acquire(v.seg.logPath)
	if err != nil {
		return dst, false, false, err
	}
	defer l.handles.release(h)
	w := newWalker(h.f, v.size)
	defer w.release()
	pos, first, found, err := l.locate(w, v, offset, interval)
	if err != nil || !found {
		return dst, found, false, err
	}
	if first.LastOffset() >= maxOffset || (!whole && int64(first.Size()) > budget) {
		return dst, true, false, nil
	}
	if whole {
		budget = max(budget, int64(first.Size()))
	}
	want := min(budget, v.size-pos)
	n0 := len(dst)
	dst = slices.Grow(dst, int(want))[:n0+int(want)]
	buf := dst[n0:]
	if n, err := h.f.ReadAt(buf, pos); int64(n) < want {
		if err == nil || err == io.EOF {
			err = fmt.Errorf("%w: segment %s shorter than expected", ErrCorrupt, v.seg.logPath)
		}
		return dst[:n0], true, false, err
	}
	end := int64(0)
	for end+batch.HeaderSize <= want {
		bh, err := parseHeader(buf[end:])
		if err != nil {
			if end == 0 {
				return dst[:n0], true, false, err
			}
			break
		}
		if end+int64(bh.Size()) > want || bh.LastOffset() >= maxOffset {
			break
		}
		end += int64(bh.Size())
	}
	return dst[:n0+int(end)], true, pos+end == v.size, nil
}

// readBatchAt returns the bytes of the batch whose header h is at pos.
func readBatchAt(r io.ReaderAt, pos int64, h batch.Header) ([]byte, error) {
	buf := make([]byte, h.Size())
	if n, err := r.ReadAt(buf, pos); n < h.Size() {
		if err == nil || err == io.EOF {
			err = fmt.Errorf("%w: torn batch at position %d", ErrCorrupt, pos)
		}
		return nil, err
	}
	return buf, nil
}

// FindBatchByTimestamp returns the first batch (in offset order, at or above the
// log start offset) whose max timestamp is >= ts, using the time index; the
// caller refines to the record inside. found is false when no batch qualifies.
func (l *Log) FindBatchByTimestamp(ts int64) ([]byte, bool, error) {
	for attempt := 0; ; attempt++ {
		var sn snapshot
		b, found, err := l.findBatchByTimestamp(&sn, ts)
		if attempt < maxReadAttempts && sn.stale() {
			continue
		}
		return b, found, err
	}
}

func (l *Log) findBatchByTimestamp(sn *snapshot, ts int64) ([]byte, bool, error) {
	var err error
	if *sn, err = l.snapshot(-1); err != nil {
		return nil, false, err
	}
	for j := range sn.segs {
		v := sn.view(j)
		if v.size == 0 {
			continue
		}
		segMax, _, err := l.viewMaxTimestamp(v, sn.interval)
		if err != nil {
			return nil, false, readErr(v, err)
		}
		if segMax < ts {
			continue
		}
		b, found, err := l.findTimestampInView(v, ts, sn.logStart, sn.interval)
		if err != nil {
			return nil, false, readErr(v, err)
		}
		if found {
			return b, true, nil
		}
	}
	return nil, false, nil
}

func (l *Log) findTimestampInView(v segView, ts, logStart int64, interval int32) ([]byte, bool, error) {
	x, err := l.viewIndex(v, interval)
	if err != nil {
		return nil, false, err
	}
	h, err := l.handles.acquire(v.seg.logPath)
	if err != nil {
		return nil, false, err
	}
	defer l.handles.release(h)
	w := newWalker(h.f, v.size)
	defer w.release()
	pos := int64(0)
	if rel, ok := lookupTime(x.times, ts); ok {
		if pos, err = checkEntry(w, v.seg.base, lookupOffset(x.offsets, rel)); err != nil {
			l.badIndex(v, interval, err)
		}
	}
	retried := pos == 0
	for pos < v.size {
		bh, err := w.header(pos)
		if err != nil && !retried {
			l.badIndex(v, interval, err)
			pos, retried = 0, true
			continue
		}
		if err != nil {
			return nil, false, err
		}
		// Batches the cleaner emptied keep their timestamps but hold no
		// record to answer with.
		if bh.MaxTimestamp >= ts && bh.LastOffset() >= logStart && bh.NumRecords > 0 {
			b, err := readBatchAt(h.f, pos, bh)
			return b, err == nil, err
		}
		pos += int64(bh.Size())
	}
	return nil, false, nil
}

// MaxTimestampBatch returns the batch holding the largest max timestamp in the
// log (the first such batch), for ListOffsets with timestamp -3.
func (l *Log) MaxTimestampBatch() ([]byte, bool, error) {
	for attempt := 0; ; attempt++ {
		var sn snapshot
		b, found, err := l.maxTimestampBatch(&sn)
		if attempt < maxReadAttempts && sn.stale() {
			continue
		}
		return b, found, err
	}
}

func (l *Log) maxTimestampBatch(sn *snapshot) ([]byte, bool, error) {
	var err error
	if *sn, err = l.snapshot(-1); err != nil {
		return nil, false, err
	}
	best, bestTs, bestOff := -1, int64(-1), int64(-1)
	for i := range sn.segs {
		v := sn.view(i)
		if v.size == 0 {
			continue
		}
		ts, off, err := l.viewMaxTimestamp(v, sn.interval)
		if err != nil {
			return nil, false, readErr(v, err)
		}
		if ts > bestTs {
			best, bestTs, bestOff = i, ts, off
		}
	}
	if best < 0 {
		return nil, false, nil
	}
	v := sn.view(best)
	h, err := l.handles.acquire(v.seg.logPath)
	if err != nil {
		return nil, false, readErr(v, err)
	}
	defer l.handles.release(h)
	w := newWalker(h.f, v.size)
	defer w.release()
	pos, bh, found, err := l.locate(w, v, bestOff, sn.interval)
	if err != nil || !found {
		return nil, false, readErr(v, err)
	}
	b, err := readBatchAt(h.f, pos, bh)
	return b, err == nil, readErr(v, err)
}
