package broker_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/samsa-streaming/samsa/internal/batch"
)

// TestFetchAcrossSegments: a partition of 200 KiB in 16 KiB segments, and
// fetches asking for more than one segment holds (MinBytes 100 KiB or
// 1 MiB, MaxWait 10 s). Each is answered at once with records running
// across segments up to its limits (through sendfile for 32 KiB and more,
// several regions in one record set, or copied), instead of one segment's
// worth after the whole max wait.
func TestFetchAcrossSegments(t *testing.T) {
	tb := startBroker(t, "", nil)
	const topic, records, size = "small-segments", 200, 1 << 10
	createTopic(t, tb.admin(), topic, 1, map[string]*string{"segment.bytes": strp("16384")})
	id := topicIDOf(t, tb, topic)
	prod := tb.client(kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerLinger(0))
	value := make([]byte, size)
	for i := range records {
		value[0] = byte(i)
		if err := prod.ProduceSync(ctxT(t), &kgo.Record{Value: value}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(segments(t, tb.dir, topic, 0)); n < 10 {
		t.Fatalf("%d segments", n)
	}
	batchSize := 0 // every batch holds one record of the same size
	for _, tc := range []struct {
		partitionMax, minBytes int32
	}{
		{1 << 20, 100 << 10}, // sendfile, every segment
		{64 << 10, 1 << 20},  // sendfile, cut by the partition limit
		{24 << 10, 1 << 20},  // copied, cut by the partition limit
	} {
		for _, version := range []int16{11, 12, 16} {
			t.Run(fmt.Sprintf("v%d/max=%d/min=%d", version, tc.partitionMax, tc.minBytes), func(t *testing.T) {
				versions := kversion.Stable()
				versions.SetMaxKeyVersion(kmsg.Fetch.Int16(), version)
				cl := tb.client(kgo.MaxVersions(versions))
				req := longPoll(topic, id, 0, tc.minBytes, 10*time.Second)
				req.Topics[0].Partitions[0].PartitionMaxBytes = tc.partitionMax
				start := time.Now()
				resp, err := req.RequestWith(ctxT(t), cl)
				if err != nil {
					t.Fatal(err)
				}
				// Loose bound: a parked fetch waits 10 s.
				if took := time.Since(start); took > 2*time.Second {
					t.Fatalf("answered after %v", took)
				}
				p := resp.Topics[0].Partitions[0]
				if p.ErrorCode != 0 || p.HighWatermark != records {
					t.Fatalf("error %d, high watermark %d", p.ErrorCode, p.HighWatermark)
				}
				if len(p.RecordBatches) > int(tc.partitionMax) {
					t.Fatalf("%d bytes over the partition limit %d", len(p.RecordBatches), tc.partitionMax)
				}
				next := int64(0)
				err = batch.Iterate(p.RecordBatches, func(h batch.Header, b []byte) bool {
					recs, err := batch.Records(b)
					if err != nil {
						t.Fatal(err)
					}
					for _, r := range recs {
						if r.Offset != next || len(r.Value) != size || r.Value[0] != byte(next) {
							t.Fatalf("record at %d (%d bytes, tag %d), want offset %d", r.Offset, len(r.Value), r.Value[0], next)
						}
						next++
					}
					return true
				})
				if err != nil {
					t.Fatal(err)
				}
				if batchSize == 0 {
					batchSize = len(p.RecordBatches) / records
				}
				// All records, or as many whole batches as the limit holds.
				if want := min(records, int(tc.partitionMax)/batchSize); next != int64(want) {
					t.Fatalf("%d records in %d bytes, want %d", next, len(p.RecordBatches), want)
				}
			})
		}
	}
}
