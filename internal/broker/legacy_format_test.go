package broker_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/batch"
)

// The tests in this file speak Produce v0-v2 and Fetch v0-v3 (message
// formats 0 and 1) over raw connections, checking the bytes both ways.

// rawLegacy sends one request of a non-flexible version over a new
// connection and decodes the response.
func rawLegacy[Resp kmsg.Response](t *testing.T, addr string, req kmsg.Request) Resp {
	t.Helper()
	body, err := rawRoundTrip(t, addr, kmsg.NewRequestFormatter().AppendRequest(nil, req, 7))
	if err != nil {
		t.Fatal(err)
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if err := resp.ReadFrom(body[4:]); err != nil { // after the correlation ID
		t.Fatalf("decoding key %d v%d response: %v", req.Key(), req.GetVersion(), err)
	}
	return resp.(Resp)
}

func legacyProduce(t *testing.T, addr string, version int16, topic string, records []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(version)
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = records
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return rawLegacy[*kmsg.ProduceResponse](t, addr, req).Topics[0].Partitions[0]
}

func legacyFetch(t *testing.T, addr string, version int16, topic string, offset int64, maxBytes int32) kmsg.FetchResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(version)
	req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = -1, 10, 1, 64<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset, rp.PartitionMaxBytes = offset, maxBytes
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return rawLegacy[*kmsg.FetchResponse](t, addr, req).Topics[0].Partitions[0]
}

// legacyMessages are n messages with distinct keys, values and timestamps
// (none in magic 0), some keys and values null, at producer offsets the
// broker must ignore.
func legacyMessages(magic int8, tag string, n int) []batch.LegacyMessage {
	msgs := make([]batch.LegacyMessage, n)
	for i := range msgs {
		m := batch.LegacyMessage{Offset: int64(900 + i), Timestamp: -1,
			Key: []byte(fmt.Sprintf("%s-k%d", tag, i)), Value: []byte(fmt.Sprintf("%s-v%d", tag, i))}
		if magic == 1 {
			m.Timestamp = 1_700_000_000_000 + int64(i)
		}
		switch i % 4 {
		case 1:
			m.Key = nil
		case 2:
			m.Value = nil
		}
		msgs[i] = m
	}
	return msgs
}

// TestLegacyProduceFetch: Produce v0-v2 with magic 0 and 1 message sets in
// every codec they know are stored as v2 batches (a current consumer reads
// exactly the records, at broker-assigned offsets) and Fetch v0-v3 reads
// them back as magic 0 (v0-v1) or magic 1 (v2-v3) message sets.
func TestLegacyProduceFetch(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "legacy", 1, nil)
	addr := tb.Addr()

	versions, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctxT(t), tb.client())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range versions.ApiKeys {
		if (k.ApiKey == 0 || k.ApiKey == 1) && k.MinVersion != 0 {
			t.Fatalf("ApiVersions: key %d from v%d, want v0", k.ApiKey, k.MinVersion)
		}
	}

	type sent struct {
		offset int64
		msg    batch.LegacyMessage
	}
	var all []sent
	next := int64(0)
	for _, pv := range []struct {
		version int16
		magic   int8
	}{{0, 0}, {1, 0}, {2, 1}} {
		for _, c := range []batch.Codec{batch.None, batch.Gzip, batch.Snappy, batch.LZ4} {
			msgs := legacyMessages(pv.magic, fmt.Sprintf("p%d-%s", pv.version, c), 5)
			r := legacyProduce(t, addr, pv.version, "legacy", batch.BuildLegacy(pv.magic, c, msgs))
			if r.ErrorCode != 0 || r.BaseOffset != next {
				t.Fatalf("produce v%d %s: code %d, base offset %d, want 0 and %d", pv.version, c, r.ErrorCode, r.BaseOffset, next)
			}
			for _, m := range msgs {
				all = append(all, sent{next, m})
				next++
			}
		}
	}

	got := consumeAll(t, tb, "legacy", len(all))
	for i, r := range got {
		w := all[i]
		ts := r.Timestamp.UnixMilli()
		if r.Offset != w.offset || ts != w.msg.Timestamp || !sameNullable(r.Key, w.msg.Key) || !sameNullable(r.Value, w.msg.Value) {
			t.Fatalf("record %d: offset %d ts %d key %q value %q, want %d %d %q %q", i, r.Offset, ts, r.Key, r.Value, w.offset, w.msg.Timestamp, w.msg.Key, w.msg.Value)
		}
	}

	for version := int16(0); version <= 3; version++ {
		magic := int8(1)
		if version <= 1 {
			magic = 0
		}
		for _, from := range []int64{0, 7, 33} {
			var read []batch.LegacyMessage
			for offset := from; offset < next; {
				p := legacyFetch(t, addr, version, "legacy", offset, 1<<20)
				if p.ErrorCode != 0 || p.HighWatermark != next {
					t.Fatalf("fetch v%d at %d: code %d, high watermark %d", version, offset, p.ErrorCode, p.HighWatermark)
				}
				msgs, err := batch.ReadLegacy(p.RecordBatches)
				if err != nil || len(msgs) == 0 {
					t.Fatalf("fetch v%d at %d: %d messages, %v", version, offset, len(msgs), err)
				}
				for _, m := range msgs {
					if m.Offset >= offset { // a compressed wrapper carries the records before too
						read = append(read, m)
					}
				}
				offset = msgs[len(msgs)-1].Offset + 1
			}
			want := all[from:]
			if len(read) != len(want) {
				t.Fatalf("fetch v%d from %d: %d messages, want %d", version, from, len(read), len(want))
			}
			for i, m := range read {
				w := want[i]
				ts := w.msg.Timestamp
				if magic == 0 {
					ts = -1
				}
				if m.Magic != magic || m.Offset != w.offset || m.Timestamp != ts || m.LogAppendTime ||
					!sameNullable(m.Key, w.msg.Key) || !sameNullable(m.Value, w.msg.Value) {
					t.Fatalf("fetch v%d from %d, message %d: %+v, want magic %d offset %d ts %d %q %q", version, from, i, m, magic, w.offset, ts, w.msg.Key, w.msg.Value)
				}
			}
		}
	}
}

// sameNullable tells a null key or value from an empty one.
func sameNullable(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

// TestLegacyProduceRefused: bad message sets get Kafka's error codes and
// leave the partition as it was; Produce v3+ refuses message sets, and
// Produce v0-v2 takes v2 batches, as Kafka 3.x.
func TestLegacyProduceRefused(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "refused", 1, nil)
	addr := tb.Addr()
	good := batch.BuildLegacy(1, batch.None, legacyMessages(1, "good", 3))
	badCRC := bytes.Clone(good)
	badCRC[len(badCRC)-1] ^= 1
	gz := batch.BuildLegacy(1, batch.Gzip, legacyMessages(1, "gz", 2))
	for _, tc := range []struct {
		name    string
		version int16
		records []byte
		code    int16
	}{
		{"bad crc", 2, badCRC, kerr.CorruptMessage.Code},
		{"truncated", 1, good[:len(good)-2], kerr.CorruptMessage.Code},
		{"mixed magics", 2, append(batch.BuildLegacy(0, batch.None, legacyMessages(0, "m", 1)), good...), kerr.InvalidRecord.Code},
		{"compressed and more", 2, append(bytes.Clone(gz), good...), kerr.InvalidRecord.Code},
		{"message set in v3", 3, good, kerr.InvalidRecord.Code},
		{"message set in v8", 8, good, kerr.InvalidRecord.Code},
	} {
		if r := legacyProduce(t, addr, tc.version, "refused", tc.records); r.ErrorCode != tc.code {
			t.Fatalf("%s: code %d, want %d", tc.name, r.ErrorCode, tc.code)
		}
	}
	if r := legacyProduce(t, addr, 0, "no-such-topic", good); r.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown topic: code %d", r.ErrorCode)
	}
	if r := legacyProduce(t, addr, 2, "refused", good); r.ErrorCode != 0 || r.BaseOffset != 0 {
		t.Fatalf("good set after bad ones: %+v", r)
	}
	v2 := batch.Build(batch.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, []batch.Record{{Value: []byte("v2 in produce v1")}})
	if r := legacyProduce(t, addr, 1, "refused", v2); r.ErrorCode != 0 || r.BaseOffset != 3 {
		t.Fatalf("v2 batch in produce v1: %+v", r)
	}
	got := consumeAll(t, tb, "refused", 4)
	if string(got[3].Value) != "v2 in produce v1" || string(got[0].Key) != "good-k0" {
		t.Fatalf("records %q %q", got[0].Key, got[3].Value)
	}
}

// TestLegacyProduceValidated: a converted set goes through the v2 path's
// validation: a compacted topic refuses null keys, a CreateTime window
// refuses old magic 1 timestamps, and magic 0 messages, which have none,
// pass it (Kafka skips NO_TIMESTAMP).
func TestLegacyProduceValidated(t *testing.T) {
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	addr := tb.Addr()
	createTopic(t, adm, "compacted", 1, map[string]*string{"cleanup.policy": strp("compact")})
	if r := legacyProduce(t, addr, 2, "compacted", batch.BuildLegacy(1, batch.Gzip, legacyMessages(1, "c", 3))); r.ErrorCode != kerr.InvalidRecord.Code {
		t.Fatalf("null key to a compacted topic: code %d", r.ErrorCode)
	}
	createTopic(t, adm, "window", 1, map[string]*string{"message.timestamp.before.max.ms": strp("3600000")})
	if r := legacyProduce(t, addr, 2, "window", batch.BuildLegacy(1, batch.None, legacyMessages(1, "old", 2))); r.ErrorCode != kerr.InvalidTimestamp.Code {
		t.Fatalf("2023 timestamps with a one-hour window: code %d", r.ErrorCode)
	}
	if r := legacyProduce(t, addr, 1, "window", batch.BuildLegacy(0, batch.None, legacyMessages(0, "none", 2))); r.ErrorCode != 0 || r.BaseOffset != 0 {
		t.Fatalf("magic 0 (no timestamps) with a one-hour window: %+v", r)
	}
	now := time.Now().UnixMilli()
	if r := legacyProduce(t, addr, 2, "window", batch.BuildLegacy(1, batch.None, []batch.LegacyMessage{{Timestamp: now, Value: []byte("now")}})); r.ErrorCode != 0 || r.BaseOffset != 2 {
		t.Fatalf("a current timestamp: %+v", r)
	}
}

// TestLegacyFetchConversions: LogAppendTime topics give magic 1 consumers
// the broker's time, marked so; zstd batches cannot be written as message
// sets (UNSUPPORTED_COMPRESSION_TYPE); headers are dropped; a read large
// enough for sendfile is converted on the copy path and a fetch is cut at
// its byte limit after the first batch.
func TestLegacyFetchConversions(t *testing.T) {
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	addr := tb.Addr()

	createTopic(t, adm, "appendtime", 1, map[string]*string{"message.timestamp.type": strp("LogAppendTime")})
	before := time.Now().UnixMilli()
	r := legacyProduce(t, addr, 2, "appendtime", batch.BuildLegacy(1, batch.Snappy, legacyMessages(1, "lat", 3)))
	if r.ErrorCode != 0 || r.LogAppendTime < before {
		t.Fatalf("produce v2 to a LogAppendTime topic: %+v", r)
	}
	for version, wantTS := range map[int16]int64{3: r.LogAppendTime, 1: -1} {
		p := legacyFetch(t, addr, version, "appendtime", 0, 1<<20)
		msgs, err := batch.ReadLegacy(p.RecordBatches)
		if err != nil || len(msgs) != 3 {
			t.Fatalf("fetch v%d: %d messages, %v", version, len(msgs), err)
		}
		for _, m := range msgs {
			if m.Timestamp != wantTS || m.LogAppendTime != (version == 3) || m.Codec != batch.Snappy {
				t.Fatalf("fetch v%d: %+v, want timestamp %d", version, m, wantTS)
			}
		}
	}

	createTopic(t, adm, "zstd", 1, nil)
	cl := tb.client(kgo.ProducerBatchCompression(kgo.ZstdCompression()), kgo.DefaultProduceTopic("zstd"))
	if err := cl.ProduceSync(ctxT(t), &kgo.Record{Value: bytes.Repeat([]byte("z"), 1000)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if p := legacyFetch(t, addr, 3, "zstd", 0, 1<<20); p.ErrorCode != kerr.UnsupportedCompressionType.Code {
		t.Fatalf("fetch v3 of a zstd batch: code %d", p.ErrorCode)
	}
	// A topic with compression.type=zstd is closed to every Fetch before v10
	// (KIP-110), as in Kafka 3.x, whatever its batches.
	createTopic(t, adm, "zstd-topic", 1, map[string]*string{"compression.type": strp("zstd")})
	if r := legacyProduce(t, addr, 2, "zstd-topic", batch.BuildLegacy(1, batch.None, legacyMessages(1, "z", 2))); r.ErrorCode != 0 {
		t.Fatalf("produce v2 to a zstd topic: code %d", r.ErrorCode)
	}
	for _, v := range []int16{0, 3, 4, 9} {
		if p := legacyFetch(t, addr, v, "zstd-topic", 0, 1<<20); p.ErrorCode != kerr.UnsupportedCompressionType.Code || p.HighWatermark != -1 || len(p.RecordBatches) != 0 {
			t.Fatalf("fetch v%d of a zstd topic: code %d, high watermark %d, %d bytes", v, p.ErrorCode, p.HighWatermark, len(p.RecordBatches))
		}
	}
	if p := legacyFetch(t, addr, 10, "zstd-topic", 0, 1<<20); p.ErrorCode != 0 || p.HighWatermark != 2 || len(p.RecordBatches) == 0 {
		t.Fatalf("fetch v10 of a zstd topic: code %d, high watermark %d", p.ErrorCode, p.HighWatermark)
	}

	createTopic(t, adm, "big", 1, nil)
	cl = tb.client(kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.DefaultProduceTopic("big"), kgo.ProducerBatchMaxBytes(16<<10))
	const n = 3000
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: bytes.Repeat([]byte{'x'}, 40), Timestamp: time.UnixMilli(int64(1e12 + i)),
			Headers: []kgo.RecordHeader{{Key: "dropped", Value: []byte("h")}}}
	}
	if err := cl.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	fetches := 0
	for offset := int64(0); offset < n; fetches++ {
		p := legacyFetch(t, addr, 2, "big", offset, 64<<10)
		msgs, err := batch.ReadLegacy(p.RecordBatches)
		if p.ErrorCode != 0 || err != nil || len(msgs) == 0 {
			t.Fatalf("fetch v2 at %d: code %d, %d messages, %v", offset, p.ErrorCode, len(msgs), err)
		}
		for _, m := range msgs {
			if m.Offset != offset || string(m.Key) != fmt.Sprint(offset) || len(m.Value) != 40 || m.Timestamp != 1e12+offset {
				t.Fatalf("fetch v2: message %+v, want offset %d", m, offset)
			}
			offset++
		}
	}
	t.Logf("%d records read in %d fetches of 64 KiB", n, fetches)
}
