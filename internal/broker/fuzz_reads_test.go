package broker_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/broker"
)

// fuzzReadKeys are APIs that read without creating anything, each with
// versions Kafka 4 removed and we serve again: ListOffsets (v0's
// max_num_offsets), Metadata (auto-creation is off), ApiVersions,
// OffsetForLeaderEpoch, DescribeConfigs, DescribeLogDirs.
var fuzzReadKeys = []int16{2, 3, 18, 23, 32, 35}

// FuzzReadRequests is FuzzGroupRequests for fuzzReadKeys, against a broker
// holding a topic with records in several segments.
func FuzzReadRequests(f *testing.F) {
	panics := &panicRecorder{}
	static := map[string]string{"auto.create.topics.enable": "false"}
	b, err := broker.Start(broker.Config{DataDir: f.TempDir(), Listen: "127.0.0.1:0", Static: static, Logger: slog.New(panics)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { b.Close() })
	addr := b.Addr()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("t"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		f.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	create := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = "t", 2, 1
	ct.Configs = []kmsg.CreateTopicsRequestTopicConfig{{Name: "segment.bytes", Value: strp("100")}}
	create.Topics = append(create.Topics, ct)
	if _, err := create.RequestWith(ctx, cl); err != nil {
		f.Fatal(err)
	}
	for i := range 4 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}}, &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
			f.Fatal(err)
		}
	}

	for i, key := range fuzzReadKeys {
		req := kmsg.RequestForKey(key)
		for v := req.MaxVersion(); v >= 0; v-- {
			req.SetVersion(v)
			f.Add(uint8(i), uint8(v), req.AppendTo(nil))
		}
	}
	lo := kmsg.NewListOffsetsRequest()
	lo.ReplicaID = -1
	for _, ts := range []int64{-1, -2, 1} {
		lo.Topics = append(lo.Topics, kmsg.ListOffsetsRequestTopic{Topic: "t", Partitions: []kmsg.ListOffsetsRequestTopicPartition{
			{Partition: 0, Timestamp: ts, MaxNumOffsets: 1 << 30}, {Partition: 1, Timestamp: ts, MaxNumOffsets: 2}, {Partition: 5, Timestamp: ts, MaxNumOffsets: -3}}})
	}
	for _, v := range []int16{0, 1, 9} {
		lo.SetVersion(v)
		f.Add(uint8(0), uint8(v), lo.AppendTo(nil))
	}

	f.Fuzz(func(t *testing.T, keyIndex, version uint8, body []byte) {
		sendFuzzed(t, addr, panics, fuzzReadKeys[int(keyIndex)%len(fuzzReadKeys)], version, body)
	})
}
