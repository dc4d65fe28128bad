package storage

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// ErrNoRegion means the log's files are not operating-system files (an
// in-memory filesystem in tests), so there is no file range to send: read
// the bytes with Read instead.
var ErrNoRegion = errors.New("storage: log files cannot be sent as regions")

// Region is whole batches lying in one or more segment files (a read that
// runs across segments), to be sent to a socket with sendfile instead of
// being copied through memory. The files stay open until Release, even if
// retention deletes the segments or the cleaner replaces them meanwhile:
// the bytes in the ranges never change.
type Region struct {
	Parts []RegionPart // in offset order
	Size  int64        // of all the parts
	End   int64        // offset after the last batch; the read's start if empty

	handles []*cachedHandle
	cache   *handleCache
}

// RegionPart is a range of one segment file.
type RegionPart struct {
	File      *os.File
	Pos, Size int64
}

// Release lets the segments' handles go. It must be called once; later
// calls do nothing.
func (r *Region) Release() {
	for _, h := range r.handles {
		r.cache.release(h)
	}
	r.handles = nil
}

// Bytes copies the region's bytes into memory.
func (r *Region) Bytes() ([]byte, error) {
	out := make([]byte, r.Size)
	at := int64(0)
	for _, p := range r.Parts {
		if n, err := p.File.ReadAt(out[at:at+p.Size], p.Pos); int64(n) < p.Size {
			if err == nil || err == io.EOF {
				err = fmt.Errorf("%w: segment %s shorter than expected", ErrCorrupt, p.File.Name())
			}
			return nil, err
		}
		at += p.Size
	}
	return out, nil
}

// maxRegionParts bounds the segments one region spans, and so the file
// handles a response holds until it is sent: a log of tiny segments could
// otherwise pin thousands.
const maxRegionParts = 64

// ReadRegion is Read without the copy: it locates the same whole batches,
// under the same limits, and returns where they lie in their segment files
// (at most maxRegionParts of them: the region then ends before Read's would,
// at End). An empty region (Size 0) means nothing to read.
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
	r := Region{End: offset, cache: l.handles}
	if offset == sn.leo || offset >= maxOffset {
		return r, nil
	}
	budget, whole := int64(maxBytes), true
	for j := 0; j < len(sn.segs) && len(r.Parts) < maxRegionParts; j++ {
		v := sn.view(j)
		found, more, err := l.regionView(&r, v, offset, budget, whole, maxOffset, sn.interval)
		if err != nil {
			r.Release()
			return Region{}, readErr(v, err)
		}
		if !found {
			continue
		}
		if !more {
			break
		}
		budget, whole, offset = int64(maxBytes)-r.Size, false, v.end
	}
	return r, nil
}

// regionView adds to r the part of v that readView would read (only batch
// headers are read), with found and more as readView's.
func (l *Log) regionView(r *Region, v segView, offset, budget int64, whole bool, maxOffset int64, interval int32) (bool, bool, error) {
	if v.size == 0 {
		return false, false, nil
	}
	h, err := l.handles.acquire(v.seg.logPath)
	if err != nil {
		return false, false, err
	}
	keep := false
	defer func() {
		if !keep {
			l.handles.release(h)
		}
	}()
	osf, ok := h.f.(vfs.OSFile)
	if !ok {
		return false, false, ErrNoRegion
	}
	w := newWalker(h.f, v.size)
	defer w.release()
	pos, first, found, err := l.locate(w, v, offset, interval)
	if err != nil || !found {
		return found, false, err
	}
	if first.LastOffset() >= maxOffset || (!whole && int64(first.Size()) > budget) {
		return true, false, nil
	}
	if whole {
		budget = max(budget, int64(first.Size()))
	}
	limit := pos + budget
	end, last := pos+int64(first.Size()), first.LastOffset()
	// Jump with the offset index to the last indexed batch that starts
	// within the limit, so that only the headers after it are read.
	if x, err := l.viewIndex(v, interval); err == nil {
		i := sort.Search(len(x.offsets), func(i int) bool { return int64(x.offsets[i].pos) > limit }) - 1
		if i >= 0 && int64(x.offsets[i].pos) > end {
			e := x.offsets[i]
			if bh, err := w.header(int64(e.pos)); err == nil && bh.LastOffset() == v.seg.base+int64(e.rel) && bh.LastOffset() < maxOffset {
				end, last = int64(e.pos), bh.BaseOffset-1 // whatever lies before it ends below its base
			}
		}
	}
	for end < v.size {
		bh, err := w.header(end)
		if err != nil || end+int64(bh.Size()) > limit || bh.LastOffset() >= maxOffset {
			break
		}
		end, last = end+int64(bh.Size()), bh.LastOffset()
	}
	keep = true
	r.Parts = append(r.Parts, RegionPart{File: osf.OSFile(), Pos: pos, Size: end - pos})
	r.handles = append(r.handles, h)
	r.Size += end - pos
	r.End = last + 1
	return true, end == v.size, nil
}
