package broker_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// hostileRecord encodes one record field by field, as a hostile producer
// may: length, offsetDelta, keyLen and headerCount are written as given
// (length -2 means the true length).
func hostileRecord(length, offsetDelta, keyLen, headerCount int64, key, value []byte) []byte {
	var body []byte
	body = append(body, 0)                        // attributes
	body = binary.AppendVarint(body, 0)           // timestamp delta
	body = binary.AppendVarint(body, offsetDelta) // offset delta
	body = binary.AppendVarint(body, keyLen)      // key length
	body = append(body, key...)                   // key
	body = binary.AppendVarint(body, int64(len(value)))
	body = append(body, value...)
	body = binary.AppendVarint(body, headerCount)
	if length == -2 {
		length = int64(len(body))
	}
	return append(binary.AppendVarint(nil, length), body...)
}

func goodHostile(i int) []byte {
	return hostileRecord(-2, int64(i), 1, 0, []byte{'k'}, []byte(fmt.Sprintf("v%d", i)))
}

// hostileBatch seals a records section, compressed with codec (0 none, 1
// gzip, 3 lz4, 4 zstd; the payload as given when raw), in a v2 batch of count
// records with a correct CRC.
func hostileBatch(t *testing.T, codec int16, count int32, section []byte, raw bool) []byte {
	t.Helper()
	payload := section
	if !raw {
		var buf bytes.Buffer
		switch codec {
		case 1:
			w := gzip.NewWriter(&buf)
			w.Write(section)
			w.Close()
			payload = buf.Bytes()
		case 3:
			w := lz4.NewWriter(&buf)
			w.Write(section)
			w.Close()
			payload = buf.Bytes()
		case 4:
			enc, err := zstd.NewWriter(nil)
			if err != nil {
				t.Fatal(err)
			}
			payload = enc.EncodeAll(section, nil)
		}
	}
	now := time.Now().UnixMilli()
	kb := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1, Magic: 2, Attributes: codec, LastOffsetDelta: count - 1,
		FirstTimestamp: now, MaxTimestamp: now, ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
		NumRecords: count, Records: payload, Length: int32(49 + len(payload)),
	}
	b := kb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// TestMalformedRecordsRefused sends batches with correct CRCs and garbage
// inside, to a delete and a compacted topic: each is refused with Kafka's
// code, nothing is stored, and what franz-go produces after is consumed
// whole (a stored bad batch would fail the consumer's fetch).
func TestMalformedRecordsRefused(t *testing.T) {
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	createTopic(t, adm, "delete", 1, map[string]*string{"cleanup.policy": strp("delete")})
	createTopic(t, adm, "compacted", 1, map[string]*string{"cleanup.policy": strp("compact")})
	cl := tb.client()

	good3 := concat(goodHostile(0), goodHostile(1), goodHostile(2))
	for _, tc := range []struct {
		name string
		b    []byte
		code int16
	}{
		{"gzip payload not gzip", hostileBatch(t, 1, 3, good3, true), kerr.CorruptMessage.Code},
		{"zstd payload not zstd", hostileBatch(t, 4, 3, []byte("definitely not zstd"), true), kerr.CorruptMessage.Code},
		{"gzip trailer damaged", func() []byte {
			b := hostileBatch(t, 1, 3, good3, false)
			b[len(b)-6] ^= 0xff // inside the gzip CRC-32
			binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
			return b
		}(), kerr.CorruptMessage.Code},
		{"record length -1", hostileBatch(t, 0, 2, concat(goodHostile(0), hostileRecord(-1, 1, 1, 0, []byte{'k'}, nil)), false), kerr.InvalidRecord.Code},
		{"key longer than the record", hostileBatch(t, 0, 1, hostileRecord(-2, 0, 500, 0, []byte{'k'}, []byte("v")), false), kerr.InvalidRecord.Code},
		{"2^31-1 headers (gzip)", hostileBatch(t, 1, 1, hostileRecord(-2, 0, 1, math.MaxInt32, []byte{'k'}, []byte("v")), false), kerr.InvalidRecord.Code},
		{"fewer records than the count (zstd)", hostileBatch(t, 4, 5, good3, false), kerr.InvalidRecord.Code},
		{"more bytes than the records use (lz4)", hostileBatch(t, 3, 3, concat(good3, []byte{9, 9, 9}), false), kerr.InvalidRecord.Code},
		{"offset deltas out of order", hostileBatch(t, 0, 3, concat(goodHostile(0), goodHostile(2), goodHostile(1)), false), kerr.InvalidRecord.Code},
	} {
		for _, topic := range []string{"delete", "compacted"} {
			if r := rawProduce(t, cl, topic, tc.b, -1); r.ErrorCode != tc.code || r.ErrorMessage == nil || r.BaseOffset != -1 {
				t.Errorf("%s to %s: code %d message %v offset %d, want code %d", tc.name, topic, r.ErrorCode, r.ErrorMessage, r.BaseOffset, tc.code)
			}
		}
	}

	// A keyless record in a compacted topic: INVALID_RECORD, with the
	// refused records listed (Produce v8+), as Kafka.
	keyless := hostileBatch(t, 4, 3, concat(goodHostile(0), hostileRecord(-2, 1, -1, 0, nil, []byte("x")), goodHostile(2)), false)
	r := rawProduce(t, cl, "compacted", keyless, -1)
	if r.ErrorCode != kerr.InvalidRecord.Code || len(r.ErrorRecords) != 1 || r.ErrorRecords[0].RelativeOffset != 1 ||
		r.ErrorRecords[0].ErrorMessage == nil || r.ErrorMessage == nil {
		t.Fatalf("keyless record to a compacted topic: %+v", r)
	}
	if r := rawProduce(t, cl, "delete", keyless, -1); r.ErrorCode != 0 || r.BaseOffset != 0 {
		t.Fatalf("keyless record to a delete topic: code %d offset %d", r.ErrorCode, r.BaseOffset)
	}

	// Nothing bad was stored: the compacted topic is empty, and what a
	// real producer sends next, in every codec, is consumed after the
	// keyless batch of the delete topic.
	ends, err := adm.ListEndOffsets(ctxT(t), "compacted", "delete")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := ends.Lookup("compacted", 0); o.Offset != 0 {
		t.Fatalf("compacted topic end offset %d, want 0", o.Offset)
	}
	if o, _ := ends.Lookup("delete", 0); o.Offset != 3 {
		t.Fatalf("delete topic end offset %d, want 3", o.Offset)
	}
	var want []string
	for i, codec := range []kgo.CompressionCodec{kgo.NoCompression(), kgo.GzipCompression(), kgo.SnappyCompression(), kgo.Lz4Compression(), kgo.ZstdCompression()} {
		pc := tb.client(kgo.ProducerBatchCompression(codec), kgo.DefaultProduceTopic("delete"))
		for j := range 4 {
			v := fmt.Sprintf("after %d.%d", i, j)
			want = append(want, v)
			if err := pc.ProduceSync(ctxT(t), &kgo.Record{Key: []byte("k"), Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatalf("produce %s: %v", v, err)
			}
		}
	}
	got := consumeAll(t, tb, "delete", 3+len(want))
	for i, rec := range got[3:] {
		if string(rec.Value) != want[i] || rec.Offset != int64(3+i) {
			t.Fatalf("record %d: %q at %d, want %q at %d", i, rec.Value, rec.Offset, want[i], 3+i)
		}
	}
	if string(got[1].Value) != "x" || got[1].Key != nil {
		t.Fatalf("keyless record read back as %+v", got[1])
	}
}

// TestRecordTimestampsChecked applies message.timestamp.after.max.ms to
// each record, not only to the batch header's max timestamp.
func TestRecordTimestampsChecked(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "ts", 1, map[string]*string{"message.timestamp.after.max.ms": strp("60000")})
	cl := tb.client()
	// Record 1's timestamp is an hour ahead; the header claims it is not.
	section := concat(goodHostile(0), func() []byte {
		var body []byte
		body = append(body, 0)
		body = binary.AppendVarint(body, int64(time.Hour/time.Millisecond))
		body = binary.AppendVarint(body, 1)
		body = binary.AppendVarint(body, -1)
		body = binary.AppendVarint(body, -1)
		body = binary.AppendVarint(body, 0)
		return append(binary.AppendVarint(nil, int64(len(body))), body...)
	}())
	r := rawProduce(t, cl, "ts", hostileBatch(t, 0, 2, section, false), -1)
	if r.ErrorCode != kerr.InvalidTimestamp.Code || len(r.ErrorRecords) != 1 || r.ErrorRecords[0].RelativeOffset != 1 {
		t.Fatalf("future record: %+v", r)
	}
	if r := rawProduce(t, cl, "ts", hostileBatch(t, 0, 2, concat(goodHostile(0), goodHostile(1)), false), -1); r.ErrorCode != 0 || r.BaseOffset != 0 {
		t.Fatalf("good batch: %+v", r)
	}
}
