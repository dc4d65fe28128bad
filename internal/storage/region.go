package storage

import (
	"errors"
	"os"
	"sort"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// ErrNoRegion means the log's files are not operating-system files (an
// in-memory filesystem in tests), so there is no file range to send: read
// the bytes with Read instead.
var ErrNoRegion = errors.New("storage: log files cannot be sent as regions")

// Region is a range of a segment file holding whole batches, to be sent to
// a socket with sendfile instead of being copied through memory. The file
// stays open until Release, even if retention deletes the segment or the
// cleaner replaces it meanwhile: the bytes in the range never change.
type Region struct {
	File *os.File
	Pos  int64
	Size int64

	release func()
}

// Release lets the segment's handle go. It must be called exactly once.
func (r *Region) Release() {
	if r.release != nil {
		r.release()
		r.release = nil
	}
}

// ReadRegion is Read without the copy: it locates the same whole batches,
// under the same limits, and returns where they lie in their segment file.
// An empty region (Size 0) means nothing to read; it needs no Release but
// tolerates one.
func (l *Log) ReadRegion(offset int64, maxBytes int32, maxOffset int64) (Region, error) {
	for attempt := 0; ; attempt++ {
		var sn snapshot
		r, err := l.regionOnce(&sn, offset, maxBytes, maxOffset)
		if attempt < maxReadAttempts && sn.stale() {
			r.Release()
			continue
		}
		return r, err
	}
}

func (l *Log) regionOnce(sn *snapshot, offset int64, maxBytes int32, maxOffset int64) (Region, error) {
	var err error
	if *sn, err = l.snapshot(offset); err != nil {
		return Region{}, err
	}
	if offset < sn.logStart || offset > sn.leo {
		return Region{}, ErrOffsetOutOfRange
	}
	if offset == sn.leo || offset >= maxOffset {
		return Region{}, nil
	}
	for j := range sn.segs {
		v := sn.view(j)
		r, found, err := l.regionView(v, offset, maxBytes, maxOffset, sn.interval)
		if err != nil {
			return Region{}, readErr(v, err)
		}
		if found {
			return r, nil
		}
	}
	return Region{}, nil
}

// regionView finds in one segment the batches Read would return. Only
// batch headers are read.
func (l *Log) regionView(v segView, offset int64, maxBytes int32, maxOffset int64, interval int32) (Region, bool, error) {
	if v.size == 0 {
		return Region{}, false, nil
	}
	h, err := l.handles.acquire(v.seg.logPath)
	if err != nil {
		return Region{}, false, err
	}
	osf, ok := h.f.(vfs.OSFile)
	if !ok {
		l.handles.release(h)
		return Region{}, false, ErrNoRegion
	}
	w := newWalker(h.f, v.size)
	defer w.release()
	pos, first, found, err := l.locate(w, v, offset, interval)
	if err != nil || !found || first.lastOffset() >= maxOffset {
		l.handles.release(h)
		return Region{}, found, err
	}
	limit := pos + max(int64(maxBytes), first.size)
	end := pos + first.size
	// Jump with the offset index to the last indexed batch that starts
	// within the limit, so that only the headers after it are read.
	if x, err := l.viewIndex(v, interval); err == nil {
		i := sort.Search(len(x.offsets), func(i int) bool { return int64(x.offsets[i].pos) > limit }) - 1
		if i >= 0 && int64(x.offsets[i].pos) > end {
			e := x.offsets[i]
			if bh, err := w.header(int64(e.pos)); err == nil && bh.lastOffset() == v.seg.base+int64(e.rel) && bh.lastOffset() < maxOffset {
				end = int64(e.pos)
			}
		}
	}
	for end < v.size {
		bh, err := w.header(end)
		if err != nil || end+bh.size > limit || bh.lastOffset() >= maxOffset {
			break
		}
		end += bh.size
	}
	return Region{File: osf.OSFile(), Pos: pos, Size: end - pos, release: func() { l.handles.release(h) }}, true, nil
}
