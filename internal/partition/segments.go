package partition

import "github.com/samsa-streaming/samsa/internal/storage"

// SegmentStarts lists the log's segments, oldest first, for ListOffsets
// v0, which answers from the segment files.
func (p *Partition) SegmentStarts() ([]storage.SegmentStart, error) {
	return p.log.SegmentStarts()
}
