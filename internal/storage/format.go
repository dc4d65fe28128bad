package storage

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"strconv"
	"strings"
)

// Record batch v2 header layout; see doc.go.
const (
	batchHeaderSize   = 61
	batchLengthOffset = 8
	batchPrefixSize   = 12 // baseOffset + batchLength
	magicOffset       = 16
	crcOffset         = 17
	attributesOffset  = 21
	lastDeltaOffset   = 23
	maxTsOffset       = 35
	recordCountOffset = 57
	minBatchLength    = batchHeaderSize - batchPrefixSize
	// maxBatchLength bounds the batchLength we accept from disk, so a corrupt
	// length cannot make us allocate gigabytes.
	maxBatchLength = 1 << 30
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// batchHeader holds the header fields storage needs.
type batchHeader struct {
	baseOffset      int64
	size            int64 // whole batch: 12 + batchLength
	lastOffsetDelta int32
	maxTimestamp    int64
	recordCount     int32
	crc             uint32
}

func (h batchHeader) lastOffset() int64 { return h.baseOffset + int64(h.lastOffsetDelta) }

// parseHeader reads the header at the start of b (at least batchHeaderSize bytes)
// and checks what can be checked without the body.
func parseHeader(b []byte) (batchHeader, error) {
	if len(b) < batchHeaderSize {
		return batchHeader{}, fmt.Errorf("%w: short batch header (%d bytes)", ErrCorrupt, len(b))
	}
	length := int32(binary.BigEndian.Uint32(b[batchLengthOffset:]))
	h := batchHeader{
		baseOffset:      int64(binary.BigEndian.Uint64(b)),
		size:            batchPrefixSize + int64(length),
		lastOffsetDelta: int32(binary.BigEndian.Uint32(b[lastDeltaOffset:])),
		maxTimestamp:    int64(binary.BigEndian.Uint64(b[maxTsOffset:])),
		recordCount:     int32(binary.BigEndian.Uint32(b[recordCountOffset:])),
		crc:             binary.BigEndian.Uint32(b[crcOffset:]),
	}
	switch {
	case length < minBatchLength || length > maxBatchLength:
		return h, fmt.Errorf("%w: batch length %d", ErrCorrupt, length)
	case b[magicOffset] != 2:
		return h, fmt.Errorf("%w: magic %d", ErrCorrupt, b[magicOffset])
	case h.lastOffsetDelta < 0 || h.recordCount < 0:
		return h, fmt.Errorf("%w: last offset delta %d, record count %d", ErrCorrupt, h.lastOffsetDelta, h.recordCount)
	case h.baseOffset < 0 || h.baseOffset > math.MaxInt64-int64(h.lastOffsetDelta)-1:
		return h, fmt.Errorf("%w: base offset %d", ErrCorrupt, h.baseOffset)
	}
	return h, nil
}

// batchCRCValid reports whether the CRC-32C in the header of the whole batch b
// matches its content.
func batchCRCValid(b []byte) bool {
	return crc32.Checksum(b[attributesOffset:], castagnoli) == binary.BigEndian.Uint32(b[crcOffset:])
}

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
