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
