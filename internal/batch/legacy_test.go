package batch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kerr"
)

var legacyCodecs = []Codec{None, Gzip, Snappy, LZ4}

// sampleLegacy is n messages at offsets base.. with keys and values of
// every kind: null, empty, short and long.
func sampleLegacy(magic int8, base int64, n int) []LegacyMessage {
	msgs := make([]LegacyMessage, n)
	for i := range msgs {
		m := LegacyMessage{Offset: base + int64(i), Magic: magic, Timestamp: -1,
			Key: []byte(fmt.Sprintf("k%d", i)), Value: bytes.Repeat([]byte{byte('a' + i%26)}, i*7%300)}
		if magic == 1 {
			m.Timestamp = 1_700_000_000_000 + int64(i%5)*10 - 20
		}
		switch i % 5 {
		case 1:
			m.Key = nil
		case 2:
			m.Value = nil
		case 3:
			m.Key, m.Value = []byte{}, []byte{}
		}
		msgs[i] = m
	}
	return msgs
}

func sameMessages(t *testing.T, got, want []LegacyMessage) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d messages, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Offset != w.Offset || g.Magic != w.Magic || g.Codec != w.Codec || g.Timestamp != w.Timestamp ||
			g.LogAppendTime != w.LogAppendTime || !sameBytes(g.Key, w.Key) || !sameBytes(g.Value, w.Value) {
			t.Fatalf("message %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

// sameBytes tells null from empty.
func sameBytes(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

func TestLegacyRoundTrip(t *testing.T) {
	for _, magic := range []int8{0, 1} {
		for _, c := range legacyCodecs {
			t.Run(fmt.Sprintf("magic%d/%s", magic, c), func(t *testing.T) {
				want := sampleLegacy(magic, 500, 40)
				for i := range want {
					want[i].Codec = c
				}
				set := BuildLegacy(magic, c, want)
				got, err := ReadLegacy(set)
				if err != nil {
					t.Fatal(err)
				}
				sameMessages(t, got, want)
				// A fetch cut anywhere inside the last message reads the ones before it.
				if c == None {
					last := len(BuildLegacy(magic, c, want[39:]))
					got, err = ReadLegacy(set[:len(set)-last+5])
					if err != nil {
						t.Fatal(err)
					}
					sameMessages(t, got, want[:39])
				}
			})
		}
	}
}

func TestUpConvert(t *testing.T) {
	for _, magic := range []int8{0, 1} {
		for _, c := range legacyCodecs {
			t.Run(fmt.Sprintf("magic%d/%s", magic, c), func(t *testing.T) {
				msgs := sampleLegacy(magic, 77, 60)
				b, code, msg := UpConvert(BuildLegacy(magic, c, msgs))
				if code != 0 {
					t.Fatalf("UpConvert: %d %s", code, msg)
				}
				res := Validate(b, ValidateOptions{MaxBatchBytes: -1})
				if res.Code != 0 {
					t.Fatalf("Validate: %d %s", res.Code, res.Message)
				}
				h := res.Header
				if h.Codec() != c || h.NumRecords != 60 || h.ProducerID != -1 || h.BaseSequence != -1 || h.Transactional() || h.LogAppendTime() {
					t.Fatalf("header %+v", h)
				}
				wantMax := int64(-1)
				for _, m := range msgs {
					wantMax = max(wantMax, m.Timestamp)
				}
				if h.BaseTimestamp != msgs[0].Timestamp || h.MaxTimestamp != wantMax {
					t.Fatalf("timestamps base %d max %d, want %d %d", h.BaseTimestamp, h.MaxTimestamp, msgs[0].Timestamp, wantMax)
				}
				recs, err := Records(b)
				if err != nil {
					t.Fatal(err)
				}
				for i, r := range recs {
					m := msgs[i]
					if r.Offset != int64(i) || r.Timestamp != m.Timestamp || !sameBytes(r.Key, m.Key) || !sameBytes(r.Value, m.Value) || r.Headers != nil {
						t.Fatalf("record %d: %+v, from %+v", i, r, m)
					}
				}
			})
		}
	}
}

// legacyWith builds one message and lets mutate change its bytes; the CRC
// is recomputed unless mutate breaks it on purpose.
func legacyWith(magic int8, attrs byte, offset int64, key, value []byte, mutate func([]byte)) []byte {
	b := appendLegacy(nil, offset, magic, attrs, 1_700_000_000_000, key, value)
	if mutate != nil {
		mutate(b)
		binary.BigEndian.PutUint32(b[legacyPosCRC:], crc32.ChecksumIEEE(b[legacyPosMagic:]))
	}
	return b
}

func TestUpConvertRefuses(t *testing.T) {
	v0 := BuildLegacy(0, None, sampleLegacy(0, 0, 3))
	v1 := BuildLegacy(1, None, sampleLegacy(1, 0, 3))
	gz1 := BuildLegacy(1, Gzip, sampleLegacy(1, 0, 3))
	badCRC := bytes.Clone(v1)
	badCRC[len(badCRC)-1] ^= 1
	nested := appendLegacy(nil, 0, 1, byte(Gzip), 5, nil, legacyCompress(Gzip, 1, gz1))
	innerV0 := appendLegacy(nil, 0, 1, byte(Gzip), 5, nil, legacyCompress(Gzip, 1, v0))
	empty := appendLegacy(nil, 0, 1, byte(Gzip), 5, nil, legacyCompress(Gzip, 1, nil))
	nullWrapper := appendLegacy(nil, 0, 1, byte(Gzip), 5, nil, nil)
	zstdWrapper := appendLegacy(nil, 0, 1, byte(Zstd), 5, nil, zstdEncoder().EncodeAll(v1, nil))
	badOffset := appendLegacy(nil, 1, 1, byte(Gzip), 5, nil, legacyCompress(Gzip, 1, v1)) // last inner offset is 2
	notGzip := appendLegacy(nil, 2, 1, byte(Gzip), 5, nil, []byte("not gzip at all"))
	lat := legacyWith(1, legacyAttrLogAppendTime, 0, nil, []byte("v"), nil)
	for _, tc := range []struct {
		name string
		set  []byte
		code int16
	}{
		{"empty", nil, kerr.InvalidRecord.Code},
		{"short", v1[:5], kerr.CorruptMessage.Code},
		{"truncated", v1[:len(v1)-1], kerr.CorruptMessage.Code},
		{"size below minimum", legacyWith(0, 0, 0, nil, nil, func(b []byte) { binary.BigEndian.PutUint32(b[legacyPosSize:], 13) }), kerr.CorruptMessage.Code},
		{"bad crc", badCRC, kerr.CorruptMessage.Code},
		{"key past end", legacyWith(1, 0, 0, []byte("k"), []byte("v"), func(b []byte) { binary.BigEndian.PutUint32(b[26:], 100) }), kerr.CorruptMessage.Code},
		{"magic 2", legacyWith(0, 0, 0, nil, []byte("v"), func(b []byte) { b[legacyPosMagic] = 2 }), kerr.InvalidRecord.Code},
		{"mixed magics", append(bytes.Clone(v0), v1...), kerr.InvalidRecord.Code},
		{"compressed not alone", append(bytes.Clone(v1), gz1...), kerr.InvalidRecord.Code},
		{"two wrappers", append(bytes.Clone(gz1), gz1...), kerr.InvalidRecord.Code},
		{"nested compression", nested, kerr.InvalidRecord.Code},
		{"inner magic differs", innerV0, kerr.InvalidRecord.Code},
		{"no inner messages", empty, kerr.InvalidRecord.Code},
		{"null wrapper", nullWrapper, kerr.InvalidRecord.Code},
		{"zstd wrapper", zstdWrapper, kerr.InvalidRecord.Code},
		{"wrapper offset below inner", badOffset, kerr.InvalidRecord.Code},
		{"payload not gzip", notGzip, kerr.CorruptMessage.Code},
		{"log append time", lat, kerr.InvalidTimestamp.Code},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, code, msg := UpConvert(tc.set)
			if code != tc.code || b != nil || msg == "" {
				t.Fatalf("UpConvert: code %d (%s), %d bytes; want code %d", code, msg, len(b), tc.code)
			}
		})
	}
}

// A magic 1 wrapper at offset 0 (some librdkafka producers) is accepted,
// its inner offsets taken as they are.
func TestLegacyWrapperOffsetZero(t *testing.T) {
	set := appendLegacy(nil, 0, 1, byte(Gzip), 5, nil, legacyCompress(Gzip, 1, BuildLegacy(1, None, sampleLegacy(1, 0, 3))))
	msgs, err := ReadLegacy(set)
	if err != nil || len(msgs) != 3 || msgs[2].Offset != 2 {
		t.Fatalf("%+v %v", msgs, err)
	}
	if _, code, msg := UpConvert(set); code != 0 {
		t.Fatalf("UpConvert: %d %s", code, msg)
	}
}

// A magic 1 wrapper marked LogAppendTime gives its timestamp to every
// inner message, as Kafka's consumer reads it.
func TestLegacyWrapperLogAppendTime(t *testing.T) {
	set := appendLegacy(nil, 12, 1, byte(Snappy)|legacyAttrLogAppendTime, 4242, nil,
		legacyCompress(Snappy, 1, BuildLegacy(1, None, sampleLegacy(1, 0, 3))))
	msgs, err := ReadLegacy(set)
	if err != nil || len(msgs) != 3 {
		t.Fatal(msgs, err)
	}
	for i, m := range msgs {
		if m.Offset != int64(10+i) || m.Timestamp != 4242 || !m.LogAppendTime {
			t.Fatalf("message %d: %+v", i, m)
		}
	}
}

func TestLZ4HeaderChecksum(t *testing.T) {
	// xxh32Short agrees with pierrec/lz4's header checksum.
	for _, opts := range [][]lz4.Option{nil, {lz4.BlockSizeOption(lz4.Block64Kb), lz4.ChecksumOption(false)}, {lz4.SizeOption(1234)}} {
		var buf bytes.Buffer
		w := lz4.NewWriter(&buf)
		if err := w.Apply(opts...); err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("hello hello hello"))
		w.Close()
		hc, pos, ok := lz4HeaderChecksum(buf.Bytes())
		if !ok || buf.Bytes()[pos] != hc {
			t.Fatalf("options %v: header % x, computed checksum %#x at %d (%v)", opts, buf.Bytes()[:pos+1], hc, pos, ok)
		}
	}
	inner := BuildLegacy(0, None, sampleLegacy(0, 0, 20))
	// Magic 0 is written with Kafka's broken checksum and read with either.
	broken := legacyCompress(LZ4, 0, inner)
	if hc, pos, _ := lz4HeaderChecksum(broken); broken[pos] == hc {
		t.Fatal("magic 0 lz4 frame has the correct header checksum, want Kafka 0.8's")
	}
	correct := legacyCompress(LZ4, 1, inner)
	for name, frame := range map[string][]byte{"broken": broken, "correct": correct} {
		got, err := legacyDecompress(LZ4, 0, frame)
		if err != nil || !bytes.Equal(got, inner) {
			t.Fatalf("%s checksum: %v", name, err)
		}
	}
	if _, err := legacyDecompress(LZ4, 1, broken); err == nil {
		t.Fatal("magic 1 accepted a broken header checksum")
	}
}

func TestLegacyXerialSnappyBlocks(t *testing.T) {
	src := bytes.Repeat([]byte("0123456789abcdef"), 5000) // three 32 KiB blocks
	framed := legacyCompress(Snappy, 1, src)
	if !bytes.HasPrefix(framed, xerialMagic) {
		t.Fatalf("not xerial framed: % x", framed[:16])
	}
	got, err := decompress(Snappy, framed)
	if err != nil || !bytes.Equal(got, src) {
		t.Fatal(err)
	}
}

func TestDownConvert(t *testing.T) {
	recs := sampleRecords(30)
	recs[3].Headers = []RecordHeader{{Key: "h", Value: []byte("dropped")}}
	for _, magic := range []int8{0, 1} {
		for _, c := range legacyCodecs {
			for _, lat := range []bool{false, true} {
				t.Run(fmt.Sprintf("magic%d/%s/logAppendTime=%v", magic, c, lat), func(t *testing.T) {
					o := plain()
					o.Codec, o.LogAppendTime, o.BaseOffset = c, lat, 100
					first := Build(o, recs)
					if lat {
						SetLogAppendTime(first, 1_800_000_000_000)
					}
					ctl := Build(BuildOptions{BaseOffset: 130, ProducerID: 7, Control: true, Transactional: true}, []Record{{Key: []byte{0, 0, 0, 0}, Value: []byte{0, 0, 0, 0, 0, 0}}})
					// Transactional records go to old consumers as plain ones.
					o.BaseOffset, o.LogAppendTime, o.Transactional, o.ProducerID, o.BaseSequence = 131, false, true, 7, 0
					second := Build(o, recs[:5])
					log := append(append(append(bytes.Clone(first), ctl...), second...), second[:20]...) // a partial batch at the end

					fetchOffset := int64(110)
					out, err := DownConvert([]byte("keep"), log, magic, fetchOffset, 1<<20)
					if err != nil {
						t.Fatal(err)
					}
					if string(out[:4]) != "keep" {
						t.Fatal("dst overwritten")
					}
					got, err := ReadLegacy(out[4:])
					if err != nil {
						t.Fatal(err)
					}
					var want []LegacyMessage
					add := func(base int64, lat bool, rs []Record) {
						for i, r := range rs {
							m := LegacyMessage{Offset: base + int64(i), Magic: magic, Codec: c, Timestamp: -1, Key: r.Key, Value: r.Value}
							if c == None && m.Offset < fetchOffset {
								continue // only compressed wrappers carry records before the fetch offset
							}
							if magic == 1 {
								m.Timestamp, m.LogAppendTime = r.Timestamp, lat
								if lat {
									m.Timestamp = 1_800_000_000_000
								}
							}
							want = append(want, m)
						}
					}
					add(100, lat, recs)
					add(131, false, recs[:5])
					sameMessages(t, got, want)

					// After the first batch, output stops at the limit.
					out, err = DownConvert(nil, log, magic, 0, 10)
					if err != nil {
						t.Fatal(err)
					}
					if got, _ := ReadLegacy(out); len(got) != 30 {
						t.Fatalf("limit 10: %d messages, want the first batch's 30", len(got))
					}
				})
			}
		}
	}
}

func TestDownConvertRefusesZstd(t *testing.T) {
	o := plain()
	log := append(Build(o, sampleRecords(3)), func() []byte { o.Codec = Zstd; return Build(o, sampleRecords(3)) }()...)
	if _, err := DownConvert(nil, log, 1, 0, 1<<20); !errors.Is(err, ErrLegacyZstd) {
		t.Fatalf("err %v, want ErrLegacyZstd", err)
	}
}

// Up and down again: what an old producer wrote is what an old consumer
// reads, offsets assigned by the broker.
func TestLegacyUpDown(t *testing.T) {
	for _, c := range legacyCodecs {
		msgs := sampleLegacy(1, 0, 25)
		b, code, msg := UpConvert(BuildLegacy(1, c, msgs))
		if code != 0 {
			t.Fatal(code, msg)
		}
		SetBaseOffset(b, 1000)
		out, err := DownConvert(nil, b, 1, 1000, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ReadLegacy(out)
		if err != nil {
			t.Fatal(err)
		}
		for i := range msgs {
			msgs[i].Offset, msgs[i].Codec = 1000+int64(i), c
		}
		sameMessages(t, got, msgs)
	}
}
