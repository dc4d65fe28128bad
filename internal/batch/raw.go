package batch

import (
	"encoding/binary"
	"fmt"
)

// RawRecord is one record of a (decompressed) records section as it is
// encoded: what a reader that copies records rather than re-encoding them
// (the log cleaner) needs. Its slices alias the section.
type RawRecord struct {
	Whole          []byte // the record with its length prefix
	Attributes     byte
	TimestampDelta int64
	OffsetDelta    int32
	Rest           []byte // key, value and headers, as encoded
	Key            []byte // nil = null
	Value          []byte // nil = null
	Headers        []byte // the header count and headers, as encoded
}

// RecordScanner walks the records of a records section in plain form (see
// [Decompress]) one at a time, without allocating: a scanner kept by its
// user (the log cleaner keeps one per pass) is reset for each batch.
// Headers are not decoded. Bytes that do not fit a record end the walk with
// an error wrapping ErrCorrupt, never a panic.
//
//	s.Reset(section, h.NumRecords)
//	for s.Next() {
//		r := s.Record()
//		...
//	}
//	if err := s.Err(); err != nil { ... }
type RecordScanner struct {
	data []byte
	n, i int32
	err  error
	rec  RawRecord
}

// Reset starts a walk of the n records of section.
func (s *RecordScanner) Reset(section []byte, n int32) {
	*s = RecordScanner{data: section, n: n}
}

// Record is the record Next stopped at; it is overwritten by the next call.
func (s *RecordScanner) Record() *RawRecord { return &s.rec }

// Err is why the walk stopped early: nil after all n records and nothing
// after them.
func (s *RecordScanner) Err() error { return s.err }

// Next decodes the next record and reports whether there was one.
func (s *RecordScanner) Next() bool {
	if s.err != nil {
		return false
	}
	if s.i >= s.n {
		if len(s.data) != 0 {
			s.err = fmt.Errorf("%w: %d bytes after %d records", ErrCorrupt, len(s.data), s.n)
			s.data = nil
		}
		return false
	}
	i, r, data := s.i, &s.rec, s.data
	length, k := binary.Varint(data)
	if k <= 0 || length < 1 || length > int64(len(data)-k) {
		return s.fail(i, "length")
	}
	r.Whole = data[: k+int(length) : k+int(length)]
	body := data[k : k+int(length)]
	s.data = data[k+int(length):]
	r.Attributes = body[0]
	body = body[1:]
	ts, k1 := binary.Varint(body)
	if k1 <= 0 {
		return s.fail(i, "timestamp delta")
	}
	off, k2 := binary.Varint(body[k1:])
	if k2 <= 0 || int64(int32(off)) != off {
		return s.fail(i, "offset delta")
	}
	r.TimestampDelta, r.OffsetDelta = ts, int32(off)
	r.Rest = body[k1+k2:]
	p := 0
	var ok bool
	if r.Key, p, ok = lengthPrefixed(r.Rest, p); !ok {
		return s.fail(i, "key length")
	}
	if r.Value, p, ok = lengthPrefixed(r.Rest, p); !ok {
		return s.fail(i, "value length")
	}
	r.Headers = r.Rest[p:]
	s.i++
	return true
}

func (s *RecordScanner) fail(i int32, field string) bool {
	s.err = fmt.Errorf("%w: record %d: bad %s", ErrCorrupt, i, field)
	return false
}

// lengthPrefixed reads a varint length at b[p:] and that many bytes (-1:
// null, returned as nil); it returns them and the position after.
func lengthPrefixed(b []byte, p int) ([]byte, int, bool) {
	n, k := binary.Varint(b[p:])
	if k <= 0 || n < -1 || n > int64(len(b)-p-k) {
		return nil, p, false
	}
	p += k
	if n < 0 {
		return nil, p, true
	}
	return b[p : p+int(n) : p+int(n)], p + int(n), true
}

// AppendRawRecord appends r to dst with its timestamp delta set to tsDelta:
// its bytes as they are when the delta is unchanged, else re-encoded around
// the same key, value and headers.
func AppendRawRecord(dst []byte, r *RawRecord, tsDelta int64) []byte {
	if tsDelta == r.TimestampDelta {
		return append(dst, r.Whole...)
	}
	n := 1 + varintLen(tsDelta) + varintLen(int64(r.OffsetDelta)) + len(r.Rest)
	dst = binary.AppendVarint(dst, int64(n))
	dst = append(dst, r.Attributes)
	dst = binary.AppendVarint(dst, tsDelta)
	dst = binary.AppendVarint(dst, int64(r.OffsetDelta))
	return append(dst, r.Rest...)
}

// Decompress returns the records section src of a batch compressed with c
// in plain form: src itself for None, else new bytes that reuse scratch's
// memory where the codec allows (raw snappy, zstd). A payload that does not
// decompress, an unknown codec, or one that expands past 64 MiB returns an
// error wrapping ErrCorrupt.
func Decompress(c Codec, src, scratch []byte) ([]byte, error) {
	return decompressInto(c, src, scratch[:0])
}

// Compress appends src compressed with c to dst (src itself for None).
// Snappy is one raw block, as librdkafka and franz-go write it. c must be
// one of the codecs Kafka defines.
func Compress(dst []byte, c Codec, src []byte) []byte {
	switch c {
	case None:
		return append(dst, src...)
	case Zstd:
		return zstdEncoder().EncodeAll(src, dst)
	}
	return append(dst, compress(c, src)...)
}
