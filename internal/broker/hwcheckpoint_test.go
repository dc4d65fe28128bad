package broker_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// TestHighWatermarkCheckpoint: the broker writes every partition's high
// watermark to replication-offset-checkpoint in its data directory, every
// replica.high.watermark.checkpoint.interval.ms while it runs and at close.
func TestHighWatermarkCheckpoint(t *testing.T) {
	tb := startBroker(t, t.TempDir(), map[string]string{"replica.high.watermark.checkpoint.interval.ms": "50"})
	createTopic(t, tb.admin(), "hw", 2, nil)
	cl := tb.client(kgo.DefaultProduceTopic("hw"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produce := func(n int) {
		for range n {
			if err := cl.ProduceSync(ctxT(t), &kgo.Record{Partition: 1, Value: []byte("v")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	read := func() map[partition.TopicPartition]int64 {
		hws, err := partition.ReadHighWatermarks(vfs.OS(), tb.dir)
		if err != nil {
			t.Fatal(err)
		}
		return hws
	}
	produce(3)
	want := map[partition.TopicPartition]int64{{Topic: "hw", Partition: 0}: 0, {Topic: "hw", Partition: 1}: 3}
	deadline := time.Now().Add(10 * time.Second)
	for got := read(); got[partition.TopicPartition{Topic: "hw", Partition: 1}] != 3; got = read() {
		if time.Now().After(deadline) {
			t.Fatalf("checkpoint while running: %v, want %v", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	produce(2)
	if err := tb.Close(); err != nil {
		t.Fatal(err)
	}
	want[partition.TopicPartition{Topic: "hw", Partition: 1}] = 5
	if got := read(); got[partition.TopicPartition{Topic: "hw", Partition: 0}] != 0 || got[partition.TopicPartition{Topic: "hw", Partition: 1}] != 5 {
		t.Fatalf("checkpoint at close: %v, want %v", got, want)
	}
}
