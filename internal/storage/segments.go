package storage

import (
	"errors"
	"fmt"
	"io/fs"
)

// SegmentStart describes one segment for ListOffsets v0, which answers
// from the segment files themselves, as Kafka 3.9 did: where each segment
// starts and when its file was last written.
type SegmentStart struct {
	// Offset is the segment's base offset, or the log start offset when
	// that is later (DeleteRecords moved it into the segment).
	Offset int64
	// LastModified is the modification time of the segment's .log file,
	// in unix milliseconds.
	LastModified int64
	// Size is the bytes of whole batches in the segment.
	Size int64
}

// SegmentStarts lists the segments oldest first, the active one last.
func (l *Log) SegmentStarts() ([]SegmentStart, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, ErrClosed
	}
	segs := append([]*segment(nil), l.segments...)
	sizes := make([]int64, len(segs))
	for i, s := range segs {
		sizes[i] = s.size
	}
	logStart := l.logStart.Load()
	l.mu.Unlock()

	// Stat outside the lock: appends need not wait for it. A segment
	// deleted meanwhile by retention (or swapped out by the cleaner) is
	// left out, as a list taken a moment later would leave it.
	out := make([]SegmentStart, 0, len(segs))
	for i, s := range segs {
		fi, err := l.fs.Stat(s.logPath)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("storage: segment %d of %s: %w", s.base, l.dir, err)
		}
		out = append(out, SegmentStart{Offset: max(s.base, logStart), LastModified: fi.ModTime().UnixMilli(), Size: sizes[i]})
	}
	return out, nil
}
