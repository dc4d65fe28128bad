package broker_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/broker"
)

// eventValues are n values of about size bytes of JSON-like events, which
// compress 3-6x as real payloads do (samsa bench sends one value over and
// over, which compresses to nothing and so hides decompression costs).
func eventValues(n, size int) []batch.Record {
	rng := rand.New(rand.NewPCG(7, 9))
	fields := []string{"user", "order", "amount", "status", "region", "sku", "price", "session"}
	out := make([]batch.Record, n)
	for i := range out {
		v := fmt.Appendf(nil, `{"n":%d`, i)
		for len(v) < size-1 {
			v = fmt.Appendf(v, `,"%s":"%x"`, fields[rng.IntN(len(fields))], rng.Uint32()%100000)
		}
		out[i] = batch.Record{Key: fmt.Appendf(nil, "k%d", rng.IntN(5000)), Value: append(v[:size-1], '}'), Timestamp: time.Now().UnixMilli()}
	}
	return out
}

// cpuNow is this process's user+system CPU time.
func cpuNow(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkProduceBatches sends one pre-built batch of about 800 KiB of
// records (100 B or 1 KiB values) per Produce request (acks=1) to a broker
// in this process, per codec. MB/s counts the uncompressed batch; cpu-ms/MB
// is the whole process's CPU (broker, and the raw client, which does the same
// work on every build) per 10^6 uncompressed bytes. Run it on two builds
// to compare them; it uses only what both have.
func BenchmarkProduceBatches(b *testing.B) {
	br, err := broker.Start(broker.Config{DataDir: b.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { br.Close() })
	cl, err := kgo.NewClient(kgo.SeedBrokers(br.Addr()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	ctx := context.Background()
	for _, shape := range []struct {
		name    string
		n, size int
	}{{"100B", 8000, 100}, {"1KiB", 800, 1000}} {
		recs := eventValues(shape.n, shape.size)
		plain := len(batch.Build(batch.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, recs))
		for _, codec := range []batch.Codec{batch.None, batch.Gzip, batch.Snappy, batch.LZ4, batch.Zstd} {
			topic := fmt.Sprintf("bench-%s-%s", shape.name, codec)
			creq := kmsg.NewPtrCreateTopicsRequest()
			ct := kmsg.NewCreateTopicsRequestTopic()
			ct.Topic, ct.NumPartitions, ct.ReplicationFactor = topic, 1, 1
			creq.Topics = append(creq.Topics, ct)
			if _, err := creq.RequestWith(ctx, cl); err != nil {
				b.Fatal(err)
			}
			records := batch.Build(batch.BuildOptions{Codec: codec, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, recs)
			req := kmsg.NewPtrProduceRequest()
			req.Acks, req.TimeoutMillis = 1, 10000
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic = topic
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Records = records
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			b.Run(fmt.Sprintf("size=%s/codec=%s", shape.name, codec), func(b *testing.B) {
				b.SetBytes(int64(plain))
				cpu0 := cpuNow(b)
				for b.Loop() {
					resp, err := req.RequestWith(ctx, cl)
					if err != nil {
						b.Fatal(err)
					}
					if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 {
						b.Fatalf("produce: code %d", p.ErrorCode)
					}
				}
				cpu := cpuNow(b) - cpu0
				// After the loop: b.Loop's first call resets the timer, which
				// drops metrics reported before it.
				b.ReportMetric(float64(len(records)), "wire-bytes")
				b.ReportMetric(float64(cpu.Nanoseconds())/1e6/(float64(b.N)*float64(plain)/1e6), "cpu-ms/MB")
			})
		}
	}
}
