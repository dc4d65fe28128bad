package batch

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// maxDecompressed bounds what one batch may decompress to, so a small
// malicious batch cannot make the broker allocate without limit.
const maxDecompressed = 64 << 20

// minRecordSize is the smallest encoded record: a one-byte length and six
// one-byte fields (attributes, timestamp and offset deltas, key and value
// lengths, header count).
const minRecordSize = 7

// Record is one decoded record.
type Record struct {
	Offset    int64
	Timestamp int64
	Key       []byte // nil = null
	Value     []byte // nil = null
	Headers   []RecordHeader
}

// RecordHeader is one header of a record.
type RecordHeader struct {
	Key   string
	Value []byte // nil = null
}

// Records decompresses and decodes every record of the whole batch b. A
// record's offset is baseOffset+offsetDelta; its timestamp is
// baseTimestamp+timestampDelta, or maxTimestamp in a LogAppendTime batch.
// Keys and values alias b when the batch is uncompressed. Records does not
// check the CRC (see [Validate]); bytes that do not decode return an error
// wrapping ErrCorrupt or ErrTruncated, never a panic.
func Records(b []byte) ([]Record, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return nil, err
	}
	if h.Length < minLength || h.Size() > len(b) {
		return nil, fmt.Errorf("%w: batch length %d, %d bytes", ErrTruncated, h.Length, len(b))
	}
	if h.Magic != currentMagic {
		return nil, fmt.Errorf("%w: magic %d", ErrCorrupt, h.Magic)
	}
	if h.NumRecords < 0 {
		return nil, fmt.Errorf("%w: record count %d", ErrCorrupt, h.NumRecords)
	}
	data, err := decompress(h.Codec(), b[HeaderSize:h.Size()])
	if err != nil {
		return nil, err
	}
	recs := make([]Record, 0, min(int(h.NumRecords), len(data)/minRecordSize))
	var sc RecordScanner
	sc.Reset(data, h.NumRecords)
	for sc.Next() {
		raw := sc.Record()
		r := Record{
			Offset:    h.BaseOffset + int64(raw.OffsetDelta),
			Timestamp: h.BaseTimestamp + raw.TimestampDelta,
			Key:       raw.Key,
			Value:     raw.Value,
		}
		if h.LogAppendTime() {
			r.Timestamp = h.MaxTimestamp
		}
		if r.Headers, err = recordHeaders(raw.Headers); err != nil {
			return nil, fmt.Errorf("record %d: %w", len(recs), err)
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return recs, nil
}

// recordHeaders decodes the header count and headers of a record, which
// must end exactly where b does.
func recordHeaders(b []byte) ([]RecordHeader, error) {
	count, k := binary.Varint(b)
	if k <= 0 || count < 0 || count > int64(len(b)-k)/2 {
		return nil, fmt.Errorf("%w: bad header count with %d bytes left", ErrCorrupt, len(b))
	}
	var hs []RecordHeader
	if count > 0 {
		hs = make([]RecordHeader, 0, count)
	}
	p := k
	for range count {
		key, q, ok := lengthPrefixed(b, p)
		if !ok || key == nil {
			return nil, fmt.Errorf("%w: bad header key", ErrCorrupt)
		}
		value, q, ok := lengthPrefixed(b, q)
		if !ok {
			return nil, fmt.Errorf("%w: bad header value", ErrCorrupt)
		}
		hs = append(hs, RecordHeader{Key: string(key), Value: value})
		p = q
	}
	if p != len(b) {
		return nil, fmt.Errorf("%w: %d bytes left in record", ErrCorrupt, len(b)-p)
	}
	return hs, nil
}

// The zstd encoder and decoder are expensive to build and safe for
// concurrent use through EncodeAll/DecodeAll, so one of each is shared.
var (
	zstdDecoder = sync.OnceValue(func() *zstd.Decoder {
		d, err := zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(0),
			zstd.WithDecoderMaxMemory(maxDecompressed),
			zstd.WithDecoderMaxWindow(maxDecompressed))
		if err != nil {
			panic(err) // only bad options, which are constant
		}
		return d
	})
	zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		if err != nil {
			panic(err)
		}
		return e
	})
)

// xerialMagic opens snappy data framed the Java client's way.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// decompress returns the records section of a batch in plain form.
func decompress(c Codec, src []byte) ([]byte, error) { return decompressInto(c, src, nil) }

// decompressInto is decompress writing into dst's memory where it can.
func decompressInto(c Codec, src, dst []byte) ([]byte, error) {
	switch c {
	case None:
		return src, nil
	case Gzip:
		r, err := gzip.NewReader(bytes.NewReader(src))
		if err != nil {
			return nil, fmt.Errorf("%w: gzip: %v", ErrCorrupt, err)
		}
		return readLimited(r, "gzip")
	case Snappy:
		if bytes.HasPrefix(src, xerialMagic) {
			return unxerial(dst, src)
		}
		return unsnappy(dst, src)
	case LZ4:
		return readLimited(lz4.NewReader(bytes.NewReader(src)), "lz4")
	case Zstd:
		out, err := zstdDecoder().DecodeAll(src, dst)
		if err != nil {
			return nil, fmt.Errorf("%w: zstd: %v", ErrCorrupt, err)
		}
		if len(out) > maxDecompressed {
			return nil, fmt.Errorf("%w: zstd: decompresses past %d bytes", ErrCorrupt, maxDecompressed)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: unknown codec %d", ErrCorrupt, int8(c))
}

func readLimited(r io.Reader, name string) ([]byte, error) {
	out, err := io.ReadAll(io.LimitReader(r, maxDecompressed+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
	}
	if len(out) > maxDecompressed {
		return nil, fmt.Errorf("%w: %s: decompresses past %d bytes", ErrCorrupt, name, maxDecompressed)
	}
	return out, nil
}

// unsnappy appends the decoded raw snappy block src to dst.
func unsnappy(dst, src []byte) ([]byte, error) {
	n, err := snappy.DecodedLen(src)
	if err != nil {
		return nil, fmt.Errorf("%w: snappy: %v", ErrCorrupt, err)
	}
	if n > maxDecompressed-len(dst) {
		return nil, fmt.Errorf("%w: snappy: decompresses past %d bytes", ErrCorrupt, maxDecompressed)
	}
	// Decode writes into the room it is given when that is enough, so a
	// reused dst makes this allocation-free.
	dst = slices.Grow(dst, n)
	out, err := snappy.Decode(dst[len(dst):len(dst)+n], src)
	if err != nil {
		return nil, fmt.Errorf("%w: snappy: %v", ErrCorrupt, err)
	}
	return dst[:len(dst)+len(out)], nil
}

// unxerial decodes xerial-framed snappy: magic, two int32 versions, then
// int32-length-prefixed raw blocks.
func unxerial(out, src []byte) ([]byte, error) {
	const headerLen = 16
	if len(src) < headerLen {
		return nil, fmt.Errorf("%w: snappy: short xerial header", ErrCorrupt)
	}
	src = src[headerLen:]
	for len(src) > 0 {
		if len(src) < 4 {
			return nil, fmt.Errorf("%w: snappy: short xerial chunk length", ErrCorrupt)
		}
		n := binary.BigEndian.Uint32(src)
		src = src[4:]
		if uint64(n) > uint64(len(src)) {
			return nil, fmt.Errorf("%w: snappy: xerial chunk of %d bytes with %d left", ErrCorrupt, n, len(src))
		}
		var err error
		if out, err = unsnappy(out, src[:n]); err != nil {
			return nil, err
		}
		src = src[n:]
	}
	return out, nil
}
