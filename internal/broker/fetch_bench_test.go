package broker_test

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/broker"
)

// BenchmarkCatchUpConsumer reads a partition of 8 MiB (16 KiB batches of
// 1 KiB records, uncompressed) from the start with franz-go, as a consumer
// catching up does, with fetch.min.bytes 1 and 1 MiB and a max wait of
// 100 ms: in 64 KiB segments, and in one segment (the default segment.bytes)
// as the common case that must not get slower. Nothing is produced
// meanwhile, so a fetch that parks waits its whole max wait. One op is the
// whole partition read once.
func BenchmarkCatchUpConsumer(b *testing.B) {
	dir := b.TempDir()
	br, err := broker.Start(broker.Config{DataDir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	const records, size = 8 << 10, 1 << 10
	prod, err := kgo.NewClient(kgo.SeedBrokers(br.Addr()), kgo.ProducerBatchMaxBytes(16<<10),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		b.Fatal(err)
	}
	defer prod.Close()
	ctx := context.Background()
	value := make([]byte, size)
	for _, tc := range []struct {
		name, segmentBytes string
		minSegments        int
	}{{"segments=64KiB", "65536", 100}, {"segments=1GiB", "1073741824", 1}} {
		topic := "catch-up-" + tc.segmentBytes
		created, err := kadm.NewClient(prod).CreateTopic(ctx, 1, 1, map[string]*string{"segment.bytes": strp(tc.segmentBytes)}, topic)
		if err == nil {
			err = created.Err
		}
		if err != nil {
			b.Fatal(err)
		}
		for range records {
			prod.Produce(ctx, &kgo.Record{Topic: topic, Value: value}, nil)
		}
		if err := prod.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		segs, err := filepath.Glob(filepath.Join(dir, topic+"-0", "*.log"))
		if err != nil || len(segs) < tc.minSegments {
			b.Fatalf("%d segments (%v), want %d or more", len(segs), err, tc.minSegments)
		}
		for _, minBytes := range []int32{1, 1 << 20} {
			b.Run(fmt.Sprintf("%s/fetch.min.bytes=%d", tc.name, minBytes), func(b *testing.B) {
				b.SetBytes(records * size)
				cpu := cpuTime()
				for range b.N {
					cl, err := kgo.NewClient(kgo.SeedBrokers(br.Addr()), kgo.ConsumeTopics(topic),
						kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
						kgo.FetchMinBytes(minBytes), kgo.FetchMaxWait(100*time.Millisecond))
					if err != nil {
						b.Fatal(err)
					}
					for n := 0; n < records; {
						fs := cl.PollFetches(ctx)
						if err := fs.Err(); err != nil {
							b.Fatal(err)
						}
						n += fs.NumRecords()
					}
					cl.Close()
				}
				// Broker and consumer share the process: CPU of both.
				b.ReportMetric(float64((cpuTime()-cpu).Milliseconds())/float64(b.N*records*size>>20), "cpu-ms/MiB")
			})
		}
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFetchIsolation measures the broker's Fetch of a partition
// without transactions at each isolation level, so that read_committed
// (last stable offset bound, aborted-transaction lookup) costs what
// read_uncommitted does: 8 MiB of 16 KiB batches, one Fetch request (raw
// kmsg, so the client decodes no records) per op from offsets spread over
// the log, of 16 KiB (records copied) or 1 MiB (sent with sendfile).
func BenchmarkFetchIsolation(b *testing.B) {
	br, err := broker.Start(broker.Config{DataDir: b.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	const records, size = 8 << 10, 1 << 10
	cl, err := kgo.NewClient(kgo.SeedBrokers(br.Addr()), kgo.ProducerBatchMaxBytes(16<<10),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	const topic = "isolation"
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		b.Fatal(err)
	}
	value := make([]byte, size)
	for range records {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: value}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	id := br.Image().Topics[topic].ID
	for _, maxBytes := range []int32{16 << 10, 1 << 20} {
		for _, isolation := range []int8{0, 1} {
			name := map[int8]string{0: "read_uncommitted", 1: "read_committed"}[isolation]
			b.Run(fmt.Sprintf("max=%dKiB/%s", maxBytes>>10, name), func(b *testing.B) {
				var n int64
				for i := range b.N {
					req := kmsg.NewPtrFetchRequest()
					req.ReplicaID, req.MaxBytes, req.IsolationLevel = -1, maxBytes, isolation
					rt := kmsg.NewFetchRequestTopic()
					rt.Topic, rt.TopicID = topic, id
					rp := kmsg.NewFetchRequestTopicPartition()
					rp.FetchOffset, rp.PartitionMaxBytes = int64(i*97%(records-64)), maxBytes
					rt.Partitions = append(rt.Partitions, rp)
					req.Topics = append(req.Topics, rt)
					resp, err := req.RequestWith(ctx, cl)
					if err != nil {
						b.Fatal(err)
					}
					fp := resp.Topics[0].Partitions[0]
					if fp.ErrorCode != 0 || len(fp.RecordBatches) == 0 {
						b.Fatalf("fetch: code %d, %d bytes", fp.ErrorCode, len(fp.RecordBatches))
					}
					n += int64(len(fp.RecordBatches))
				}
				b.SetBytes(n / int64(b.N))
			})
		}
	}
}
