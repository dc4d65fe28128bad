package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// consume reads the topic from the start, without a group, until it has
// seen want records (want may grow while it runs, for e2e: see target).
// With stamped, it records each record's age, from the send time in its
// value to now.
func (w *workloadRun) consume(ctx context.Context, want int64, stamped bool) (WorkloadResult, error) {
	var target atomic.Int64
	target.Store(want)
	return w.consumeUntil(ctx, &target, stamped, nil)
}

// consumeUntil is consume with a target that the caller may raise or lower
// while it runs; ready, if set, is closed once the client exists.
func (w *workloadRun) consumeUntil(ctx context.Context, target *atomic.Int64, stamped bool, ready chan<- struct{}) (WorkloadResult, error) {
	start := time.Now()
	opts := []kgo.Opt{
		kgo.SeedBrokers(w.brokers...),
		kgo.ConsumeTopics(w.topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100 * time.Millisecond),
	}
	if w.o.TxnRecords > 0 {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return WorkloadResult{}, err
	}
	defer cl.Close()
	if ready != nil {
		close(ready)
	}
	var (
		res          WorkloadResult
		latency      histogram
		lastProgress = time.Now()
	)
	for res.Records < target.Load() {
		pollCtx, cancel := context.WithTimeout(ctx, time.Second)
		fetches := cl.PollFetches(pollCtx)
		cancel()
		if err := ctx.Err(); err != nil {
			return WorkloadResult{}, err
		}
		var fetchErr error
		fetches.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && fetchErr == nil {
				fetchErr = err
			}
		})
		if fetchErr != nil {
			return WorkloadResult{}, fmt.Errorf("consume: %w", fetchErr)
		}
		now := time.Now()
		n := int64(0)
		fetches.EachRecord(func(r *kgo.Record) {
			n++
			res.Bytes += int64(len(r.Value))
			if stamped && len(r.Value) >= 8 {
				if sent := binary.BigEndian.Uint64(r.Value); sent != 0 && sent < math.MaxInt64 {
					latency.record(now.Sub(time.Unix(0, int64(sent))))
				}
			}
		})
		res.Records += n
		w.consumed.Add(n)
		if n > 0 {
			lastProgress = now
		} else if time.Since(lastProgress) > stallTimeout {
			return WorkloadResult{}, fmt.Errorf("consume: no records for %v after %d of %d", stallTimeout, res.Records, target.Load())
		}
	}
	res.Seconds = time.Since(start).Seconds()
	res.rates()
	if stamped {
		res.Latency = latencyOf(&latency)
	}
	return res, nil
}

// endToEnd consumes while it produces: throughput is what the consumer
// saw, latency the age of each record when the consumer got it.
func (w *workloadRun) endToEnd(ctx context.Context) (WorkloadResult, error) {
	var target atomic.Int64
	target.Store(math.MaxInt64) // known once the producers are done
	ready := make(chan struct{})
	type outcome struct {
		res WorkloadResult
		err error
	}
	consumed := make(chan outcome, 1)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		res, err := w.consumeUntil(cctx, &target, true, ready)
		consumed <- outcome{res, err}
	}()
	<-ready
	started := make(chan time.Time, 1)
	produced, err := w.produce(ctx, started)
	if err != nil {
		cancel()
		<-consumed
		return WorkloadResult{}, err
	}
	start := <-started
	target.Store(produced.Records + int64(w.o.Producers))
	out := <-consumed
	if out.err != nil {
		return WorkloadResult{}, out.err
	}
	res := out.res
	res.Records -= int64(w.o.Producers)
	res.Bytes -= int64(w.o.Producers * w.o.RecordSize)
	if res.Records != produced.Records {
		return WorkloadResult{}, fmt.Errorf("consumed %d records, produced %d", res.Records, produced.Records)
	}
	// Throughput from the producers' first record to the consumer's last.
	res.Seconds = time.Since(start).Seconds()
	res.rates()
	res.ProduceLatency = produced.Latency
	return res, nil
}
