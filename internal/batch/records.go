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
	n := min(int(h.NumRecords), len(data)/minRecordSize)
	recs := make([]Record, 0, n)
	d := decoder{b: data}
	for i := int32(0); i < h.NumRecords; i++ {
		r, err := d.record(h)
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		recs = append(recs, r)
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after %d records", ErrCorrupt, len(d.b), h.NumRecords)
	}
	return recs, nil
}

// decoder reads the varint fields of records from b, consuming it.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
	}
}

func (d *decoder) varlong() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int32 {
	v := d.varlong()
	if int64(int32(v)) != v {
		d.fail("varint %d overflows int32", v)
		return 0
	}
	return int32(v)
}

// bytes reads a varint length and that many bytes; -1 is null.
func (d *decoder) bytes() []byte {
	n := d.varint()
	if d.err != nil {
		return nil
	}
	if n == -1 {
		return nil
	}
	if n < 0 || int(n) > len(d.b) {
		d.fail("length %d with %d bytes left", n, len(d.b))
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) record(h Header) (Record, error) {
	length := d.varint()
	if d.err != nil {
		return Record{}, d.err
	}
	if length < 0 || int(length) > len(d.b) {
		return Record{}, fmt.Errorf("%w: record length %d with %d bytes left", ErrCorrupt, length, len(d.b))
	}
	body := decoder{b: d.b[:length]}
	d.b = d.b[length:]

	if len(body.b) < 1 {
		return Record{}, fmt.Errorf("%w: empty record", ErrCorrupt)
	}
	body.b = body.b[1:] // attributes: unused in v2
	tsDelta := body.varlong()
	offDelta := body.varint()
	r := Record{
		Offset:    h.BaseOffset + int64(offDelta),
		Timestamp: h.BaseTimestamp + tsDelta,
		Key:       body.bytes(),
		Value:     body.bytes(),
	}
	if h.LogAppendTime() {
		r.Timestamp = h.MaxTimestamp
	}
	count := body.varint()
	if body.err == nil && (count < 0 || int(count) > len(body.b)/2) {
		body.fail("header count %d with %d bytes left", count, len(body.b))
	}
	if body.err == nil && count > 0 {
		r.Headers = make([]RecordHeader, 0, count)
		for range count {
			key := body.bytes()
			if key == nil && body.err == nil {
				body.fail("null header key")
			}
			value := body.bytes()
			if body.err != nil {
				break
			}
			r.Headers = append(r.Headers, RecordHeader{Key: string(key), Value: value})
		}
	}
	if body.err != nil {
		return Record{}, body.err
	}
	if len(body.b) != 0 {
		return Record{}, fmt.Errorf("%w: %d bytes left in record", ErrCorrupt, len(body.b))
	}
	return r, nil
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
func decompress(c Codec, src []byte) ([]byte, error) {
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
			return unxerial(src)
		}
		return unsnappy(nil, src)
	case LZ4:
		return readLimited(lz4.NewReader(bytes.NewReader(src)), "lz4")
	case Zstd:
		out, err := zstdDecoder().DecodeAll(src, nil)
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
func unxerial(src []byte) ([]byte, error) {
	const headerLen = 16
	if len(src) < headerLen {
		return nil, fmt.Errorf("%w: snappy: short xerial header", ErrCorrupt)
	}
	src = src[headerLen:]
	var out []byte
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
