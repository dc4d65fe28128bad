package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// stamped is a record with its own value buffer, recycled after its
// promise: e2e writes the send time into the value, so records cannot share
// one buffer as the matrix's do.
type stamped struct {
	context.Context
	at  time.Time
	rec kgo.Record
	buf []byte
}

// workloadProducer is one producer client of a run.
type workloadProducer struct {
	client  *kgo.Client
	records int
	latency histogram // Produce to promise

	// Written by the promise goroutine, read after Flush.
	produced int64
	bytes    int64
	err      error

	txnErr error // a transaction that could not begin or commit
}

func (w *workloadRun) producerOptions() ([]kgo.Opt, error) {
	codec, err := compressionCodec(w.o.Compression)
	if err != nil {
		return nil, err
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(w.brokers...),
		kgo.DefaultProduceTopic(w.topic),
		kgo.ProducerLinger(w.o.Linger),
		kgo.ProducerBatchCompression(codec),
	}
	if w.o.BatchBytes > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(w.o.BatchBytes))
	}
	switch w.o.Acks {
	case "all":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	case "0":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	}
	return opts, nil
}

// produce runs the producers and measures them. With stamp, each value
// starts with the send time in Unix nanoseconds, for an e2e consumer; the
// warm-up records carry 0 there. started, if set, is closed when the clock
// starts.
func (w *workloadRun) produce(ctx context.Context, started chan<- time.Time) (WorkloadResult, error) {
	opts, err := w.producerOptions()
	if err != nil {
		return WorkloadResult{}, err
	}
	fill := make([]byte, w.o.RecordSize)
	for i := range fill {
		fill[i] = byte(rand.Uint32())
	}
	producers := make([]*workloadProducer, w.o.Producers)
	defer func() {
		for _, p := range producers {
			if p != nil {
				p.client.Close()
			}
		}
	}()
	for i := range producers {
		popts := opts
		if w.o.TxnRecords > 0 {
			popts = append(slices.Clip(opts), kgo.TransactionalID(fmt.Sprintf("%s-%d", w.topic, i)))
		}
		cl, err := kgo.NewClient(popts...)
		if err != nil {
			return WorkloadResult{}, err
		}
		p := &workloadProducer{client: cl, records: w.o.Records / w.o.Producers}
		if i < w.o.Records%w.o.Producers {
			p.records++
		}
		producers[i] = p
		warm := make([]byte, w.o.RecordSize) // zero stamp: not measured
		if err := p.begin(w.o.TxnRecords); err != nil {
			return WorkloadResult{}, fmt.Errorf("warm-up transaction: %w", err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: w.topic, Value: warm}).FirstErr(); err != nil {
			return WorkloadResult{}, fmt.Errorf("warm-up produce: %w", err)
		}
		if err := p.commit(ctx, w.o.TxnRecords); err != nil {
			return WorkloadResult{}, fmt.Errorf("warm-up transaction: %w", err)
		}
	}

	start := time.Now()
	if started != nil {
		started <- start
	}
	var deadline time.Time
	if w.o.Duration > 0 {
		deadline = start.Add(w.o.Duration)
	}
	perProducer := w.o.Rate / float64(w.o.Producers)
	var wg sync.WaitGroup
	for _, p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.runProducer(ctx, p, fill, start, deadline, perProducer)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()

	var res WorkloadResult
	var latency histogram
	for _, p := range producers {
		if p.err != nil {
			return WorkloadResult{}, p.err
		}
		if p.txnErr != nil {
			return WorkloadResult{}, p.txnErr
		}
		res.Records += p.produced
		res.Bytes += p.bytes
		latency.merge(&p.latency)
	}
	if err := ctx.Err(); err != nil {
		return WorkloadResult{}, err
	}
	res.Seconds = elapsed
	res.rates()
	if w.o.Acks != "0" {
		res.Latency = latencyOf(&latency)
	}
	return res, nil
}

// runProducer produces p.records records, or until deadline, at most at
// rate records/s if rate > 0, then flushes.
func (w *workloadRun) runProducer(ctx context.Context, p *workloadProducer, fill []byte, start, deadline time.Time, rate float64) {
	stamp := w.o.Mode == ModeE2E
	pool := sync.Pool{New: func() any {
		s := &stamped{Context: context.Background()}
		if stamp {
			s.buf = append([]byte(nil), fill...)
		}
		return s
	}}
	// kgo calls one client's promises serially: no lock for p's fields.
	promise := func(r *kgo.Record, err error) {
		s := r.Context.(*stamped)
		p.latency.record(time.Since(s.at))
		if err != nil {
			if p.err == nil {
				p.err = err
			}
		} else {
			p.produced++
			p.bytes += int64(len(r.Value))
			w.produced.Add(1)
		}
		pool.Put(s)
	}
	txn, open := w.o.TxnRecords, 0 // records per transaction; in the open one
	for i := 0; !deadline.IsZero() || i < p.records; i++ {
		if rate > 0 {
			// Paced against the start, so a slow moment is caught up.
			due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(wait):
				}
			}
		}
		s := pool.Get().(*stamped)
		s.at = time.Now()
		if !deadline.IsZero() && s.at.After(deadline) {
			pool.Put(s)
			break
		}
		value := fill
		if stamp {
			binary.BigEndian.PutUint64(s.buf, uint64(s.at.UnixNano()))
			value = s.buf
		}
		s.rec = kgo.Record{Topic: w.topic, Value: value, Context: s}
		if txn > 0 && open == 0 {
			if err := p.begin(txn); err != nil {
				p.fail(err)
				break
			}
		}
		p.client.Produce(ctx, &s.rec, promise)
		if ctx.Err() != nil {
			break
		}
		if open++; txn > 0 && open == txn {
			open = 0
			if err := p.commit(ctx, txn); err != nil {
				p.fail(err)
				break
			}
		}
	}
	if open > 0 {
		if err := p.commit(ctx, txn); err != nil {
			p.fail(err)
		}
	}
	_ = p.client.Flush(ctx)
}

// begin starts a transaction of a transactional producer (txn > 0).
func (p *workloadProducer) begin(txn int) error {
	if txn == 0 {
		return nil
	}
	return p.client.BeginTransaction()
}

// commit flushes and commits a transactional producer's transaction.
func (p *workloadProducer) commit(ctx context.Context, txn int) error {
	if txn == 0 {
		return nil
	}
	if err := p.client.Flush(ctx); err != nil {
		return err
	}
	return p.client.EndTransaction(ctx, kgo.TryCommit)
}

// fail records the producer's first transaction error (the producer's own
// goroutine writes it, and it is read after that goroutine is done).
func (p *workloadProducer) fail(err error) {
	if p.txnErr == nil {
		p.txnErr = err
	}
}
