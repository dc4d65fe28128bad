package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Workload modes: what RunWorkload measures.
const (
	ModeProduce = "produce" // producer throughput and acknowledgement latency
	ModeConsume = "consume" // consumer throughput over a topic filled beforehand
	ModeE2E     = "e2e"     // produce and consume at once; latency from Produce to the consumer
)

// WorkloadOptions is one workload, run against one or two clusters.
type WorkloadOptions struct {
	Mode    string
	Brokers []string // cluster A
	Compare []string // cluster B, optional

	// Records produced per run; 0 picks 256 MiB worth between 200,000 and
	// 2,000,000. Duration, when set, produces for that long instead.
	Records    int
	Duration   time.Duration
	RecordSize int   // value bytes; at least 8 for e2e, which stamps the send time in them
	Partitions int32 // of the fresh topic each run creates; default 1
	Producers  int   // producer clients; default 1

	Acks        string        // all (default), 1 or 0
	Compression string        // none (default), gzip, snappy, lz4, zstd
	Linger      time.Duration // kgo ProducerLinger; default 0
	BatchBytes  int32         // largest batch before compression; 0 is kgo's 1 MB
	Rate        float64       // target records/s over all producers; 0 is as fast as possible
	// TxnRecords, when set, makes every producer transactional, committing
	// each TxnRecords records it produces as one transaction (its last
	// one may be shorter); consumers (e2e) then read read_committed, so
	// end-to-end latency includes the commit.
	TxnRecords int

	Runs int // runs per cluster, reported as medians; default 3 with Compare, else 1

	// Progress receives a line per finished run and, with Live, a line
	// redrawn twice a second while a run goes (only sensible on a terminal).
	Progress io.Writer
	Live     bool
}

func (o WorkloadOptions) withDefaults() (WorkloadOptions, error) {
	switch o.Mode {
	case ModeProduce, ModeConsume, ModeE2E:
	default:
		return o, fmt.Errorf("bench: mode %q: want produce, consume or e2e", o.Mode)
	}
	if len(o.Brokers) == 0 {
		return o, errors.New("bench: no brokers")
	}
	if o.RecordSize == 0 {
		o.RecordSize = 100
	}
	if o.RecordSize < 1 || o.Mode == ModeE2E && o.RecordSize < 8 {
		return o, fmt.Errorf("bench: record size %d: must be at least 1 byte (8 for e2e)", o.RecordSize)
	}
	if o.Partitions == 0 {
		o.Partitions = 1
	}
	if o.Partitions < 0 {
		return o, fmt.Errorf("bench: %d partitions: must be at least 1", o.Partitions)
	}
	if o.Producers <= 0 {
		o.Producers = 1
	}
	if o.Acks == "" {
		o.Acks = "all"
	}
	switch strings.ToLower(o.Acks) {
	case "all", "-1":
		o.Acks = "all"
	case "1", "0":
	default:
		return o, fmt.Errorf("bench: acks %q: want all, 1 or 0", o.Acks)
	}
	if _, err := compressionCodec(o.Compression); err != nil {
		return o, err
	}
	if o.Compression == "" {
		o.Compression = "none"
	}
	if o.Records < 0 || o.Rate < 0 || o.BatchBytes < 0 || o.Linger < 0 || o.TxnRecords < 0 {
		return o, errors.New("bench: records, rate, batch size, linger and records per transaction must not be negative")
	}
	if o.TxnRecords > 0 && o.Acks != "all" {
		return o, fmt.Errorf("bench: transactions need acks all, not %s", o.Acks)
	}
	if o.Mode == ModeConsume && o.Duration > 0 {
		return o, errors.New("bench: consume reads a topic filled beforehand: give --records, not --duration")
	}
	if o.Records == 0 && o.Duration == 0 {
		o.Records = Options{}.recordsFor(o.RecordSize)
	}
	if o.Runs <= 0 {
		o.Runs = 1
		if len(o.Compare) > 0 {
			o.Runs = 3
		}
	}
	return o, nil
}

func compressionCodec(name string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(name) {
	case "", "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.NoCompression(), fmt.Errorf("bench: compression %q: want none, gzip, snappy, lz4 or zstd", name)
}

// RunWorkload runs the workload Runs times on cluster A and, with Compare,
// alternately on cluster B, and reports medians and ratios.
func RunWorkload(ctx context.Context, o WorkloadOptions) (WorkloadReport, error) {
	o, err := o.withDefaults()
	if err != nil {
		return WorkloadReport{}, err
	}
	report := newWorkloadReport(o)
	clusters := [][]string{o.Brokers}
	if len(o.Compare) > 0 {
		clusters = append(clusters, o.Compare)
	}
	for run := 1; run <= o.Runs; run++ {
		for c, brokers := range clusters {
			name := "A"
			if c == 1 {
				name = "B"
			}
			res, err := runWorkloadOnce(ctx, o, brokers)
			if err != nil {
				return report, fmt.Errorf("bench %s: run %d on %s (%s): %w", o.Mode, run, name, strings.Join(brokers, ","), err)
			}
			if o.Progress != nil {
				fmt.Fprintf(o.Progress, "%s run %d/%d: %s\n", name, run, o.Runs, res.summary())
			}
			if c == 0 {
				report.ARuns = append(report.ARuns, res)
			} else {
				report.BRuns = append(report.BRuns, res)
			}
		}
	}
	report.finish()
	return report, nil
}

// runWorkloadOnce creates a fresh topic, runs the workload on it and
// deletes it.
func runWorkloadOnce(ctx context.Context, o WorkloadOptions, brokers []string) (WorkloadResult, error) {
	admin, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return WorkloadResult{}, err
	}
	defer admin.Close()
	adm := kadm.NewClient(admin)
	topic := fmt.Sprintf("samsa-bench-%s-%016x", o.Mode, rand.Uint64())
	created, err := adm.CreateTopic(ctx, o.Partitions, -1, nil, topic)
	if err == nil {
		err = created.Err
	}
	if err != nil {
		return WorkloadResult{}, fmt.Errorf("create topic %s: %w", topic, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_, _ = adm.DeleteTopic(dctx, topic)
	}()
	if err := waitForLeaders(ctx, admin, topic, o.Partitions); err != nil {
		return WorkloadResult{}, err
	}

	w := &workloadRun{o: o, brokers: brokers, topic: topic}
	stopLive := w.live()
	defer stopLive()
	switch o.Mode {
	case ModeProduce:
		return w.produce(ctx, nil)
	case ModeConsume:
		filled, err := w.produce(ctx, nil)
		if err != nil {
			return WorkloadResult{}, fmt.Errorf("filling the topic: %w", err)
		}
		w.phase.Store("consume")
		res, err := w.consume(ctx, filled.Records+int64(o.Producers), false)
		if err != nil {
			return res, err
		}
		// The producers' warm-up records are in the topic too.
		res.Records -= int64(o.Producers)
		res.Bytes -= int64(o.Producers * o.RecordSize)
		if res.Records != filled.Records {
			return res, fmt.Errorf("consumed %d records, produced %d", res.Records, filled.Records)
		}
		res.rates()
		return res, nil
	default:
		return w.endToEnd(ctx)
	}
}

// workloadRun is the state of one run, shared with the live progress line.
type workloadRun struct {
	o       WorkloadOptions
	brokers []string
	topic   string

	phase    atomic.Value // string: "produce" or "consume"
	produced atomic.Int64
	consumed atomic.Int64
}

// live draws a progress line on o.Progress twice a second until the
// returned function is called, which erases it.
func (w *workloadRun) live() func() {
	if !w.o.Live || w.o.Progress == nil {
		return func() {}
	}
	w.phase.Store(w.o.Mode)
	if w.o.Mode == ModeConsume {
		w.phase.Store("fill")
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		start, last := time.Now(), time.Now()
		var lastProduced, lastConsumed int64
		for {
			select {
			case <-done:
				fmt.Fprint(w.o.Progress, "\r\033[K")
				return
			case now := <-tick.C:
				// Rates over the last tick: what the cluster does now.
				secs := now.Sub(last).Seconds()
				p, c := w.produced.Load(), w.consumed.Load()
				fmt.Fprintf(w.o.Progress, "\r\033[K%-7s %5.1fs  produced %11s  %9s rec/s   consumed %11s  %9s rec/s",
					w.phase.Load(), now.Sub(start).Seconds(),
					thousands(float64(p)), thousands(float64(p-lastProduced)/secs),
					thousands(float64(c)), thousands(float64(c-lastConsumed)/secs))
				last, lastProduced, lastConsumed = now, p, c
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
	}
}
