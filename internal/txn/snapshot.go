package txn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
)

// ErrCorruptSnapshot means snapshot bytes failed their CRC or do not parse.
var ErrCorruptSnapshot = errors.New("txn: corrupt producer snapshot")

const (
	snapshotVersion    = 1
	snapshotHeaderSize = 2 + 4 + 8 + 4         // version, crc, offset, count
	producerFixedSize  = 8 + 2 + 8 + 4 + 8 + 1 // through the batch count
	batchMetadataSize  = 4 + 4 + 8 + 8 + 8     // one batch
	snapshotCRCStart   = 2 + 4                 // the CRC covers what follows it
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MarshalSnapshot encodes the state as of logEndOffset (see doc.go for the
// format). Producers are written by ascending ID, so equal states give equal
// bytes.
func (s *ProducerState) MarshalSnapshot(logEndOffset int64) []byte {
	ids := make([]int64, 0, len(s.producers))
	size := snapshotHeaderSize
	for id, p := range s.producers {
		ids = append(ids, id)
		size += producerFixedSize + len(p.batches)*batchMetadataSize
	}
	slices.Sort(ids)

	be := binary.BigEndian
	b := make([]byte, 0, size)
	b = be.AppendUint16(b, snapshotVersion)
	b = be.AppendUint32(b, 0) // CRC, filled in below
	b = be.AppendUint64(b, uint64(logEndOffset))
	b = be.AppendUint32(b, uint32(len(ids)))
	for _, id := range ids {
		p := s.producers[id]
		b = be.AppendUint64(b, uint64(id))
		b = be.AppendUint16(b, uint16(p.epoch))
		b = be.AppendUint64(b, uint64(p.lastTimestamp))
		b = be.AppendUint32(b, uint32(p.coordinatorEpoch))
		b = be.AppendUint64(b, uint64(p.txnFirstOffset))
		b = append(b, byte(len(p.batches)))
		for _, m := range p.batches {
			b = be.AppendUint32(b, uint32(m.firstSeq))
			b = be.AppendUint32(b, uint32(m.lastSeq))
			b = be.AppendUint64(b, uint64(m.firstOffset))
			b = be.AppendUint64(b, uint64(m.lastOffset))
			b = be.AppendUint64(b, uint64(m.maxTimestamp))
		}
	}
	be.PutUint32(b[2:], crc32.Checksum(b[snapshotCRCStart:], castagnoli))
	return b
}

// UnmarshalSnapshot decodes a snapshot written by MarshalSnapshot and returns
// the state with the log end offset it was taken at; the caller replays the
// log from that offset. Bytes that fail the CRC or do not parse return an
// error wrapping ErrCorruptSnapshot.
func UnmarshalSnapshot(b []byte) (*ProducerState, int64, error) {
	if len(b) < snapshotHeaderSize {
		return nil, 0, fmt.Errorf("%w: %d bytes", ErrCorruptSnapshot, len(b))
	}
	be := binary.BigEndian
	if v := be.Uint16(b); v != snapshotVersion {
		return nil, 0, fmt.Errorf("%w: unknown version %d", ErrCorruptSnapshot, v)
	}
	if want, got := be.Uint32(b[2:]), crc32.Checksum(b[snapshotCRCStart:], castagnoli); want != got {
		return nil, 0, fmt.Errorf("%w: crc %08x, computed %08x", ErrCorruptSnapshot, want, got)
	}
	offset := int64(be.Uint64(b[6:]))
	count := be.Uint32(b[14:])
	b = b[snapshotHeaderSize:]
	if uint64(count) > uint64(len(b)/producerFixedSize) {
		return nil, 0, fmt.Errorf("%w: %d producers in %d bytes", ErrCorruptSnapshot, count, len(b))
	}
	s := newProducerState(int(count))
	for i := range count {
		if len(b) < producerFixedSize {
			return nil, 0, fmt.Errorf("%w: producer %d truncated", ErrCorruptSnapshot, i)
		}
		id := int64(be.Uint64(b))
		p := &producer{
			epoch:            int16(be.Uint16(b[8:])),
			lastTimestamp:    int64(be.Uint64(b[10:])),
			coordinatorEpoch: int32(be.Uint32(b[18:])),
			txnFirstOffset:   int64(be.Uint64(b[22:])),
		}
		n := int(b[30])
		b = b[producerFixedSize:]
		if id < 0 || n > retainedBatches || len(b) < n*batchMetadataSize {
			return nil, 0, fmt.Errorf("%w: producer %d: id %d with %d batches in %d bytes", ErrCorruptSnapshot, i, id, n, len(b))
		}
		if _, dup := s.producers[id]; dup {
			return nil, 0, fmt.Errorf("%w: producer %d appears twice", ErrCorruptSnapshot, id)
		}
		p.batches = make([]batchMetadata, n, retainedBatches)
		for j := range p.batches {
			p.batches[j] = batchMetadata{
				firstSeq:     int32(be.Uint32(b)),
				lastSeq:      int32(be.Uint32(b[4:])),
				firstOffset:  int64(be.Uint64(b[8:])),
				lastOffset:   int64(be.Uint64(b[16:])),
				maxTimestamp: int64(be.Uint64(b[24:])),
			}
			b = b[batchMetadataSize:]
		}
		s.producers[id] = p
		if p.txnFirstOffset != noOffset {
			s.ongoing[id] = p.txnFirstOffset
		}
	}
	if len(b) != 0 {
		return nil, 0, fmt.Errorf("%w: %d trailing bytes", ErrCorruptSnapshot, len(b))
	}
	return s, offset, nil
}
