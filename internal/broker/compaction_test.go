package broker_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// logBytes sums the .log files of topic-0.
func logBytes(t *testing.T, dir, topic string) int64 {
	t.Helper()
	var n int64
	for _, path := range segments(t, dir, topic, 0) {
		if fi, err := os.Stat(path); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// readCompacted consumes topic from the start until it sees a record with
// key last, and returns everything read.
func readCompacted(t *testing.T, tb *testBroker, topic, last string) ([]*kgo.Record, error) {
	cl := tb.client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out []*kgo.Record
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if err := fs.Err(); err != nil {
			return out, err
		}
		for _, r := range fs.Records() {
			out = append(out, r)
			if string(r.Key) == last {
				return out, nil
			}
		}
	}
}

// TestCompactedTopic produces 100k records over 1k keys, with overwrites
// and tombstones, to a topic with small segments, switches it to
// cleanup.policy=compact (a live change) and waits for the cleaner: a
// consumer then reads exactly the latest value of every live key in offset
// order, no deleted key once delete.retention.ms passed, and the log shrank.
func TestCompactedTopic(t *testing.T) {
	tb := startBroker(t, "", map[string]string{
		"log.cleaner.backoff.ms":          "20",
		"log.retention.check.interval.ms": "50",
	})
	const topic = "changelog"
	createTopic(t, tb.admin(), topic, 1, map[string]*string{
		"cleanup.policy":      strp("delete"),
		"retention.ms":        strp("-1"),
		"segment.bytes":       strp("131072"),
		"segment.ms":          strp("1500"), // rolls the last segment once producing stops
		"delete.retention.ms": strp("1000"),
	})
	cl := tb.client(kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(time.Millisecond))

	const records, keys = 100_000, 1000
	rng := rand.New(rand.NewPCG(5, 5))
	latest := map[string][]byte{} // nil: deleted
	errs := make(chan error, 1)
	for i := range records {
		key := fmt.Sprintf("key-%04d", rng.IntN(keys))
		var value []byte
		if rng.IntN(20) != 0 {
			value = fmt.Appendf(nil, "value-%d-%s", i, key)
		}
		latest[key] = value
		cl.Produce(context.Background(), &kgo.Record{Key: []byte(key), Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		})
	}
	if err := cl.ProduceSync(ctxT(t), &kgo.Record{Key: []byte("zz-last"), Value: []byte("end")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	latest["zz-last"] = []byte("end")
	produced := logBytes(t, tb.dir, topic)
	var live int
	for _, v := range latest {
		if v != nil {
			live++
		}
	}

	setPolicy := func(policy string) {
		t.Helper()
		alter, err := tb.admin().AlterTopicConfigs(ctxT(t), []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "cleanup.policy", Value: strp(policy)}}, topic)
		if err == nil {
			_, err = alter.On(topic, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// Producing a record without a key: refused with INVALID_RECORD once
	// the topic is compacted, accepted otherwise.
	waitKeyless := func(refused bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := cl.ProduceSync(ctxT(t), &kgo.Record{Value: []byte("no key")}).FirstErr()
			if refused && errors.Is(err, kerr.InvalidRecord) || !refused && err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("produce without a key (refusal expected: %v): %v", refused, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	setPolicy("compact")
	waitKeyless(true)

	deadline := time.Now().Add(60 * time.Second)
	var got []*kgo.Record
	for {
		var err error
		got, err = readCompacted(t, tb, topic, "zz-last")
		if err == nil && len(got) == live {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after waiting for the cleaner: %d records (%v), %d live keys; log %d bytes", len(got), err, live, logBytes(t, tb.dir, topic))
		}
		time.Sleep(200 * time.Millisecond)
	}
	seen := map[string]bool{}
	for i, r := range got {
		key := string(r.Key)
		if i > 0 && r.Offset <= got[i-1].Offset {
			t.Fatalf("offset %d after %d", r.Offset, got[i-1].Offset)
		}
		if seen[key] {
			t.Fatalf("key %s read twice", key)
		}
		seen[key] = true
		if want := latest[key]; want == nil || string(r.Value) != string(want) {
			t.Fatalf("key %s: read %q at offset %d, latest %q", key, r.Value, r.Offset, want)
		}
	}
	final := logBytes(t, tb.dir, topic)
	t.Logf("%d records over %d keys (%d live): log %d bytes after producing, %d after cleaning", records, keys, live, produced, final)
	if final*10 > produced {
		t.Fatalf("log shrank only from %d to %d bytes", produced, final)
	}

	setPolicy("delete")
	waitKeyless(false)
}

// TestMeasureProduceLatencyWhileCleaning compares acks=all produce latency
// to one topic while the cleaner is or is not cleaning another (about
// 200 MiB, 1 in 50 records surviving). Run it with SAMSA_MEASURE=1 -v.
func TestMeasureProduceLatencyWhileCleaning(t *testing.T) {
	if os.Getenv("SAMSA_MEASURE") == "" {
		t.Skip("set SAMSA_MEASURE=1 to measure")
	}
	tb := startBroker(t, "", map[string]string{"log.cleaner.backoff.ms": "10"})
	createTopic(t, tb.admin(), "big", 1, map[string]*string{"segment.bytes": strp("16777216"), "retention.ms": strp("-1")})
	createTopic(t, tb.admin(), "hot", 1, nil)
	bulk := tb.client(kgo.DefaultProduceTopic("big"), kgo.ProducerBatchMaxBytes(1<<20), kgo.ProducerLinger(5*time.Millisecond))
	rng := rand.New(rand.NewPCG(1, 1))
	value := make([]byte, 100)
	for i := 0; logBytes(t, tb.dir, "big") < 200<<20; i++ {
		for k := range 50 {
			value[k] = byte(rng.Uint32())
		}
		bulk.Produce(context.Background(), &kgo.Record{Key: fmt.Appendf(nil, "key-%06d", rng.IntN(20_000)), Value: bytes.Clone(value)}, nil)
		if i%100_000 == 0 {
			if err := bulk.Flush(ctxT(t)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := bulk.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	hot := tb.client(kgo.DefaultProduceTopic("hot"))
	measure := func(name string, stop func(n int) bool) {
		var lat []time.Duration
		start := time.Now()
		for n := 0; !stop(n); n++ {
			s := time.Now()
			if err := hot.ProduceSync(ctxT(t), &kgo.Record{Value: value}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			lat = append(lat, time.Since(s))
		}
		slices.Sort(lat)
		q := func(f float64) time.Duration { return lat[int(f*float64(len(lat)-1))] }
		t.Logf("%-15s %6d produces in %v: p50 %v p90 %v p99 %v max %v", name, len(lat), time.Since(start).Round(time.Millisecond), q(.5), q(.9), q(.99), lat[len(lat)-1])
	}
	measure("idle", func(n int) bool { return n >= 3000 })
	before := logBytes(t, tb.dir, "big")
	alter, err := tb.admin().AlterTopicConfigs(ctxT(t), []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "cleanup.policy", Value: strp("compact")}}, "big")
	if err == nil {
		_, err = alter.On("big", nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	measure("while cleaning", func(n int) bool { return n%50 == 0 && logBytes(t, tb.dir, "big") < before/4 })
	t.Logf("big: %d MiB before, %d KiB after cleaning, which ended within %v of the switch to compact",
		before>>20, logBytes(t, tb.dir, "big")>>10, time.Since(start).Round(time.Millisecond))
}
