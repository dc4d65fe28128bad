package broker_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	kafka "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
)

// offsetRecord is one record as a client read it.
type offsetRecord struct {
	offset     int64
	key, value string
}

func (r offsetRecord) String() string { return fmt.Sprintf("%d %s=%s", r.offset, r.key, r.value) }

// TestCompactedTopicClients reads a cleaned compacted topic end to end
// with kafka-go's Reader, franz-go and librdkafka (kcat). Every segment but
// the active one held only records that later ones supersede, so cleaning
// empties them. Kafka keeps no empty batch for them (only for an active
// producer's last batch, or the batch ending at the high watermark):
// kafka-go's Reader (v0.4.51), handed a fetch whose only batch is empty,
// never moves past it (here it read nothing in 10 s; with other offsets it
// starts over from the beginning of the partition, delivering duplicates).
func TestCompactedTopicClients(t *testing.T) {
	tb := startBroker(t, "", map[string]string{"log.cleaner.backoff.ms": "20"})
	const topic = "compacted-clients"
	createTopic(t, tb.admin(), topic, 1, map[string]*string{
		"cleanup.policy":            strp("compact"),
		"segment.bytes":             strp("4096"),
		"min.cleanable.dirty.ratio": strp("0.01"),
	})
	// Not idempotent: the batches carry no producer ID, so none is kept
	// for a producer's sequence numbers.
	cl := tb.client(kgo.DefaultProduceTopic(topic), kgo.DisableIdempotentWrite())
	const keys = 150
	latest := map[string]offsetRecord{}
	produce := func(key, value string) {
		t.Helper()
		r, err := cl.ProduceSync(ctxT(t), &kgo.Record{Key: []byte(key), Value: []byte(value)}).First()
		if err != nil {
			t.Fatal(err)
		}
		latest[key] = offsetRecord{r.Offset, key, value}
	}
	for round := range 3 {
		for k := range keys {
			produce(fmt.Sprintf("key-%03d", k), fmt.Sprintf("round-%d-%s", round, strings.Repeat("x", 20)))
		}
	}
	produce("zz-last", "end")
	want := make([]offsetRecord, 0, len(latest))
	for _, r := range latest {
		want = append(want, r)
	}
	slices.SortFunc(want, func(a, b offsetRecord) int { return cmp.Compare(a.offset, b.offset) })

	// Wait for the cleaner: franz-go reads exactly the latest records.
	var got []offsetRecord
	waitFor(t, 20*time.Second, "the cleaner", func() bool {
		recs, err := readCompacted(t, tb, topic, "zz-last")
		if err != nil {
			return false
		}
		got = got[:0]
		for _, r := range recs {
			got = append(got, offsetRecord{r.Offset, string(r.Key), string(r.Value)})
		}
		return fmt.Sprint(got) == fmt.Sprint(want)
	})

	t.Run("kafka-go", func(t *testing.T) {
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers:     []string{tb.Addr()},
			Topic:       topic,
			Partition:   0,
			StartOffset: kafka.FirstOffset,
			MinBytes:    1,
			MaxBytes:    1 << 20,
			MaxWait:     200 * time.Millisecond,
		})
		defer r.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var read []offsetRecord
		for {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				t.Fatalf("after %v: %v", read, err)
			}
			rec := offsetRecord{m.Offset, string(m.Key), string(m.Value)}
			if n := len(read); n > 0 && rec.offset <= read[n-1].offset {
				t.Fatalf("kafka-go read %v after %v: the partition again", rec, read[n-1])
			}
			read = append(read, rec)
			if rec.key == "zz-last" {
				break
			}
		}
		if fmt.Sprint(read) != fmt.Sprint(want) {
			t.Fatalf("kafka-go read\n%v\nwant\n%v", read, want)
		}
	})

	t.Run("kcat", func(t *testing.T) {
		out := runKcat(t, "", "-b", tb.Addr(), "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q", "-f", "%o %k=%s\\n")
		var read []offsetRecord
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var rec offsetRecord
			var kv string
			if _, err := fmt.Sscanf(line, "%d %s", &rec.offset, &kv); err != nil {
				t.Fatalf("kcat line %q: %v", line, err)
			}
			rec.key, rec.value, _ = strings.Cut(kv, "=")
			read = append(read, rec)
		}
		if fmt.Sprint(read) != fmt.Sprint(want) {
			t.Fatalf("kcat read\n%v\nwant\n%v", read, want)
		}
	})

	// A consumer positioned in the middle of what cleaning removed goes on
	// from the next record kept.
	t.Run("kafka-go from a removed offset", func(t *testing.T) {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{tb.Addr()}, Topic: topic, Partition: 0, MaxWait: 200 * time.Millisecond})
		defer r.Close()
		if err := r.SetOffset(keys / 2); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m, err := r.FetchMessage(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatal("no record read")
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := (offsetRecord{m.Offset, string(m.Key), string(m.Value)}); got != want[0] {
			t.Fatalf("read %v, want %v", got, want[0])
		}
	})
}
