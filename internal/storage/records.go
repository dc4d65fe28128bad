package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// The cleaner is the one place storage looks inside batches. It does so with
// its own record scanner rather than batch.Records because it needs each
// record's bytes as they are (a surviving record is copied, not re-encoded)
// and must keep offset deltas, which batch.Build renumbers.

// More of the batch header (see doc.go).
const (
	baseTimestampOffset = 27
	producerIDOffset    = 43
	producerEpochOffset = 51
	baseSequenceOffset  = 53

	attrCodecMask     = 0x07
	attrControl       = 0x20
	attrDeleteHorizon = 0x40 // KIP-534: baseTimestamp holds the delete horizon

	codecNone, codecGzip, codecSnappy, codecLZ4, codecZstd = 0, 1, 2, 3, 4

	// maxDecompressed bounds what one batch may decompress to.
	maxDecompressed = 64 << 20
)

// rawRecord is one record of a decompressed records section.
type rawRecord struct {
	whole       []byte // the record with its length prefix
	attributes  byte
	tsDelta     int64
	offsetDelta int32
	rest        []byte // key, value and headers, as encoded
	key         []byte // nil = null
	nullValue   bool
}

// scanRecords calls fn for each of the n records in data (a decompressed
// records section). Bad bytes return an error wrapping ErrCorrupt.
func scanRecords(data []byte, n int32, fn func(r *rawRecord)) error {
	var r rawRecord
	for i := int32(0); i < n; i++ {
		length, k := binary.Varint(data)
		if k <= 0 || length < 1 || length > int64(len(data)-k) {
			return fmt.Errorf("%w: record %d: bad length", ErrCorrupt, i)
		}
		r.whole = data[:k+int(length)]
		body := data[k : k+int(length)]
		data = data[k+int(length):]
		r.attributes = body[0]
		body = body[1:]
		ts, k1 := binary.Varint(body)
		if k1 <= 0 {
			return fmt.Errorf("%w: record %d: bad timestamp delta", ErrCorrupt, i)
		}
		off, k2 := binary.Varint(body[k1:])
		if k2 <= 0 || int64(int32(off)) != off {
			return fmt.Errorf("%w: record %d: bad offset delta", ErrCorrupt, i)
		}
		r.tsDelta, r.offsetDelta = ts, int32(off)
		r.rest = body[k1+k2:]
		keyLen, k3 := binary.Varint(r.rest)
		if k3 <= 0 || keyLen < -1 || keyLen > int64(len(r.rest)-k3) {
			return fmt.Errorf("%w: record %d: bad key length", ErrCorrupt, i)
		}
		p := k3
		r.key = nil
		if keyLen >= 0 {
			r.key = r.rest[p : p+int(keyLen) : p+int(keyLen)]
			p += int(keyLen)
		}
		valueLen, k4 := binary.Varint(r.rest[p:])
		if k4 <= 0 || valueLen < -1 || valueLen > int64(len(r.rest)-p-k4) {
			return fmt.Errorf("%w: record %d: bad value length", ErrCorrupt, i)
		}
		r.nullValue = valueLen < 0
		fn(&r)
	}
	if len(data) != 0 {
		return fmt.Errorf("%w: %d bytes after %d records", ErrCorrupt, len(data), n)
	}
	return nil
}

// appendRawRecord appends r to dst, re-encoding it only when its timestamp
// delta changes.
func appendRawRecord(dst []byte, r *rawRecord, tsDelta int64) []byte {
	if tsDelta == r.tsDelta {
		return append(dst, r.whole...)
	}
	var head [1 + 2*binary.MaxVarintLen64]byte
	h := append(head[:0], r.attributes)
	h = binary.AppendVarint(h, tsDelta)
	h = binary.AppendVarint(h, int64(r.offsetDelta))
	dst = binary.AppendVarint(dst, int64(len(h)+len(r.rest)))
	dst = append(dst, h...)
	return append(dst, r.rest...)
}

// finishBatch fills in the length and CRC of the batch b whose header fields
// are otherwise set.
func finishBatch(b []byte) {
	binary.BigEndian.PutUint32(b[batchLengthOffset:], uint32(len(b)-batchPrefixSize))
	binary.BigEndian.PutUint32(b[crcOffset:], crc32.Checksum(b[attributesOffset:], castagnoli))
}

var (
	zstdDecoder = sync.OnceValue(func() *zstd.Decoder {
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0),
			zstd.WithDecoderMaxMemory(maxDecompressed), zstd.WithDecoderMaxWindow(maxDecompressed))
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

// decompressRecords returns the records section of a batch in plain form,
// reusing scratch's memory where the codec allows.
func decompressRecords(codec int, src, scratch []byte) ([]byte, error) {
	var out []byte
	var err error
	switch codec {
	case codecNone:
		return src, nil
	case codecGzip:
		var r *gzip.Reader
		if r, err = gzip.NewReader(bytes.NewReader(src)); err == nil {
			out, err = io.ReadAll(io.LimitReader(r, maxDecompressed+1))
		}
	case codecSnappy:
		if bytes.HasPrefix(src, xerialMagic) && len(src) >= 16 {
			src = src[16:]
			for len(src) >= 4 && err == nil {
				n := binary.BigEndian.Uint32(src)
				if uint64(n) > uint64(len(src)-4) {
					return nil, fmt.Errorf("%w: snappy: bad xerial chunk", ErrCorrupt)
				}
				var block []byte
				if block, err = unsnappy(src[4:4+n], nil); err == nil {
					out = append(out, block...)
				}
				src = src[4+n:]
			}
		} else {
			out, err = unsnappy(src, scratch)
		}
	case codecLZ4:
		out, err = io.ReadAll(io.LimitReader(lz4.NewReader(bytes.NewReader(src)), maxDecompressed+1))
	case codecZstd:
		out, err = zstdDecoder().DecodeAll(src, scratch[:0])
	default:
		return nil, fmt.Errorf("%w: unknown codec %d", ErrCorrupt, codec)
	}
	if err == nil && len(out) > maxDecompressed {
		err = fmt.Errorf("decompresses past %d bytes", maxDecompressed)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: codec %d: %v", ErrCorrupt, codec, err)
	}
	return out, nil
}

func unsnappy(src, scratch []byte) ([]byte, error) {
	n, err := snappy.DecodedLen(src)
	if err != nil {
		return nil, err
	}
	if n > maxDecompressed {
		return nil, fmt.Errorf("decompresses past %d bytes", maxDecompressed)
	}
	return snappy.Decode(scratch[:cap(scratch)], src)
}

// compressRecords appends src compressed with codec to dst. Snappy is one raw
// block, as librdkafka and franz-go write it.
func compressRecords(dst []byte, codec int, src []byte) []byte {
	switch codec {
	case codecGzip:
		buf := bytes.NewBuffer(dst)
		w := gzip.NewWriter(buf)
		w.Write(src) // writes to a bytes.Buffer cannot fail
		w.Close()
		return buf.Bytes()
	case codecSnappy:
		return append(dst, snappy.Encode(nil, src)...)
	case codecLZ4:
		buf := bytes.NewBuffer(dst)
		w := lz4.NewWriter(buf)
		w.Write(src)
		w.Close()
		return buf.Bytes()
	case codecZstd:
		return zstdEncoder().EncodeAll(src, dst)
	}
	return append(dst, src...)
}
