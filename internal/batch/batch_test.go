package batch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"reflect"
	"testing"

	"github.com/klauspost/compress/snappy"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var allCodecs = []Codec{None, Gzip, Snappy, LZ4, Zstd}

func plain() BuildOptions {
	return BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, PartitionLeaderEpoch: -1}
}

func sampleRecords(n int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = Record{
			Offset:    int64(i),
			Timestamp: 1_700_000_000_000 + int64(i%7)*3 - 5,
			Key:       []byte(fmt.Sprintf("key-%d", i)),
			Value:     bytes.Repeat([]byte{byte(i)}, i%50),
		}
		switch i % 4 {
		case 1:
			recs[i].Key = nil
		case 2:
			recs[i].Value = nil
			recs[i].Headers = []RecordHeader{{Key: "h1", Value: []byte("v1")}, {Key: "", Value: nil}, {Key: "h3", Value: []byte{}}}
		case 3:
			recs[i].Key = []byte{}
		}
	}
	return recs
}

func TestParseHeaderMatchesKmsg(t *testing.T) {
	kb := kmsg.RecordBatch{
		FirstOffset: 0x0102030405060708, PartitionLeaderEpoch: 17, Magic: 2,
		Attributes: 0x7f, LastOffsetDelta: 41, FirstTimestamp: 1234, MaxTimestamp: 5678,
		ProducerID: 99, ProducerEpoch: 3, FirstSequence: 1000, NumRecords: 42, Records: []byte("xyz"),
	}
	kb.Length = int32(minLength + len(kb.Records))
	b := kb.AppendTo(nil)
	h, err := ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	want := Header{
		BaseOffset: kb.FirstOffset, Length: kb.Length, PartitionLeaderEpoch: 17, Magic: 2,
		Attributes: 0x7f, LastOffsetDelta: 41, BaseTimestamp: 1234, MaxTimestamp: 5678,
		ProducerID: 99, ProducerEpoch: 3, BaseSequence: 1000, NumRecords: 42,
	}
	if h != want {
		t.Fatalf("got %+v\nwant %+v", h, want)
	}
	if h.Size() != len(b) || h.LastOffset() != kb.FirstOffset+41 {
		t.Fatalf("size %d (len %d), last offset %d", h.Size(), len(b), h.LastOffset())
	}
	if h.Codec() != Codec(7) || !h.LogAppendTime() || !h.Transactional() || !h.Control() || !h.Idempotent() {
		t.Fatalf("attribute accessors wrong: %+v", h)
	}
	if _, err := ParseHeader(b[:HeaderSize-1]); !errors.Is(err, ErrTruncated) {
		t.Fatalf("short header: %v", err)
	}
}

func TestCodecString(t *testing.T) {
	for c, s := range map[Codec]string{None: "none", Gzip: "gzip", Snappy: "snappy", LZ4: "lz4", Zstd: "zstd", 6: "codec(6)"} {
		if c.String() != s {
			t.Errorf("%d: %q", c, c.String())
		}
	}
}

func TestIncrementSequence(t *testing.T) {
	const maxInt32 = 1<<31 - 1
	for _, tc := range []struct{ seq, n, want int32 }{
		{0, 0, 0}, {0, 4, 4}, {maxInt32 - 2, 2, maxInt32}, {maxInt32 - 2, 3, 0}, {maxInt32, 1, 0}, {maxInt32 - 1, 5, 3},
	} {
		if got := IncrementSequence(tc.seq, tc.n); got != tc.want {
			t.Errorf("IncrementSequence(%d, %d) = %d, want %d", tc.seq, tc.n, got, tc.want)
		}
	}
}

// fixCRC recomputes the CRC after a test has edited covered bytes.
func fixCRC(b []byte) []byte {
	binary.BigEndian.PutUint32(b[posCRC:], crc32.Checksum(b[posAttributes:], castagnoli))
	return b
}

func TestValidate(t *testing.T) {
	good := Build(plain(), sampleRecords(3))
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	put32 := func(pos int, v int32) func([]byte) []byte {
		return func(b []byte) []byte { binary.BigEndian.PutUint32(b[pos:], uint32(v)); return fixCRC(b) }
	}
	idem := plain()
	idem.ProducerID, idem.ProducerEpoch, idem.BaseSequence = 7, 0, 0
	noSeq := idem
	noSeq.BaseSequence = -1
	txnNoPID := plain()
	txnNoPID.Transactional = true
	control := idem
	control.Control = true

	for _, tc := range []struct {
		name string
		b    []byte
		opts ValidateOptions
		code int16
	}{
		{"ok", good, ValidateOptions{MaxBatchBytes: -1}, 0},
		{"ok idempotent", Build(idem, sampleRecords(2)), ValidateOptions{MaxBatchBytes: -1}, 0},
		{"ok at the size limit", good, ValidateOptions{MaxBatchBytes: int32(len(good))}, 0},
		{"ok nonzero base offset", edit(func(b []byte) []byte { SetBaseOffset(b, 99); return b }), ValidateOptions{MaxBatchBytes: -1}, 0},
		{"ok control when allowed", Build(control, sampleRecords(1)), ValidateOptions{MaxBatchBytes: -1, AllowControl: true}, 0},
		{"empty", nil, ValidateOptions{MaxBatchBytes: -1}, kerr.InvalidRecord.Code},
		{"short header", good[:HeaderSize-1], ValidateOptions{MaxBatchBytes: -1}, kerr.CorruptMessage.Code},
		{"truncated", good[:len(good)-1], ValidateOptions{MaxBatchBytes: -1}, kerr.CorruptMessage.Code},
		{"magic 1", edit(func(b []byte) []byte { b[posMagic] = 1; return b }), ValidateOptions{MaxBatchBytes: -1}, kerr.InvalidRecord.Code},
		{"magic 3", edit(func(b []byte) []byte { b[posMagic] = 3; return b }), ValidateOptions{MaxBatchBytes: -1}, kerr.InvalidRecord.Code},
		{"length too small", edit(put32(posLength, minLength-1)), ValidateOptions{MaxBatchBytes: -1}, kerr.CorruptMessage.Code},
		{"negative length", edit(put32(posLength, -5)), ValidateOptions{MaxBatchBytes: -1}, kerr.CorruptMessage.Code},
		{"two batches", append(bytes.Clone(good), good...), ValidateOptions{MaxBatchBytes: -1}, kerr.InvalidRecord.Code},
		{"trailing garbage", append(bytes.Clone(good), 1, 2, 3), ValidateOptions{MaxBatchBytes: -1}, kerr.CorruptMessage.Code},
		{"too large", good, ValidateOptions{MaxBatchBytes: int32(len(good) - 1)}, kerr.MessageTooLarge.Code},
		{"limit zero rejects every batch", good, ValidateOptions{MaxBatchBytes: 0}, kerr.MessageTooLarge.Code},
		{"bad crc", edit(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), ValidateOptions{MaxBatchBytes: -1}, kerr.CorruptMessage.Code},
		{"bad crc field", edit(func(b []byte) []byte { b[posCRC] ^= 1; return b }), ValidateOptions{MaxBatchBytes: -1}, kerr.CorruptMessage.Code},
		{"unknown codec", edit(func(b []byte) []byte { b[posAttributes+1] |= 5; return fixCRC(b) }), ValidateOptions{MaxBatchBytes: -1}, kerr.CorruptMessage.Code},
		{"count mismatch", edit(put32(posNumRecords, 2)), ValidateOptions{MaxBatchBytes: -1}, kerr.InvalidRecord.Code},
		{"zero records", Build(plain(), nil), ValidateOptions{MaxBatchBytes: -1}, kerr.InvalidRecord.Code},
		{"zero count", edit(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[posNumRecords:], 0)
			binary.BigEndian.PutUint32(b[posLastOffsetDelta:], 0xffffffff)
			return fixCRC(b)
		}), ValidateOptions{MaxBatchBytes: -1}, kerr.InvalidRecord.Code},
		{"negative offset delta", edit(put32(posLastOffsetDelta, -3)), ValidateOptions{MaxBatchBytes: -1}, kerr.InvalidRecord.Code},
		{"control from client", Build(control, sampleRecords(1)), ValidateOptions{MaxBatchBytes: -1}, kerr.InvalidRecord.Code},
		{"producer without sequence", Build(noSeq, sampleRecords(1)), ValidateOptions{MaxBatchBytes: -1}, kerr.InvalidRecord.Code},
		{"transactional without producer", Build(txnNoPID, sampleRecords(1)), ValidateOptions{MaxBatchBytes: -1}, kerr.InvalidRecord.Code},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := Validate(tc.b, tc.opts)
			if res.Code != tc.code {
				t.Fatalf("code %d (%s), want %d", res.Code, res.Message, tc.code)
			}
			if (res.Code == 0) != (res.Message == "") || (res.Code == 0) != (res.Header.Magic == 2) {
				t.Fatalf("code %d with message %q and header %+v", res.Code, res.Message, res.Header)
			}
		})
	}
}

func TestRoundTripEveryCodec(t *testing.T) {
	recs := sampleRecords(200)
	for _, c := range allCodecs {
		for _, lat := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/logAppendTime=%v", c, lat), func(t *testing.T) {
				o := BuildOptions{Codec: c, BaseOffset: 1000, PartitionLeaderEpoch: 4, ProducerID: 5, ProducerEpoch: 1, BaseSequence: 10, Transactional: true, LogAppendTime: lat}
				b := Build(o, recs)
				res := Validate(b, ValidateOptions{MaxBatchBytes: 1 << 20})
				if res.Code != 0 {
					t.Fatalf("Validate: %d %s", res.Code, res.Message)
				}
				h := res.Header
				if h.Codec() != c || h.NumRecords != 200 || h.LastOffset() != 1199 || h.ProducerID != 5 ||
					h.ProducerEpoch != 1 || h.BaseSequence != 10 || h.LastSequence() != 209 || !h.Transactional() ||
					h.Control() || h.LogAppendTime() != lat || h.PartitionLeaderEpoch != 4 {
					t.Fatalf("header %+v", h)
				}
				if h.BaseTimestamp != recs[0].Timestamp || h.MaxTimestamp != 1_700_000_000_000+6*3-5 {
					t.Fatalf("timestamps %d %d", h.BaseTimestamp, h.MaxTimestamp)
				}
				got, err := Records(b)
				if err != nil {
					t.Fatal(err)
				}
				want := make([]Record, len(recs))
				for i, r := range recs {
					r.Offset = 1000 + int64(i)
					if lat {
						r.Timestamp = h.MaxTimestamp
					}
					want[i] = r
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("records differ:\n got %+v\nwant %+v", got[:3], want[:3])
				}
			})
		}
	}
}

// kmsgBatch encodes recs with franz-go's kmsg types, as a franz-go producer
// puts them on the wire, uncompressed.
func kmsgBatch(recs []Record, baseTS int64) []byte {
	var body []byte
	for i, r := range recs {
		kr := kmsg.NewRecord()
		kr.TimestampDelta64 = r.Timestamp - baseTS
		kr.OffsetDelta = int32(i)
		kr.Key, kr.Value = r.Key, r.Value
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kmsg.Header{Key: h.Key, Value: h.Value})
		}
		kr.Length = int32(len(kr.AppendTo(nil)) - 1) // encoded with a 1-byte zero length
		body = kr.AppendTo(body)
	}
	kb := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1, Magic: 2, LastOffsetDelta: int32(len(recs) - 1),
		FirstTimestamp: baseTS, MaxTimestamp: baseTS + 100, ProducerID: 11, ProducerEpoch: 2,
		FirstSequence: 0, NumRecords: int32(len(recs)), Records: body,
		Length: int32(minLength + len(body)),
	}
	return fixCRC(kb.AppendTo(nil))
}

func TestRecordsDecodesFranzGoBatches(t *testing.T) {
	recs := sampleRecords(30)
	recs[3].Value = bytes.Repeat([]byte("v"), 300) // multi-byte length varints
	b := kmsgBatch(recs, 1_700_000_000_000)
	if res := Validate(b, ValidateOptions{MaxBatchBytes: -1}); res.Code != 0 {
		t.Fatalf("Validate: %d %s", res.Code, res.Message)
	}
	got, err := Records(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, recs) {
		t.Fatalf("records differ:\n got %+v\nwant %+v", got[:4], recs[:4])
	}
	// And the other way: franz-go reads what Build writes.
	built := Build(BuildOptions{ProducerID: 11, ProducerEpoch: 2}, recs)
	var kb kmsg.RecordBatch
	if err := kb.ReadFrom(built); err != nil {
		t.Fatal(err)
	}
	if uint32(kb.CRC) != crc32.Checksum(built[posAttributes:], castagnoli) || kb.NumRecords != 30 {
		t.Fatalf("kmsg read %+v", kb)
	}
	body := kb.Records
	for i := range recs {
		var kr kmsg.Record
		if err := kr.ReadFrom(body); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if kr.OffsetDelta != int32(i) || !bytes.Equal(kr.Key, recs[i].Key) || !bytes.Equal(kr.Value, recs[i].Value) || len(kr.Headers) != len(recs[i].Headers) {
			t.Fatalf("record %d: %+v", i, kr)
		}
		body = body[len(kr.AppendTo(nil)):]
	}
}

func TestXerialSnappy(t *testing.T) {
	recs := sampleRecords(40)
	raw := Build(plain(), recs)[HeaderSize:]
	framed := append([]byte{}, xerialMagic...)
	framed = binary.BigEndian.AppendUint32(framed, 1)
	framed = binary.BigEndian.AppendUint32(framed, 1)
	for chunk := range slicesChunk(raw, 100) {
		block := snappy.Encode(nil, chunk)
		framed = binary.BigEndian.AppendUint32(framed, uint32(len(block)))
		framed = append(framed, block...)
	}
	b := Build(plain(), recs)[:HeaderSize]
	b = append(b, framed...)
	binary.BigEndian.PutUint32(b[posLength:], uint32(len(b)-prefixSize))
	binary.BigEndian.PutUint16(b[posAttributes:], uint16(Snappy))
	fixCRC(b)
	if res := Validate(b, ValidateOptions{MaxBatchBytes: -1}); res.Code != 0 {
		t.Fatalf("Validate: %d %s", res.Code, res.Message)
	}
	got, err := Records(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 40 || !bytes.Equal(got[39].Key, recs[39].Key) {
		t.Fatalf("got %d records", len(got))
	}
}

func slicesChunk(b []byte, n int) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(b) > 0 {
			k := min(n, len(b))
			if !yield(b[:k]) {
				return
			}
			b = b[k:]
		}
	}
}

func TestRecordsRejectsGarbage(t *testing.T) {
	good := Build(plain(), sampleRecords(5))
	snappyBomb := Build(BuildOptions{Codec: Snappy}, sampleRecords(1))[:HeaderSize]
	snappyBomb = append(snappyBomb, binary.AppendUvarint(nil, 1<<31)...)
	binary.BigEndian.PutUint32(snappyBomb[posLength:], uint32(len(snappyBomb)-prefixSize))
	for name, b := range map[string][]byte{
		"short":      good[:10],
		"truncated":  good[:len(good)-1],
		"count high": func() []byte { b := bytes.Clone(good); binary.BigEndian.PutUint32(b[posNumRecords:], 6); return b }(),
		"count low":  func() []byte { b := bytes.Clone(good); binary.BigEndian.PutUint32(b[posNumRecords:], 4); return b }(),
		"count huge": func() []byte {
			b := bytes.Clone(good)
			binary.BigEndian.PutUint32(b[posNumRecords:], 1<<31-1)
			return b
		}(),
		"bad gzip":    func() []byte { b := bytes.Clone(good); b[posAttributes+1] = byte(Gzip); return b }(),
		"bad lz4":     func() []byte { b := bytes.Clone(good); b[posAttributes+1] = byte(LZ4); return b }(),
		"bad zstd":    func() []byte { b := bytes.Clone(good); b[posAttributes+1] = byte(Zstd); return b }(),
		"bad codec":   func() []byte { b := bytes.Clone(good); b[posAttributes+1] = 6; return b }(),
		"snappy bomb": snappyBomb,
		"record cut":  func() []byte { b := bytes.Clone(good); b[HeaderSize] = 0x7e; return b }(),
	} {
		if _, err := Records(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestSetters(t *testing.T) {
	b := Build(plain(), sampleRecords(4))
	n := len(b)
	b = append(b, Build(plain(), sampleRecords(1))...) // a following batch stays out of the CRC
	SetBaseOffset(b, 500)
	SetPartitionLeaderEpoch(b, 9)
	SetLogAppendTime(b, 42)
	b = b[:n]
	res := Validate(b, ValidateOptions{MaxBatchBytes: -1})
	if res.Code != 0 {
		t.Fatalf("Validate after setters: %d %s", res.Code, res.Message)
	}
	h := res.Header
	if h.BaseOffset != 500 || h.PartitionLeaderEpoch != 9 || !h.LogAppendTime() || h.MaxTimestamp != 42 || h.BaseTimestamp == 42 {
		t.Fatalf("header %+v", h)
	}
	recs, err := Records(b)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		if r.Offset != 500+int64(i) || r.Timestamp != 42 {
			t.Fatalf("record %d: offset %d timestamp %d", i, r.Offset, r.Timestamp)
		}
	}
}

func TestIterate(t *testing.T) {
	var log []byte
	var want []int64
	for i := range 4 {
		o := plain()
		o.BaseOffset = int64(i * 10)
		log = append(log, Build(o, sampleRecords(i+1))...)
		want = append(want, int64(i*10))
	}
	collect := func(b []byte, stopAfter int) ([]int64, error) {
		var got []int64
		err := Iterate(b, func(h Header, batch []byte) bool {
			if h.Size() != len(batch) {
				t.Fatalf("batch of %d bytes for header size %d", len(batch), h.Size())
			}
			got = append(got, h.BaseOffset)
			return len(got) < stopAfter
		})
		return got, err
	}
	if got, err := collect(log, 100); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("whole: %v %v", got, err)
	}
	if got, err := collect(log[:len(log)-1], 100); err != nil || !reflect.DeepEqual(got, want[:3]) {
		t.Fatalf("cut: %v %v", got, err)
	}
	if got, err := collect(log, 2); err != nil || !reflect.DeepEqual(got, want[:2]) {
		t.Fatalf("stopped: %v %v", got, err)
	}
	if got, err := collect(nil, 100); err != nil || got != nil {
		t.Fatalf("empty: %v %v", got, err)
	}
	bad := bytes.Clone(log)
	first, _ := ParseHeader(bad)
	binary.BigEndian.PutUint32(bad[first.Size()+posLength:], 3)
	if got, err := collect(bad, 100); !errors.Is(err, ErrCorrupt) || len(got) != 1 {
		t.Fatalf("corrupt length: %v %v", got, err)
	}
	bad = bytes.Clone(log)
	bad[first.Size()+posMagic] = 1
	if got, err := collect(bad, 100); !errors.Is(err, ErrCorrupt) || len(got) != 1 {
		t.Fatalf("bad magic: %v %v", got, err)
	}
}
