package broker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/broker"
)

// BenchmarkTxnProduce is issue 12's measurement: a franz-go producer
// sends 100-byte records to one partition of a broker in this process
// (acks=all), as an idempotent producer ("idempotent": ProduceSync of 100
// records at a time, so each round trip carries what a 100-record
// transaction does) and as a transactional one committing every 1, 100 or
// 1,000 records (BeginTransaction, ProduceSync, EndTransaction commit:
// AddPartitionsToTxn, EndTxn, the markers and the completion each time).
// records/s and us/record count the records; b.N is records. A
// transaction begun right after a commit finds the coordinator still
// writing the markers and is answered CONCURRENT_TRANSACTIONS until they
// are done, as Kafka's, which franz-go retries after
// ConcurrentTransactionsBackoff (20 ms): txn-1-backoff-1ms shows the
// coordinator's own cost without most of that wait.
func BenchmarkTxnProduce(b *testing.B) {
	br, err := broker.Start(broker.Config{DataDir: b.TempDir(), Listen: "127.0.0.1:0",
		Static: map[string]string{"transaction.state.log.num.partitions": "4"}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { br.Close() })
	value := make([]byte, 100)
	for _, c := range []struct {
		name string
		per  int // records per transaction, 0: idempotent
		opts []kgo.Opt
	}{
		{"idempotent", 0, nil}, {"txn-1", 1, nil}, {"txn-100", 100, nil}, {"txn-1000", 1000, nil},
		{"txn-1-backoff-1ms", 1, []kgo.Opt{kgo.ConcurrentTransactionsBackoff(time.Millisecond)}},
	} {
		b.Run(c.name, func(b *testing.B) {
			topic := fmt.Sprintf("bench-%s-%d", c.name, b.N)
			opts := []kgo.Opt{kgo.SeedBrokers(br.Addr()), kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation()}
			if c.per > 0 {
				opts = append(opts, kgo.TransactionalID(topic))
			}
			opts = append(opts, c.opts...)
			cl, err := kgo.NewClient(opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			ctx := context.Background()
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil && c.per == 0 {
				b.Fatal(err) // creates the topic (a transactional one fails outside a transaction)
			}
			per := c.per
			if per == 0 {
				per = 100
			}
			recs := make([]*kgo.Record, 0, per)
			b.ResetTimer()
			start := time.Now()
			for done := 0; done < b.N; {
				n := min(per, b.N-done)
				recs = recs[:0]
				for range n {
					recs = append(recs, &kgo.Record{Value: value})
				}
				if c.per > 0 {
					if err := cl.BeginTransaction(); err != nil {
						b.Fatal(err)
					}
				}
				if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
					b.Fatal(err)
				}
				if c.per > 0 {
					if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
						b.Fatal(err)
					}
				}
				done += n
			}
			el := time.Since(start)
			b.ReportMetric(float64(b.N)/el.Seconds(), "records/s")
			b.ReportMetric(float64(el.Microseconds())/float64(b.N), "us/record")
		})
	}
}
