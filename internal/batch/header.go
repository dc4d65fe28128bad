package batch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// HeaderSize is the size of a v2 batch header, records excluded.
const HeaderSize = 61

// Byte positions of the header fields; see doc.go.
const (
	posBaseOffset      = 0
	posLength          = 8
	posLeaderEpoch     = 12
	posMagic           = 16
	posCRC             = 17
	posAttributes      = 21
	posLastOffsetDelta = 23
	posBaseTimestamp   = 27
	posMaxTimestamp    = 35
	posProducerID      = 43
	posProducerEpoch   = 51
	posBaseSequence    = 53
	posNumRecords      = 57

	// prefixSize is what precedes the length-counted bytes: baseOffset and length.
	prefixSize = 12
	// minLength is the smallest legal length field: a header with no records.
	minLength = HeaderSize - prefixSize
)

// Attribute bits of a v2 batch (Header.Attributes).
const (
	// AttrCodecMask selects the codec bits (0-2); the other bits are flags.
	AttrCodecMask     = 0x07
	AttrLogAppendTime = 0x08
	AttrTransactional = 0x10
	AttrControl       = 0x20
	// AttrDeleteHorizon (KIP-534): the base timestamp holds the delete
	// horizon of the batch's tombstones, set by the cleaner.
	AttrDeleteHorizon      = 0x40
	currentMagic      int8 = 2
)

var (
	// ErrTruncated means the bytes end before the header or batch does.
	ErrTruncated = errors.New("batch: truncated")
	// ErrCorrupt means the bytes cannot be a v2 record batch: a bad length,
	// magic, codec or record encoding.
	ErrCorrupt = errors.New("batch: corrupt")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Codec is a batch's compression codec, bits 0-2 of its attributes.
type Codec int8

// The codecs Kafka defines.
const (
	None   Codec = 0
	Gzip   Codec = 1
	Snappy Codec = 2
	LZ4    Codec = 3
	Zstd   Codec = 4
)

// String returns Kafka's name for the codec (compression.type).
func (c Codec) String() string {
	switch c {
	case None:
		return "none"
	case Gzip:
		return "gzip"
	case Snappy:
		return "snappy"
	case LZ4:
		return "lz4"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("codec(%d)", int8(c))
}

// valid reports whether c is one of the codecs Kafka defines.
func (c Codec) valid() bool { return c >= None && c <= Zstd }

// Header is the decoded fixed header of a v2 batch.
type Header struct {
	BaseOffset           int64
	Length               int32 // batchLength: the bytes after this field
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// ParseHeader decodes the header at the start of b. It checks only that b is
// long enough (HeaderSize); the fields are returned as found, so callers that
// trust nothing use [Validate] or [Iterate].
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d bytes, a header needs %d", ErrTruncated, len(b), HeaderSize)
	}
	b = b[:HeaderSize]
	return Header{
		BaseOffset:           int64(binary.BigEndian.Uint64(b[posBaseOffset:])),
		Length:               int32(binary.BigEndian.Uint32(b[posLength:])),
		PartitionLeaderEpoch: int32(binary.BigEndian.Uint32(b[posLeaderEpoch:])),
		Magic:                int8(b[posMagic]),
		CRC:                  binary.BigEndian.Uint32(b[posCRC:]),
		Attributes:           int16(binary.BigEndian.Uint16(b[posAttributes:])),
		LastOffsetDelta:      int32(binary.BigEndian.Uint32(b[posLastOffsetDelta:])),
		BaseTimestamp:        int64(binary.BigEndian.Uint64(b[posBaseTimestamp:])),
		MaxTimestamp:         int64(binary.BigEndian.Uint64(b[posMaxTimestamp:])),
		ProducerID:           int64(binary.BigEndian.Uint64(b[posProducerID:])),
		ProducerEpoch:        int16(binary.BigEndian.Uint16(b[posProducerEpoch:])),
		BaseSequence:         int32(binary.BigEndian.Uint32(b[posBaseSequence:])),
		NumRecords:           int32(binary.BigEndian.Uint32(b[posNumRecords:])),
	}, nil
}

// Size is the whole batch's size in bytes: 12 + Length.
func (h Header) Size() int { return prefixSize + int(h.Length) }

// LastOffset is the offset of the batch's last record.
func (h Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Codec is the batch's compression codec.
func (h Header) Codec() Codec { return Codec(h.Attributes & AttrCodecMask) }

// Transactional reports whether the batch belongs to a transaction.
func (h Header) Transactional() bool { return h.Attributes&AttrTransactional != 0 }

// Control reports whether the batch holds control records (transaction markers).
func (h Header) Control() bool { return h.Attributes&AttrControl != 0 }

// LogAppendTime reports whether the batch's timestamps are the broker's
// append time (MaxTimestamp) rather than the producer's create times.
func (h Header) LogAppendTime() bool { return h.Attributes&AttrLogAppendTime != 0 }

// Idempotent reports whether the batch carries a producer ID.
func (h Header) Idempotent() bool { return h.ProducerID >= 0 }

// LastSequence is the sequence number of the batch's last record. Sequences
// wrap from MaxInt32 to 0, as Kafka's DefaultRecordBatch.incrementSequence.
func (h Header) LastSequence() int32 {
	return IncrementSequence(h.BaseSequence, h.LastOffsetDelta)
}

// IncrementSequence returns seq+n, wrapping past MaxInt32 to 0.
func IncrementSequence(seq, n int32) int32 {
	const maxInt32 = 1<<31 - 1
	if seq > maxInt32-n {
		return n - (maxInt32 - seq) - 1
	}
	return seq + n
}

// computeCRC is the CRC-32C the whole batch b should carry in its header.
func computeCRC(b []byte) uint32 { return crc32.Checksum(b[posAttributes:], castagnoli) }

// SetBaseOffset writes the batch's base offset. The CRC does not cover it.
func SetBaseOffset(b []byte, off int64) {
	binary.BigEndian.PutUint64(b[posBaseOffset:], uint64(off))
}

// SetPartitionLeaderEpoch writes the leader epoch the batch was appended in.
// The CRC does not cover it.
func SetPartitionLeaderEpoch(b []byte, epoch int32) {
	binary.BigEndian.PutUint32(b[posLeaderEpoch:], uint32(epoch))
}

// SetLogAppendTime marks a whole batch b as LogAppendTime stamped ts: it sets
// the timestamp-type bit and maxTimestamp and recomputes the CRC. As in Kafka,
// baseTimestamp and the records' deltas are left alone; readers of a
// LogAppendTime batch take every record's timestamp from maxTimestamp.
func SetLogAppendTime(b []byte, ts int64) {
	attrs := binary.BigEndian.Uint16(b[posAttributes:])
	binary.BigEndian.PutUint16(b[posAttributes:], attrs|AttrLogAppendTime)
	SetMaxTimestamp(b, ts)
}

// SetMaxTimestamp writes the max timestamp of a whole batch b and
// recomputes the CRC. Kafka sets a CreateTime batch's to its records'
// largest timestamp ([Result].MaxTimestamp), whatever the producer wrote,
// so the time index is built from the records.
func SetMaxTimestamp(b []byte, ts int64) {
	binary.BigEndian.PutUint64(b[posMaxTimestamp:], uint64(ts))
	end := min(len(b), prefixSize+int(int32(binary.BigEndian.Uint32(b[posLength:]))))
	binary.BigEndian.PutUint32(b[posCRC:], computeCRC(b[:max(end, HeaderSize)]))
}

// Iterate calls fn with the header and bytes of each whole batch in b, in
// order, until fn returns false. b is a run of batches as stored or fetched:
// a trailing incomplete batch (a fetch cut at its byte limit) ends the walk
// without error. A batch whose length field is too small to hold a header, or
// whose magic is not 2, returns an error wrapping ErrCorrupt. Iterate does not
// check CRCs.
func Iterate(b []byte, fn func(h Header, batch []byte) bool) error {
	pos := 0
	for len(b)-pos >= HeaderSize {
		h, _ := ParseHeader(b[pos:])
		if h.Length < minLength {
			return fmt.Errorf("%w: batch at byte %d has length %d", ErrCorrupt, pos, h.Length)
		}
		if h.Magic != currentMagic {
			return fmt.Errorf("%w: batch at byte %d has magic %d", ErrCorrupt, pos, h.Magic)
		}
		size := h.Size()
		if size > len(b)-pos {
			return nil
		}
		if !fn(h, b[pos:pos+size:pos+size]) {
			return nil
		}
		pos += size
	}
	return nil
}
