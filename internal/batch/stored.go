package batch

import (
	"encoding/binary"
	"fmt"
	"math"
)

// MaxLength is the largest length field [Header.Check] accepts (1 GiB), so
// that a reader of damaged bytes never allocates gigabytes for one batch.
const MaxLength = 1 << 30

// Check reports whether h can be the header of a batch stored in a log,
// from the header alone: a length between a bare header and MaxLength,
// magic 2, a non-negative last offset delta and record count (compaction
// may leave fewer records than the delta implies, even none), and a base
// offset whose last offset and the one after it fit an int64. Errors wrap
// ErrCorrupt. It reads no record and no CRC (see [ValidCRC]).
func (h Header) Check() error {
	switch {
	case h.Length < minLength || h.Length > MaxLength:
		return fmt.Errorf("%w: batch length %d", ErrCorrupt, h.Length)
	case h.Magic != currentMagic:
		return fmt.Errorf("%w: magic %d", ErrCorrupt, h.Magic)
	case h.LastOffsetDelta < 0 || h.NumRecords < 0:
		return fmt.Errorf("%w: last offset delta %d, record count %d", ErrCorrupt, h.LastOffsetDelta, h.NumRecords)
	case h.BaseOffset < 0 || h.BaseOffset > math.MaxInt64-int64(h.LastOffsetDelta)-1:
		return fmt.Errorf("%w: base offset %d", ErrCorrupt, h.BaseOffset)
	}
	return nil
}

// ValidCRC reports whether the CRC-32C in the header of the whole batch b
// (exactly its Size bytes) matches its content.
func ValidCRC(b []byte) bool {
	return len(b) >= HeaderSize && computeCRC(b) == binary.BigEndian.Uint32(b[posCRC:])
}

// AppendHeader appends the 61 header bytes of h to dst, every field as it is
// in h (Length and CRC included: see [Seal]).
func AppendHeader(dst []byte, h Header) []byte {
	be := binary.BigEndian
	dst = be.AppendUint64(dst, uint64(h.BaseOffset))
	dst = be.AppendUint32(dst, uint32(h.Length))
	dst = be.AppendUint32(dst, uint32(h.PartitionLeaderEpoch))
	dst = append(dst, byte(h.Magic))
	dst = be.AppendUint32(dst, h.CRC)
	dst = be.AppendUint16(dst, uint16(h.Attributes))
	dst = be.AppendUint32(dst, uint32(h.LastOffsetDelta))
	dst = be.AppendUint64(dst, uint64(h.BaseTimestamp))
	dst = be.AppendUint64(dst, uint64(h.MaxTimestamp))
	dst = be.AppendUint64(dst, uint64(h.ProducerID))
	dst = be.AppendUint16(dst, uint16(h.ProducerEpoch))
	dst = be.AppendUint32(dst, uint32(h.BaseSequence))
	return be.AppendUint32(dst, uint32(h.NumRecords))
}

// Seal sets the length field of the whole batch b from len(b) and then its
// CRC, for a batch whose other header fields and records are in place.
func Seal(b []byte) {
	binary.BigEndian.PutUint32(b[posLength:], uint32(len(b)-prefixSize))
	binary.BigEndian.PutUint32(b[posCRC:], computeCRC(b))
}
