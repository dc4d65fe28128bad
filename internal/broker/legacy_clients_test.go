package broker_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Old sarama versions against the message-format conversions: V0_8_2_0
// speaks Produce v0 / Fetch v0 and V0_9_0_0 Produce v0 / Fetch v1 (magic 0), V0_10_2_0 Produce v2 / Fetch v3
// (magic 1), V1_0_0_0 and V2_0_0_0 record batches at old request versions.

func saramaConfig(version sarama.KafkaVersion, versions *apiVersionLog) *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = version
	cfg.Net.Proxy.Enable = true
	cfg.Net.Proxy.Dialer = versions
	cfg.Metadata.Retry.Backoff = 50 * time.Millisecond
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Producer.Flush.Messages = 10 // several messages to a request, so to a compressed wrapper
	cfg.Producer.Flush.Frequency = 20 * time.Millisecond
	cfg.Consumer.Return.Errors = true
	cfg.Consumer.MaxWaitTime = 100 * time.Millisecond
	return cfg
}

// saramaProduce sends msgs to partition 0 of topic and checks they got
// offsets from..from+len-1, in order.
func saramaProduce(t *testing.T, addr string, cfg *sarama.Config, topic string, from int64, msgs []*sarama.ProducerMessage) {
	t.Helper()
	p, err := sarama.NewSyncProducer([]string{addr}, cfg)
	if err != nil {
		t.Fatalf("sarama producer: %v", err)
	}
	defer p.Close()
	for _, m := range msgs {
		m.Topic, m.Partition = topic, 0
	}
	if err := p.SendMessages(msgs); err != nil {
		t.Fatalf("sarama produce: %v", err)
	}
	for i, m := range msgs {
		if m.Offset != from+int64(i) {
			t.Fatalf("message %d got offset %d, want %d", i, m.Offset, from+int64(i))
		}
	}
}

// saramaConsume reads n messages of partition 0 of topic from offset.
func saramaConsume(t *testing.T, addr string, cfg *sarama.Config, topic string, offset int64, n int) []*sarama.ConsumerMessage {
	t.Helper()
	c, err := sarama.NewConsumer([]string{addr}, cfg)
	if err != nil {
		t.Fatalf("sarama consumer: %v", err)
	}
	defer c.Close()
	pc, err := c.ConsumePartition(topic, 0, offset)
	if err != nil {
		t.Fatalf("sarama consume %s: %v", topic, err)
	}
	defer pc.Close()
	var out []*sarama.ConsumerMessage
	deadline := time.After(30 * time.Second)
	for len(out) < n {
		select {
		case m := <-pc.Messages():
			out = append(out, m)
		case err := <-pc.Errors():
			t.Fatalf("sarama consume %s: %v", topic, err)
		case <-deadline:
			t.Fatalf("sarama read %d of %d messages of %s", len(out), n, topic)
		}
	}
	return out
}

type legacyRecord struct {
	offset     int64
	key, value []byte
	ts         int64 // milliseconds; -1 for none
}

func saramaMessages(tag string, n int, withTimestamps bool) ([]*sarama.ProducerMessage, []legacyRecord) {
	msgs := make([]*sarama.ProducerMessage, n)
	want := make([]legacyRecord, n)
	for i := range msgs {
		key, value := []byte(fmt.Sprintf("%s-k%d", tag, i)), []byte(fmt.Sprintf("%s-v%d-%s", tag, i, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"))
		ts := time.UnixMilli(1_700_000_000_000 + int64(i)*3)
		msgs[i] = &sarama.ProducerMessage{Key: sarama.ByteEncoder(key), Value: sarama.ByteEncoder(value), Timestamp: ts}
		want[i] = legacyRecord{offset: int64(i), key: key, value: value, ts: -1}
		if withTimestamps {
			want[i].ts = ts.UnixMilli()
		}
		if i%7 == 3 {
			msgs[i].Key, want[i].key = nil, nil
		}
	}
	return msgs, want
}

func checkSaramaRead(t *testing.T, what string, got []*sarama.ConsumerMessage, want []legacyRecord) {
	t.Helper()
	for i, m := range got {
		w := want[i]
		ts := m.Timestamp.UnixMilli()
		if m.Timestamp.IsZero() {
			ts = -1
		}
		if m.Offset != w.offset || !sameNullable(m.Key, w.key) || !sameNullable(m.Value, w.value) || ts != w.ts {
			t.Fatalf("%s: message %d: offset %d key %q value %q ts %d, want %d %q %q %d", what, i, m.Offset, m.Key, m.Value, ts, w.offset, w.key, w.value, w.ts)
		}
	}
}

// checkStoredCodec checks that records were stored in batches of the
// codec their producer chose (compression.type=producer).
func checkStoredCodec(t *testing.T, recs []*kgo.Record, codec string) {
	t.Helper()
	want := map[string]uint8{"none": 0, "gzip": 1, "snappy": 2, "lz4": 3}[codec]
	for _, r := range recs {
		if got := r.Attrs.CompressionType(); got != want {
			t.Fatalf("record at offset %d stored with codec %d, want %s", r.Offset, got, codec)
		}
	}
}

func checkKgoRead(t *testing.T, what string, got []*kgo.Record, want []legacyRecord) {
	t.Helper()
	for i, r := range got {
		w := want[i]
		if r.Offset != w.offset || !sameNullable(r.Key, w.key) || !sameNullable(r.Value, w.value) || r.Timestamp.UnixMilli() != w.ts {
			t.Fatalf("%s: record %d: offset %d key %q value %q ts %d, want %d %q %q %d", what, i, r.Offset, r.Key, r.Value, r.Timestamp.UnixMilli(), w.offset, w.key, w.value, w.ts)
		}
	}
}

// TestLegacySaramaProduceConsume: old sarama versions produce with every
// codec they have and read back exactly what they wrote (offsets, keys,
// values, timestamps), and so does franz-go; the requests were the old
// versions under test.
func TestLegacySaramaProduceConsume(t *testing.T) {
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	for _, tc := range []struct {
		name          string
		version       sarama.KafkaVersion
		produce       int16 // the Produce and Fetch versions sarama must send
		fetch         int16
		timestamps    bool
		codecs        []sarama.CompressionCodec
		saramaReadsTS bool
	}{
		{"V0_8_2_0", sarama.V0_8_2_0, 0, 0, false, []sarama.CompressionCodec{sarama.CompressionNone, sarama.CompressionGZIP, sarama.CompressionSnappy}, false},
		{"V0_9_0_0", sarama.V0_9_0_0, 0, 1, false, []sarama.CompressionCodec{sarama.CompressionNone, sarama.CompressionGZIP, sarama.CompressionSnappy}, false},
		{"V0_10_2_0", sarama.V0_10_2_0, 2, 3, true, []sarama.CompressionCodec{sarama.CompressionNone, sarama.CompressionGZIP, sarama.CompressionSnappy, sarama.CompressionLZ4}, true},
		{"V1_0_0_0", sarama.V1_0_0_0, 5, 6, true, []sarama.CompressionCodec{sarama.CompressionNone, sarama.CompressionGZIP, sarama.CompressionSnappy, sarama.CompressionLZ4}, true},
		{"V2_0_0_0", sarama.V2_0_0_0, 6, 8, true, []sarama.CompressionCodec{sarama.CompressionNone, sarama.CompressionGZIP, sarama.CompressionSnappy, sarama.CompressionLZ4}, true},
	} {
		for _, codec := range tc.codecs {
			t.Run(tc.name+"/"+codec.String(), func(t *testing.T) {
				topic := "sarama-" + tc.name + "-" + codec.String()
				createTopic(t, adm, topic, 1, nil)
				versions := &apiVersionLog{}
				cfg := saramaConfig(tc.version, versions)
				cfg.Producer.Compression = codec
				msgs, want := saramaMessages(topic, 45, tc.timestamps)
				saramaProduce(t, tb.Addr(), cfg, topic, 0, msgs)
				checkSaramaRead(t, "sarama", saramaConsume(t, tb.Addr(), cfg, topic, sarama.OffsetOldest, len(want)), want)
				checkSaramaRead(t, "sarama from 20", saramaConsume(t, tb.Addr(), cfg, topic, 20, len(want)-20), want[20:])
				got := consumeAll(t, tb, topic, len(want))
				checkKgoRead(t, "franz-go", got, want)
				checkStoredCodec(t, got, codec.String())
				versions.mu.Lock()
				defer versions.mu.Unlock()
				if !versions.used[0][tc.produce] || !versions.used[1][tc.fetch] || len(versions.used[0]) != 1 || len(versions.used[1]) != 1 {
					t.Fatalf("sarama %s sent Produce versions %v and Fetch versions %v, want %d and %d", tc.name, versions.used[0], versions.used[1], tc.produce, tc.fetch)
				}
			})
		}
	}
}

// TestLegacyCrossClients: records a current client wrote (v2 batches with
// headers, compressed) reach an old sarama as message sets, and what an old
// sarama wrote reaches a current client, exactly.
func TestLegacyCrossClients(t *testing.T) {
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	for _, version := range []sarama.KafkaVersion{sarama.V0_9_0_0, sarama.V0_10_2_0} {
		topic := "cross-" + version.String()
		createTopic(t, adm, topic, 1, nil)
		cl := tb.client(kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgo.GzipCompression()), kgo.ProducerBatchMaxBytes(2048))
		var want []legacyRecord
		var recs []*kgo.Record
		for i := range 60 {
			r := &kgo.Record{Key: []byte(fmt.Sprintf("franz-%d", i)), Value: []byte(fmt.Sprintf("value %d of franz-go ..........................", i)),
				Timestamp: time.UnixMilli(1_650_000_000_000 + int64(i)), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("only for v2 readers")}}}
			recs = append(recs, r)
			ts := int64(-1) // magic 0 has no timestamps
			if version.IsAtLeast(sarama.V0_10_0_0) {
				ts = r.Timestamp.UnixMilli()
			}
			want = append(want, legacyRecord{offset: int64(i), key: r.Key, value: r.Value, ts: ts})
		}
		if err := cl.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		cfg := saramaConfig(version, &apiVersionLog{})
		checkSaramaRead(t, "sarama "+version.String()+" reading franz-go", saramaConsume(t, tb.Addr(), cfg, topic, sarama.OffsetOldest, 60), want)
		checkSaramaRead(t, "sarama "+version.String()+" reading franz-go from 31", saramaConsume(t, tb.Addr(), cfg, topic, 31, 29), want[31:])

		cfg.Producer.Compression = sarama.CompressionSnappy
		msgs, wantOld := saramaMessages("old", 40, version.IsAtLeast(sarama.V0_10_0_0))
		saramaProduce(t, tb.Addr(), cfg, topic, 60, msgs)
		for i := range wantOld {
			wantOld[i].offset += 60
		}
		got := consumeAll(t, tb, topic, 100)
		checkKgoRead(t, "franz-go reading sarama "+version.String(), got[60:], wantOld)
	}
}

// TestLegacySaramaGroup: the consumer-group scenario of testGroupClient
// (split, hand-over, resume after commits, broker restart) with sarama at
// old versions; V0_10_2_0 fetches with Fetch v3, so every record reaches
// it down-converted to magic 1.
func TestLegacySaramaGroup(t *testing.T) {
	for _, tc := range []struct {
		version     sarama.KafkaVersion
		fetch, join int16
	}{{sarama.V0_10_2_0, 3, 1}, {sarama.V1_0_0_0, 6, 2}, {sarama.V2_0_0_0, 8, 3}} {
		t.Run(tc.version.String(), func(t *testing.T) {
			t.Parallel()
			var used *apiVersionLog
			testGroupClient(t, func(t *testing.T, addr, clientID string, versions *apiVersionLog) groupReader {
				used = versions
				return startSarama(t, addr, clientID, versions, tc.version, sarama.NewBalanceStrategyRange())
			})
			used.mu.Lock()
			defer used.mu.Unlock()
			if len(used.used[1]) != 1 || !used.used[1][tc.fetch] || len(used.used[11]) != 1 || !used.used[11][tc.join] {
				t.Fatalf("sarama %s sent Fetch %v and JoinGroup %v, want v%d and v%d", tc.version, used.used[1], used.used[11], tc.fetch, tc.join)
			}
		})
	}
}

// TestLegacySaramaLogAppendTime: on a LogAppendTime topic, sarama V0_10_2_0
// reads the broker's append time (marked in the magic 1 messages and
// wrappers it gets), the same a current client reads.
func TestLegacySaramaLogAppendTime(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "lat", 1, map[string]*string{"message.timestamp.type": strp("LogAppendTime")})
	for i, c := range []kgo.CompressionCodec{kgo.NoCompression(), kgo.SnappyCompression()} {
		cl := tb.client(kgo.DefaultProduceTopic("lat"), kgo.ProducerBatchCompression(c))
		var recs []*kgo.Record
		for j := range 10 {
			recs = append(recs, &kgo.Record{Value: []byte(fmt.Sprintf("batch %d record %d ..........", i, j)), Timestamp: time.UnixMilli(1000)})
		}
		if err := cl.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	current := consumeAll(t, tb, "lat", 20)
	old := saramaConsume(t, tb.Addr(), saramaConfig(sarama.V0_10_2_0, &apiVersionLog{}), "lat", sarama.OffsetOldest, 20)
	for i, r := range current {
		if r.Timestamp.UnixMilli() == 1000 || !old[i].Timestamp.Equal(r.Timestamp) || old[i].Offset != r.Offset || string(old[i].Value) != string(r.Value) {
			t.Fatalf("offset %d: sarama read %v %q, franz-go %v %q (producer's time 1000 ms)", r.Offset, old[i].Timestamp, old[i].Value, r.Timestamp, r.Value)
		}
	}
}
