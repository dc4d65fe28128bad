package batch

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/pierrec/lz4/v4"
)

// BuildOptions are the header fields of a batch Build writes. The zero value
// is an idempotent batch of producer 0; set ProducerID, ProducerEpoch and
// BaseSequence to -1 for a plain one.
type BuildOptions struct {
	Codec                Codec
	BaseOffset           int64
	PartitionLeaderEpoch int32
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	Transactional        bool
	Control              bool
	LogAppendTime        bool
}

// Build encodes recs as one batch with a correct CRC, for tests and the
// broker's internal topics. Records get consecutive offset deltas 0..n-1 (their
// Offset fields are ignored); Timestamp is absolute, the batch's base
// timestamp is the first record's and its max timestamp the largest. An empty
// recs yields a batch with no records and timestamps -1.
func Build(o BuildOptions, recs []Record) []byte {
	out := make([]byte, HeaderSize, HeaderSize+64*len(recs))
	baseTS, maxTS := int64(-1), int64(-1)
	if len(recs) > 0 {
		baseTS, maxTS = recs[0].Timestamp, recs[0].Timestamp
	}
	var body []byte
	if o.Codec == None {
		body = out
	}
	for i, r := range recs {
		maxTS = max(maxTS, r.Timestamp)
		body = appendRecord(body, int32(i), r.Timestamp-baseTS, r)
	}
	if o.Codec == None {
		out = body
	} else {
		out = append(out, compress(o.Codec, body)...)
	}

	finishBatch(out, o, len(recs), baseTS, maxTS)
	return out
}

// finishBatch writes the header of batch out, whose records section is
// already in place after HeaderSize bytes: n records with offset deltas
// 0..n-1, and the CRC.
func finishBatch(out []byte, o BuildOptions, n int, baseTS, maxTS int64) {
	attrs := uint16(o.Codec) & AttrCodecMask
	if o.LogAppendTime {
		attrs |= AttrLogAppendTime
	}
	if o.Transactional {
		attrs |= AttrTransactional
	}
	if o.Control {
		attrs |= AttrControl
	}
	be := binary.BigEndian
	be.PutUint64(out[posBaseOffset:], uint64(o.BaseOffset))
	be.PutUint32(out[posLength:], uint32(len(out)-prefixSize))
	be.PutUint32(out[posLeaderEpoch:], uint32(o.PartitionLeaderEpoch))
	out[posMagic] = byte(currentMagic)
	be.PutUint16(out[posAttributes:], attrs)
	be.PutUint32(out[posLastOffsetDelta:], uint32(int32(n-1)))
	be.PutUint64(out[posBaseTimestamp:], uint64(baseTS))
	be.PutUint64(out[posMaxTimestamp:], uint64(maxTS))
	be.PutUint64(out[posProducerID:], uint64(o.ProducerID))
	be.PutUint16(out[posProducerEpoch:], uint16(o.ProducerEpoch))
	be.PutUint32(out[posBaseSequence:], uint32(o.BaseSequence))
	be.PutUint32(out[posNumRecords:], uint32(n))
	be.PutUint32(out[posCRC:], computeCRC(out))
}

// appendRecord appends one encoded record. It sizes the record first, so
// that it writes straight into dst without a scratch buffer.
func appendRecord(dst []byte, offsetDelta int32, timestampDelta int64, r Record) []byte {
	n := 1 + varintLen(timestampDelta) + varintLen(int64(offsetDelta)) +
		bytesLen(r.Key) + bytesLen(r.Value) + varintLen(int64(len(r.Headers)))
	for _, h := range r.Headers {
		n += varintLen(int64(len(h.Key))) + len(h.Key) + bytesLen(h.Value)
	}
	dst = binary.AppendVarint(dst, int64(n))
	dst = append(dst, 0) // attributes
	dst = binary.AppendVarint(dst, timestampDelta)
	dst = binary.AppendVarint(dst, int64(offsetDelta))
	dst = appendBytes(dst, r.Key)
	dst = appendBytes(dst, r.Value)
	dst = binary.AppendVarint(dst, int64(len(r.Headers)))
	for _, h := range r.Headers {
		dst = binary.AppendVarint(dst, int64(len(h.Key)))
		dst = append(dst, h.Key...)
		dst = appendBytes(dst, h.Value)
	}
	return dst
}

// varintLen is the size of v as a zig-zag varint.
func varintLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	return (bits.Len64(u|1) + 6) / 7
}

// bytesLen is the encoded size of b as a varint length and bytes.
func bytesLen(b []byte) int {
	if b == nil {
		return 1
	}
	return varintLen(int64(len(b))) + len(b)
}

func appendBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(b)))
	return append(dst, b...)
}

// gzipWriters keeps gzip writers for reuse: each holds about 1 MB of
// compressor state, which dominated the cost of compressing one batch.
var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

// compress encodes the records section with codec c. Snappy is written as one
// raw block, as librdkafka and franz-go do.
func compress(c Codec, src []byte) []byte {
	switch c {
	case Gzip:
		var buf bytes.Buffer
		w := gzipWriters.Get().(*gzip.Writer)
		w.Reset(&buf)
		w.Write(src) // writes to a bytes.Buffer cannot fail
		w.Close()
		gzipWriters.Put(w)
		return buf.Bytes()
	case Snappy:
		return snappy.Encode(nil, src)
	case LZ4:
		var buf bytes.Buffer
		w := lz4.NewWriter(&buf)
		w.Write(src)
		w.Close()
		return buf.Bytes()
	case Zstd:
		return zstdEncoder().EncodeAll(src, nil)
	}
	panic(fmt.Sprintf("batch: Build with unknown codec %d", int8(c)))
}
