package batch

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rec is one record's fields as raw as a hostile producer may write them;
// Build's encoder cannot write most of the bad ones.
type rec struct {
	length      *int64 // nil: the true length of what follows
	tsDelta     int64
	offsetDelta int64
	keyLen      int64 // -1 null; the key is min(keyLen, len(key)) bytes of key
	key         []byte
	valueLen    int64
	value       []byte
	headerCount *int64 // nil: len(headers)
	headers     [][2][]byte
	tail        []byte // appended inside the record, after the headers
}

func (r rec) appendTo(dst []byte) []byte {
	var body []byte
	body = append(body, 0)
	body = binary.AppendVarint(body, r.tsDelta)
	body = binary.AppendVarint(body, r.offsetDelta)
	body = binary.AppendVarint(body, r.keyLen)
	body = append(body, r.key...)
	body = binary.AppendVarint(body, r.valueLen)
	body = append(body, r.value...)
	n := int64(len(r.headers))
	if r.headerCount != nil {
		n = *r.headerCount
	}
	body = binary.AppendVarint(body, n)
	for _, h := range r.headers {
		body = binary.AppendVarint(body, int64(len(h[0])))
		body = append(body, h[0]...)
		body = binary.AppendVarint(body, int64(len(h[1])))
		body = append(body, h[1]...)
	}
	body = append(body, r.tail...)
	length := int64(len(body))
	if r.length != nil {
		length = *r.length
	}
	dst = binary.AppendVarint(dst, length)
	return append(dst, body...)
}

// goodRec is a well-formed record i.
func goodRec(i int) rec {
	k, v := []byte(fmt.Sprintf("k%d", i)), []byte(fmt.Sprintf("value %d", i))
	return rec{offsetDelta: int64(i), tsDelta: int64(i), keyLen: int64(len(k)), key: k, valueLen: int64(len(v)), value: v,
		headers: [][2][]byte{{[]byte("h"), []byte("x")}}}
}

func recs(n int, edit func(i int, r *rec)) []byte {
	var b []byte
	for i := range n {
		r := goodRec(i)
		if edit != nil {
			edit(i, &r)
		}
		b = r.appendTo(b)
	}
	return b
}

func ptr(v int64) *int64 { return &v }

// rawBatch wraps a records section in a v2 header counting count records,
// compressed with c (the section is compressed as given), with a correct CRC.
func rawBatch(c Codec, count int32, section []byte) []byte {
	return sealBatch(c, count, section, nil)
}

// sealBatch is rawBatch with payload, when not nil, as the (already
// compressed, or garbage) bytes after the header.
func sealBatch(c Codec, count int32, section, payload []byte) []byte {
	if payload == nil {
		payload = section
		if c != None {
			payload = compress(c, section)
		}
	}
	b := make([]byte, HeaderSize, HeaderSize+len(payload))
	b = append(b, payload...)
	be := binary.BigEndian
	be.PutUint32(b[posLength:], uint32(len(b)-prefixSize))
	be.PutUint32(b[posLeaderEpoch:], math.MaxUint32)
	b[posMagic] = byte(currentMagic)
	be.PutUint16(b[posAttributes:], uint16(c))
	be.PutUint32(b[posLastOffsetDelta:], uint32(count-1))
	be.PutUint64(b[posBaseTimestamp:], 1_700_000_000_000)
	be.PutUint64(b[posMaxTimestamp:], 1_700_000_000_000+uint64(count))
	be.PutUint64(b[posProducerID:], math.MaxUint64)
	be.PutUint16(b[posProducerEpoch:], math.MaxUint16)
	be.PutUint32(b[posBaseSequence:], math.MaxUint32)
	be.PutUint32(b[posNumRecords:], uint32(count))
	return fixCRC(b)
}

// TestValidateMalformedRecords refuses each kind of garbage behind a correct
// CRC, in every codec, with the code Kafka gives it.
func TestValidateMalformedRecords(t *testing.T) {
	const invalid, corrupt = 87, 2 // INVALID_RECORD, CORRUPT_MESSAGE
	if kerr.InvalidRecord.Code != invalid || kerr.CorruptMessage.Code != corrupt {
		t.Fatal("kerr codes moved")
	}
	for _, tc := range []struct {
		name    string
		count   int32
		section []byte
		code    int16
		msg     string // part of the message
	}{
		{"well formed", 3, recs(3, nil), 0, ""},
		{"record length -1", 3, recs(3, func(i int, r *rec) {
			if i == 1 {
				r.length = ptr(-1)
			}
		}), invalid, "record 1: has invalid record size -1"},
		{"record length past the batch", 3, recs(3, func(i int, r *rec) {
			if i == 2 {
				r.length = ptr(1000)
			}
		}), invalid, "record 2"},
		{"record length too short", 2, recs(2, func(i int, r *rec) {
			if i == 0 {
				r.length = ptr(5)
			}
		}), invalid, "record 0"},
		{"record longer than its fields", 2, recs(2, func(i int, r *rec) {
			if i == 0 {
				r.tail = []byte{1, 2, 3}
			}
		}), invalid, "expected to read"},
		{"key longer than the record", 2, recs(2, func(i int, r *rec) {
			if i == 1 {
				r.keyLen = 200
			}
		}), invalid, "record 1: key: length 200"},
		{"key length 2^31-1", 1, recs(1, func(i int, r *rec) { r.keyLen = math.MaxInt32 }), invalid, "key: length"},
		{"key length -2", 1, recs(1, func(i int, r *rec) { r.keyLen, r.key = -2, nil }), invalid, "key: invalid length -2"},
		{"key length overflows int32", 1, recs(1, func(i int, r *rec) { r.keyLen, r.key = 1<<40, nil }), invalid, "key: invalid length varint"},
		{"value longer than the record", 1, recs(1, func(i int, r *rec) { r.valueLen = 100 }), invalid, "value: length 100"},
		{"value length -7", 1, recs(1, func(i int, r *rec) { r.valueLen, r.value = -7, nil }), invalid, "value: invalid length -7"},
		{"2^31-1 headers", 2, recs(2, func(i int, r *rec) { r.headerCount = ptr(math.MaxInt32) }), invalid, "invalid number of record headers 2147483647"},
		{"negative header count", 1, recs(1, func(i int, r *rec) { r.headerCount = ptr(-1) }), invalid, "invalid number of record headers -1"},
		{"negative header key length", 1, recs(1, func(i int, r *rec) {
			r.headers = nil
			r.headerCount = ptr(1)
			r.tail = binary.AppendVarint(binary.AppendVarint(nil, -1), -1)
		}), invalid, "header 0 key: invalid length -1"},
		{"header value past the record", 1, recs(1, func(i int, r *rec) {
			r.headers = nil
			r.headerCount = ptr(1)
			r.tail = binary.AppendVarint(binary.AppendVarint(nil, 0), 50)
		}), invalid, "header 0 value: length 50"},
		{"fewer records than the count", 5, recs(3, nil), invalid, "premature EOF reached at record 3"},
		{"more bytes than the records use", 2, append(recs(2, nil), 0, 0, 0), invalid, "records still remaining"},
		{"one record more than the count", 2, recs(3, nil), invalid, "records still remaining"},
		{"offset deltas out of order", 3, recs(3, func(i int, r *rec) { r.offsetDelta = int64(2 - i) }), invalid, "record 0: has offset delta 2"},
		{"offset deltas with a gap", 3, recs(3, func(i int, r *rec) { r.offsetDelta = int64(2 * i) }), invalid, "record 1: has offset delta 2"},
		{"varint too long", 1, bytes.Repeat([]byte{0xff}, 12), invalid, "record 0: invalid length varint"},
		{"timestamp delta varint cut", 1, []byte{4, 0, 0xff, 0xff, 0xff}, invalid, "record 0"},
		{"empty section", 1, nil, invalid, "premature EOF reached at record 0"},
	} {
		for _, c := range allCodecs {
			t.Run(tc.name+"/"+c.String(), func(t *testing.T) {
				res := Validate(rawBatch(c, tc.count, tc.section), ValidateOptions{MaxBatchBytes: -1})
				if res.Code != tc.code || !strings.Contains(res.Message, tc.msg) {
					t.Fatalf("code %d %q, want %d with %q", res.Code, res.Message, tc.code, tc.msg)
				}
			})
		}
	}
}

// TestValidateBadCompression refuses payloads that do not decompress, or
// decompress to more than the records, with CORRUPT_MESSAGE.
func TestValidateBadCompression(t *testing.T) {
	section := recs(4, nil)
	gz := compress(Gzip, section)
	badTrailer := bytes.Clone(gz)
	badTrailer[len(badTrailer)-5] ^= 1 // the CRC-32 of the gzip trailer
	cut := func(c Codec) []byte { b := compress(c, section); return b[:len(b)-3] }
	junk := func(c Codec) []byte { return append(compress(c, section), "junk after the end"...) }
	// Records of 1 MiB keys of zeros: a small gzip payload that inflates
	// past maxDecompressed as the walk goes.
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	const bombRecords, keyLen = 70, 1 << 20
	zeros := make([]byte, keyLen)
	for i := range bombRecords {
		// length, attributes, timestamp delta, offset delta, key length
		head := binary.AppendVarint(nil, int64(1+1+len(binary.AppendVarint(nil, int64(i)))+len(binary.AppendVarint(nil, keyLen))+keyLen+1+1))
		head = append(head, 0, 0)
		head = binary.AppendVarint(head, int64(i))
		head = binary.AppendVarint(head, keyLen)
		zw.Write(head)
		zw.Write(zeros)
		zw.Write([]byte{1, 0}) // null value, no headers
	}
	zw.Close()
	hugeKey := compress(Gzip, recs(1, func(i int, r *rec) { r.length, r.keyLen = ptr(math.MaxInt32), math.MaxInt32-20 }))
	for _, tc := range []struct {
		name    string
		c       Codec
		payload []byte
		msg     string
		count   int32 // 4 unless set
	}{
		{"gzip payload not gzip", Gzip, []byte("this is not gzip at all"), "gzip", 0},
		{"lz4 payload not lz4", LZ4, []byte("this is not lz4 at all"), "lz4", 0},
		{"zstd payload not zstd", Zstd, []byte("this is not zstd at all"), "zstd", 0},
		{"snappy payload not snappy", Snappy, []byte{0xff, 0xff, 0xff, 0x01, 1, 2, 3}, "snappy", 0},
		{"xerial chunk past the end", Snappy, append(append(bytes.Clone(xerialMagic), 0, 0, 0, 1, 0, 0, 0, 1), 0, 0, 1, 0, 9), "xerial", 0},
		{"uncompressed records flagged gzip", Gzip, section, "gzip", 0},
		{"gzip trailer checksum", Gzip, badTrailer, "does not decompress", 0},
		{"gzip cut", Gzip, cut(Gzip), "does not decompress", 0},
		{"lz4 cut", LZ4, cut(LZ4), "does not decompress", 0},
		{"zstd cut", Zstd, cut(Zstd), "does not decompress", 0},
		{"gzip junk after the stream", Gzip, junk(Gzip), "", 0},
		{"lz4 junk after the stream", LZ4, junk(LZ4), "", 0},
		{"zstd junk after the stream", Zstd, junk(Zstd), "", 0},
		{"snappy junk after the block", Snappy, junk(Snappy), "snappy", 0},
		{"gzip bomb", Gzip, bomb.Bytes(), "decompresses past", bombRecords},
		{"gzip key of 2^31 bytes", Gzip, hugeKey, "decompresses past", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := Validate(sealBatch(tc.c, cmp.Or(tc.count, 4), nil, tc.payload), ValidateOptions{MaxBatchBytes: -1})
			if res.Code != kerr.CorruptMessage.Code || !strings.Contains(res.Message, tc.msg) {
				t.Fatalf("code %d %q, want CORRUPT_MESSAGE with %q", res.Code, res.Message, tc.msg)
			}
		})
	}
}

// TestValidateRecordErrors answers key and timestamp failures per record
// (Produce v8+ record_errors), as Kafka's LogValidator.
func TestValidateRecordErrors(t *testing.T) {
	const now = 1_700_000_000_000
	keyless := recs(5, func(i int, r *rec) {
		if i%2 == 1 {
			r.keyLen, r.key = -1, nil
		}
	})
	times := recs(4, func(i int, r *rec) { r.tsDelta = []int64{0, -10_000, 20_000, 5}[i] }) // base is now
	window := ValidateOptions{MaxBatchBytes: -1, Timestamps: true, Now: now, BeforeMaxMs: 5000, AfterMaxMs: 10_000}
	lat := rawBatch(None, 4, recs(4, nil))
	binary.BigEndian.PutUint16(lat[posAttributes:], AttrLogAppendTime)
	fixCRC(lat)
	noTS := rawBatch(None, 1, recs(1, nil))
	binary.BigEndian.PutUint64(noTS[posBaseTimestamp:], math.MaxUint64) // -1
	fixCRC(noTS)

	for _, tc := range []struct {
		name    string
		b       []byte
		opts    ValidateOptions
		code    int16
		indexes []int32
		msg     string
	}{
		{"keyless ok when not compacted", rawBatch(None, 5, keyless), ValidateOptions{MaxBatchBytes: -1}, 0, nil, ""},
		{"keyless on a compacted topic", rawBatch(Zstd, 5, keyless), ValidateOptions{MaxBatchBytes: -1, Compacted: true}, kerr.InvalidRecord.Code, []int32{1, 3},
			"rejected due to 2 record errors in total"},
		{"all keyed on a compacted topic", rawBatch(LZ4, 4, recs(4, nil)), ValidateOptions{MaxBatchBytes: -1, Compacted: true}, 0, nil, ""},
		{"timestamps outside the window", sealTS(4, times, now), window, kerr.InvalidTimestamp.Code, []int32{1, 2}, "invalid timestamp"},
		{"timestamps unchecked", sealTS(4, times, now), ValidateOptions{MaxBatchBytes: -1}, 0, nil, ""},
		{"timestamps on a LogAppendTime topic", sealTS(4, times, now), ValidateOptions{MaxBatchBytes: -1, Timestamps: true, LogAppendTime: true, Now: now}, 0, nil, ""},
		{"LogAppendTime batch on a LogAppendTime topic", lat, ValidateOptions{MaxBatchBytes: -1, Timestamps: true, LogAppendTime: true, Now: now}, kerr.InvalidTimestamp.Code, []int32{0, 1, 2, 3}, ""},
		{"LogAppendTime batch on a CreateTime topic", lat, ValidateOptions{MaxBatchBytes: -1, Timestamps: true, Now: 1_700_000_000_004, BeforeMaxMs: 1, AfterMaxMs: 1}, 0, nil, ""},
		{"no timestamp on a CreateTime topic", noTS, ValidateOptions{MaxBatchBytes: -1, Timestamps: true, Now: now}, 0, nil, ""},
		{"a key error hides the record's timestamp error", sealTS(2, recs(2, func(i int, r *rec) { r.keyLen, r.key, r.tsDelta = -1, nil, -1e6 }), now),
			ValidateOptions{MaxBatchBytes: -1, Compacted: true, Timestamps: true, Now: now, BeforeMaxMs: 10}, kerr.InvalidRecord.Code, []int32{0, 1}, "Compacted topic cannot accept message without key"},
		{"one timestamp error makes it INVALID_TIMESTAMP", sealTS(2, recs(2, func(i int, r *rec) {
			if i == 0 {
				r.keyLen, r.key = -1, nil
			} else {
				r.tsDelta = -1e6
			}
		}), now), ValidateOptions{MaxBatchBytes: -1, Compacted: true, Timestamps: true, Now: now, BeforeMaxMs: 10}, kerr.InvalidTimestamp.Code, []int32{0, 1}, ""},
		{"structure beats record errors", rawBatch(None, 3, recs(2, func(i int, r *rec) { r.keyLen, r.key = -1, nil })), ValidateOptions{MaxBatchBytes: -1, Compacted: true},
			kerr.InvalidRecord.Code, nil, "premature EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := Validate(tc.b, tc.opts)
			var got []int32
			for _, e := range res.RecordErrors {
				got = append(got, e.Index)
				if e.Message == "" {
					t.Fatalf("record error %d without a message", e.Index)
				}
			}
			if res.Code != tc.code || !slices.Equal(got, tc.indexes) || !strings.Contains(res.Message, tc.msg) {
				t.Fatalf("code %d %q, records %v; want %d %q, records %v", res.Code, res.Message, got, tc.code, tc.msg, tc.indexes)
			}
		})
	}
}

// sealTS is rawBatch (uncompressed) with base timestamp base.
func sealTS(count int32, section []byte, base int64) []byte {
	b := rawBatch(None, count, section)
	binary.BigEndian.PutUint64(b[posBaseTimestamp:], uint64(base))
	return fixCRC(b)
}

// TestValidateMaxTimestamp reports the records' largest timestamp, which
// the header may misstate.
func TestValidateMaxTimestamp(t *testing.T) {
	b := sealTS(3, recs(3, func(i int, r *rec) { r.tsDelta = []int64{5, 50, 7}[i] }), 1000)
	if res := Validate(b, ValidateOptions{MaxBatchBytes: -1}); res.Code != 0 || res.MaxTimestamp != 1050 {
		t.Fatalf("code %d %s, max timestamp %d, want 1050", res.Code, res.Message, res.MaxTimestamp)
	}
}

// TestValidateStreamsLargeRecords accepts records larger than the window and
// records that straddle refills, in every codec.
func TestValidateStreamsLargeRecords(t *testing.T) {
	var rs []Record
	for i := range 40 {
		size := []int{10, windowSize - 3, 3 * windowSize, 1, windowSize + 17, 200}[i%6]
		rs = append(rs, Record{Key: []byte{byte(i)}, Value: bytes.Repeat([]byte{byte(i), 'v'}, size/2),
			Headers: []RecordHeader{{Key: strings.Repeat("h", i*100), Value: bytes.Repeat([]byte{'x'}, i*50)}}, Timestamp: int64(i)})
	}
	for _, c := range allCodecs {
		b := Build(BuildOptions{Codec: c, ProducerID: -1, BaseSequence: -1}, rs)
		if res := Validate(b, ValidateOptions{MaxBatchBytes: -1, Compacted: true}); res.Code != 0 || res.MaxTimestamp != 39 {
			t.Errorf("%s: code %d %s, max timestamp %d", c, res.Code, res.Message, res.MaxTimestamp)
		}
	}
	// xerial blocks in small pieces: refills cross block boundaries.
	raw := Build(plain(), rs)[HeaderSize:]
	framed := append(bytes.Clone(xerialMagic), 0, 0, 0, 1, 0, 0, 0, 1)
	for chunk := range slicesChunk(raw, 1000) {
		block := compress(Snappy, chunk)
		framed = binary.BigEndian.AppendUint32(framed, uint32(len(block)))
		framed = append(framed, block...)
	}
	if res := Validate(sealBatch(Snappy, int32(len(rs)), nil, framed), ValidateOptions{MaxBatchBytes: -1}); res.Code != 0 {
		t.Errorf("xerial: code %d %s", res.Code, res.Message)
	}
}

// TestValidateDoesNotAllocate keeps the hot path free of allocations once
// the decompressor pool is warm.
func TestValidateDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	for _, c := range allCodecs {
		b := Build(BuildOptions{Codec: c, ProducerID: 1, BaseSequence: 0}, sampleRecords(500))
		opts := ValidateOptions{MaxBatchBytes: -1, Timestamps: true, Now: 1_700_000_000_000, BeforeMaxMs: math.MaxInt64, AfterMaxMs: 3_600_000, Compacted: false}
		Validate(b, opts)
		if n := testing.AllocsPerRun(50, func() {
			if res := Validate(b, opts); res.Code != 0 {
				t.Fatalf("%s: %d %s", c, res.Code, res.Message)
			}
		}); n > 0 {
			t.Errorf("%s: %.1f allocations per Validate", c, n)
		}
	}
}

// checkKmsgReads decodes every record of an accepted batch b with franz-go's
// kmsg, as a franz-go consumer would after decompressing it.
func checkKmsgReads(t *testing.T, b []byte, h Header) {
	t.Helper()
	var kb kmsg.RecordBatch
	if err := kb.ReadFrom(b); err != nil {
		t.Fatalf("kmsg batch: %v", err)
	}
	data, err := decompress(h.Codec(), kb.Records)
	if err != nil {
		t.Fatalf("decompress: %v", err)
	}
	for i := range h.NumRecords {
		length, n := binary.Varint(data)
		if n <= 0 || int64(len(data)-n) < length {
			t.Fatalf("record %d: length %d of %d bytes", i, length, len(data))
		}
		var kr kmsg.Record
		if err := kr.ReadFrom(data[:n+int(length)]); err != nil {
			t.Fatalf("kmsg record %d: %v", i, err)
		}
		if kr.OffsetDelta != i {
			t.Fatalf("kmsg record %d: offset delta %d", i, kr.OffsetDelta)
		}
		data = data[n+int(length):]
	}
	if len(data) != 0 {
		t.Fatalf("%d bytes after the records", len(data))
	}
}
