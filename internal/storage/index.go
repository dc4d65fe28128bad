package storage

import (
	"encoding/binary"
	"fmt"
)

// offsetEntry is one .index entry: the last offset of a batch relative to the
// segment base offset, and the batch's position in the .log file.
type offsetEntry struct {
	rel int32
	pos int32
}

// timeEntry is one .timeindex entry: the largest timestamp so far in the segment
// and the (relative) last offset of the first batch that carried it.
type timeEntry struct {
	ts  int64
	rel int32
}

const (
	offsetEntrySize = 8
	timeEntrySize   = 12
)

func appendOffsetIndex(dst []byte, entries []offsetEntry) []byte {
	for _, e := range entries {
		dst = binary.BigEndian.AppendUint32(dst, uint32(e.rel))
		dst = binary.BigEndian.AppendUint32(dst, uint32(e.pos))
	}
	return dst
}

func appendTimeIndex(dst []byte, entries []timeEntry) []byte {
	for _, e := range entries {
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.ts))
		dst = binary.BigEndian.AppendUint32(dst, uint32(e.rel))
	}
	return dst
}

// decodeOffsetIndex parses a .index file of a segment of segSize bytes whose
// offsets are below base+maxRel. Entries must increase strictly in both fields.
func decodeOffsetIndex(b []byte, segSize int64, maxRel int64) ([]offsetEntry, error) {
	if len(b)%offsetEntrySize != 0 {
		return nil, fmt.Errorf("%w: offset index of %d bytes", ErrCorrupt, len(b))
	}
	entries := make([]offsetEntry, len(b)/offsetEntrySize)
	for i := range entries {
		e := offsetEntry{
			rel: int32(binary.BigEndian.Uint32(b[i*offsetEntrySize:])),
			pos: int32(binary.BigEndian.Uint32(b[i*offsetEntrySize+4:])),
		}
		if e.rel < 0 || int64(e.rel) >= maxRel || e.pos < 0 || int64(e.pos) >= segSize ||
			(i > 0 && (e.rel <= entries[i-1].rel || e.pos <= entries[i-1].pos)) {
			return nil, fmt.Errorf("%w: offset index entry %d (%d, %d)", ErrCorrupt, i, e.rel, e.pos)
		}
		entries[i] = e
	}
	return entries, nil
}

// decodeTimeIndex parses a .timeindex file; timestamps increase strictly and
// offsets do not decrease.
func decodeTimeIndex(b []byte, maxRel int64) ([]timeEntry, error) {
	if len(b)%timeEntrySize != 0 {
		return nil, fmt.Errorf("%w: time index of %d bytes", ErrCorrupt, len(b))
	}
	entries := make([]timeEntry, len(b)/timeEntrySize)
	for i := range entries {
		e := timeEntry{
			ts:  int64(binary.BigEndian.Uint64(b[i*timeEntrySize:])),
			rel: int32(binary.BigEndian.Uint32(b[i*timeEntrySize+8:])),
		}
		if e.ts < 0 || e.rel < 0 || int64(e.rel) >= maxRel ||
			(i > 0 && (e.ts <= entries[i-1].ts || e.rel < entries[i-1].rel)) {
			return nil, fmt.Errorf("%w: time index entry %d (%d, %d)", ErrCorrupt, i, e.ts, e.rel)
		}
		entries[i] = e
	}
	return entries, nil
}

// lookupOffset returns the last entry whose relative offset is <= rel, or a
// zero entry (position 0) if there is none.
func lookupOffset(entries []offsetEntry, rel int64) offsetEntry {
	lo, hi := 0, len(entries) // find first entry with rel > target
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if int64(entries[mid].rel) <= rel {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == 0 {
		return offsetEntry{}
	}
	return entries[lo-1]
}

// lookupTime returns the relative offset of the last entry whose timestamp is
// < ts: every batch up to that offset has a smaller max timestamp.
func lookupTime(entries []timeEntry, ts int64) (int64, bool) {
	lo, hi := 0, len(entries)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if entries[mid].ts < ts {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == 0 {
		return 0, false
	}
	return int64(entries[lo-1].rel), true
}
