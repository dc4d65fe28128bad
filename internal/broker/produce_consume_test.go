package broker_test

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/batch"
)

// TestProduceConsumeEveryCodec produces keyed records over 8 partitions
// with every compression codec, consumes them back byte for byte and in
// per-key order, restarts the broker and consumes them again.
func TestProduceConsumeEveryCodec(t *testing.T) {
	const perCodec = 100_000
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	codecs := []struct {
		name  string
		codec kgo.CompressionCodec
	}{
		{"none", kgo.NoCompression()},
		{"gzip", kgo.GzipCompression()},
		{"snappy", kgo.SnappyCompression()},
		{"lz4", kgo.Lz4Compression()},
		{"zstd", kgo.ZstdCompression()},
	}
	produced := map[string][]*kgo.Record{}
	for _, c := range codecs {
		topic := "codec-" + c.name
		createTopic(t, adm, topic, 8, nil)
		cl := tb.client(kgo.ProducerBatchCompression(c.codec), kgo.DefaultProduceTopic(topic))
		var recs []*kgo.Record
		for i := range perCodec {
			key := []byte("key-" + strconv.Itoa(i%97))
			value := []byte(fmt.Sprintf("%s-value-%07d-%s", c.name, i, bytes.Repeat([]byte{'x'}, i%50)))
			r := &kgo.Record{Key: key, Value: value, Headers: []kgo.RecordHeader{{Key: "i", Value: []byte(strconv.Itoa(i))}}}
			recs = append(recs, r)
			cl.Produce(ctxT(t), r, func(_ *kgo.Record, err error) {
				if err != nil {
					t.Errorf("produce: %v", err)
				}
			})
		}
		if err := cl.Flush(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		produced[topic] = recs
	}
	check := func(tb *testBroker) {
		for topic, want := range produced {
			got := consumeAll(t, tb, topic, len(want))
			checkSameRecords(t, want, got)
		}
	}
	check(tb)
	tb = tb.restart()
	check(tb)
}

// checkSameRecords checks that got holds exactly want's records, byte for
// byte, each key's records in the order they were produced, and offsets
// dense per partition.
func checkSameRecords(t *testing.T, want, got []*kgo.Record) {
	t.Helper()
	type pk struct {
		partition int32
		key       string
	}
	wantByKey := map[string][]*kgo.Record{}
	for _, r := range want {
		wantByKey[string(r.Key)] = append(wantByKey[string(r.Key)], r)
	}
	gotByKey := map[string][]*kgo.Record{}
	nextOffset := map[int32]int64{}
	for _, r := range got {
		if r.Offset != nextOffset[r.Partition] {
			t.Fatalf("partition %d: offset %d, want %d", r.Partition, r.Offset, nextOffset[r.Partition])
		}
		nextOffset[r.Partition]++
		gotByKey[string(r.Key)] = append(gotByKey[string(r.Key)], r)
	}
	if len(gotByKey) != len(wantByKey) {
		t.Fatalf("%d keys, want %d", len(gotByKey), len(wantByKey))
	}
	for k, ws := range wantByKey {
		gs := gotByKey[k]
		if len(gs) != len(ws) {
			t.Fatalf("key %s: %d records, want %d", k, len(gs), len(ws))
		}
		for i := range ws {
			w, g := ws[i], gs[i]
			if !bytes.Equal(w.Value, g.Value) || len(w.Headers) != len(g.Headers) ||
				w.Headers[0].Key != g.Headers[0].Key || !bytes.Equal(w.Headers[0].Value, g.Headers[0].Value) ||
				w.Partition != g.Partition || w.Offset != g.Offset {
				t.Fatalf("key %s record %d: got %q@%d/%d, want %q@%d/%d", k, i, g.Value, g.Partition, g.Offset, w.Value, w.Partition, w.Offset)
			}
		}
	}
}

// TestTopicCompressionType checks that compression.type recompresses
// batches to the topic's codec and that the records survive unchanged.
func TestTopicCompressionType(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "zstd-topic", 1, map[string]*string{"compression.type": strp("zstd")})
	cl := tb.client(kgo.DefaultProduceTopic("zstd-topic"), kgo.ProducerBatchCompression(kgo.GzipCompression()))
	var want []*kgo.Record
	for i := range 50 {
		r := &kgo.Record{Key: []byte("k"), Value: []byte(fmt.Sprintf("value %d %s", i, bytes.Repeat([]byte("z"), i))), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte{byte(i)}}}}
		want = append(want, r)
		if err := cl.ProduceSync(ctxT(t), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	got := consumeAll(t, tb, "zstd-topic", len(want))
	checkSameRecords(t, want, got)

	req := kmsg.NewPtrFetchRequest()
	req.MaxBytes = 1 << 20
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = "zstd-topic", topicIDOf(t, tb, "zstd-topic")
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	batch.Iterate(resp.Topics[0].Partitions[0].RecordBatches, func(h batch.Header, _ []byte) bool {
		if h.Codec() != batch.Zstd {
			t.Fatalf("stored batch at %d has codec %v, want zstd", h.BaseOffset, h.Codec())
		}
		n++
		return true
	})
	if n == 0 {
		t.Fatal("no batches fetched")
	}
}
