package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// tracked is a record together with the time it was handed to the client.
// The record's Context points back at it, so the promise finds the produce
// time without a map, and the pair is recycled once the promise has run: kgo
// does not use a record after calling its promise, beyond reading its Context. (kgo truncates the
// record's own Timestamp to milliseconds, too coarse for latency.)
type tracked struct {
	context.Context
	at  time.Time
	rec kgo.Record
}

// producer is one client producing its share of a run.
type producer struct {
	client  *kgo.Client
	records int // how many to produce; ignored with a deadline
	latency histogram

	// Written by the promise goroutine, read after Flush.
	produced int64
	err      error
}

func produceOptions(brokers []string, topic, acks string) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.DefaultProduceTopic(topic),
		kgo.ProducerLinger(0),
		// kgo compresses with snappy by default; every record carries the
		// same value, so a batch would shrink to almost nothing and measure
		// the codec, not the broker.
		kgo.ProducerBatchCompression(kgo.NoCompression()),
	}
	if acks == "all" {
		// Idempotence is kgo's default, and requires acks=all.
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	} else {
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	}
	return opts
}

// produce sends the run's records from o.Producers clients as fast as the
// clients accept them and measures throughput and per-record latency.
func produce(ctx context.Context, o Options, brokers []string, topic string, size int, acks string) (Result, error) {
	// One value buffer shared by every record: kgo only reads it.
	value := make([]byte, size)
	for i := range value {
		value[i] = byte(rand.Uint32())
	}

	total := o.recordsFor(size)
	producers := make([]*producer, o.Producers)
	defer func() {
		for _, p := range producers {
			if p != nil {
				p.client.Close()
			}
		}
	}()
	for i := range producers {
		cl, err := kgo.NewClient(produceOptions(brokers, topic, acks)...)
		if err != nil {
			return Result{}, err
		}
		p := &producer{client: cl}
		producers[i] = p
		p.records = total / o.Producers
		if i < total%o.Producers {
			p.records++
		}
		// One synchronous record before the clock starts connects, loads the
		// topic's metadata and, with idempotence, gets a producer ID.
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: value}).FirstErr(); err != nil {
			return Result{}, fmt.Errorf("warm-up produce: %w", err)
		}
	}

	start := time.Now()
	var deadline time.Time
	if o.Duration > 0 {
		deadline = start.Add(o.Duration)
	}
	var wg sync.WaitGroup
	for _, p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.run(ctx, topic, value, deadline)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()

	var latency histogram
	res := Result{ProduceSeconds: elapsed}
	for _, p := range producers {
		if p.err != nil {
			return Result{}, p.err
		}
		res.Records += p.produced
		latency.merge(&p.latency)
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	res.ProduceRecordsPerSec = float64(res.Records) / elapsed
	res.ProduceMBPerSec = float64(res.Records) * float64(size) / elapsed / 1e6
	res.ProduceP50Ms = float64(latency.quantile(0.50)) / 1e6
	res.ProduceP99Ms = float64(latency.quantile(0.99)) / 1e6
	return res, nil
}

// run produces p.records records, or until deadline, then flushes.
func (p *producer) run(ctx context.Context, topic string, value []byte, deadline time.Time) {
	// A tracked's Context is set once, when it is made: kgo may still read a
	// record's Context from another goroutine after its promise has run.
	pool := sync.Pool{New: func() any { return &tracked{Context: context.Background()} }}
	// kgo calls a client's promises serially, so the histogram and counters
	// need no lock.
	promise := func(r *kgo.Record, err error) {
		t := r.Context.(*tracked)
		p.latency.record(time.Since(t.at))
		if err != nil {
			if p.err == nil {
				p.err = err
			}
		} else {
			p.produced++
		}
		pool.Put(t)
	}
	for i := 0; !deadline.IsZero() || i < p.records; i++ {
		t := pool.Get().(*tracked)
		t.rec = kgo.Record{Topic: topic, Value: value, Context: t}
		t.at = time.Now()
		if !deadline.IsZero() && t.at.After(deadline) {
			pool.Put(t)
			break
		}
		p.client.Produce(ctx, &t.rec, promise)
		if ctx.Err() != nil {
			break
		}
	}
	_ = p.client.Flush(ctx)
}
