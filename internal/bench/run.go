package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Result is one measurement of one row on one cluster, or the medians of
// several (each field its own median).
type Result struct {
	Records              int64   `json:"records"`
	ProduceSeconds       float64 `json:"produce_seconds"`
	ProduceRecordsPerSec float64 `json:"produce_records_per_sec"`
	ProduceMBPerSec      float64 `json:"produce_mb_per_sec"`
	ProduceP50Ms         float64 `json:"produce_p50_ms"`
	ProduceP99Ms         float64 `json:"produce_p99_ms"`
	ConsumedRecords      int64   `json:"consumed_records"`
	ConsumeSeconds       float64 `json:"consume_seconds"`
	ConsumeRecordsPerSec float64 `json:"consume_records_per_sec"`
	ConsumeMBPerSec      float64 `json:"consume_mb_per_sec"`
}

// Ratios compares cluster A with cluster B on one row: A/B, so above 1 means
// A produced or consumed faster, or had the higher latency.
type Ratios struct {
	ProduceRecordsPerSec float64 `json:"produce_records_per_sec"`
	ProduceP99Ms         float64 `json:"produce_p99_ms"`
	ConsumeRecordsPerSec float64 `json:"consume_records_per_sec"`
}

// Row is one cell of the matrix.
type Row struct {
	RecordSize int      `json:"record_size"`
	Partitions int32    `json:"partitions"`
	Acks       string   `json:"acks"`
	A          Result   `json:"a"`           // medians on cluster A
	B          *Result  `json:"b,omitempty"` // medians on cluster B, with Compare
	Ratio      *Ratios  `json:"ratio,omitempty"`
	ARuns      []Result `json:"a_runs"`
	BRuns      []Result `json:"b_runs,omitempty"`
}

// Report is the outcome of Run.
type Report struct {
	Brokers   string `json:"brokers"`
	Compare   string `json:"compare,omitempty"`
	Runs      int    `json:"runs"`
	Producers int    `json:"producers"`
	Rows      []Row  `json:"rows"`
}

// Run runs the matrix: for each row, Runs times, a run on cluster A and then,
// with Compare, one on cluster B, so that both see the same machine load.
func Run(ctx context.Context, o Options) (Report, error) {
	o, err := o.withDefaults()
	if err != nil {
		return Report{}, err
	}
	report := Report{
		Brokers:   strings.Join(o.Brokers, ","),
		Compare:   strings.Join(o.Compare, ","),
		Runs:      o.Runs,
		Producers: o.Producers,
	}
	clusters := [][]string{o.Brokers}
	if len(o.Compare) > 0 {
		clusters = append(clusters, o.Compare)
	}
	for _, size := range o.Sizes {
		for _, partitions := range o.Partitions {
			for _, acks := range o.Acks {
				row := Row{RecordSize: size, Partitions: partitions, Acks: acks}
				for run := 1; run <= o.Runs; run++ {
					for c, brokers := range clusters {
						res, err := runOnce(ctx, o, brokers, size, partitions, acks)
						name := "A"
						if c == 1 {
							name = "B"
						}
						if err != nil {
							return report, fmt.Errorf("bench: %s, %s, %d partitions, acks=%s, run %d on %s: %w",
								name, formatSize(size), partitions, acks, run, strings.Join(brokers, ","), err)
						}
						if o.Progress != nil {
							fmt.Fprintf(o.Progress, "%s %s %dp acks=%s run %d/%d: produce %.0f rec/s %.1f MB/s p50 %.2f ms p99 %.2f ms, consume %.0f rec/s %.1f MB/s\n",
								name, formatSize(size), partitions, acks, run, o.Runs,
								res.ProduceRecordsPerSec, res.ProduceMBPerSec, res.ProduceP50Ms, res.ProduceP99Ms,
								res.ConsumeRecordsPerSec, res.ConsumeMBPerSec)
						}
						if c == 0 {
							row.ARuns = append(row.ARuns, res)
						} else {
							row.BRuns = append(row.BRuns, res)
						}
					}
				}
				row.A = median(row.ARuns)
				if len(row.BRuns) > 0 {
					b := median(row.BRuns)
					row.B = &b
					row.Ratio = &Ratios{
						ProduceRecordsPerSec: ratio(row.A.ProduceRecordsPerSec, b.ProduceRecordsPerSec),
						ProduceP99Ms:         ratio(row.A.ProduceP99Ms, b.ProduceP99Ms),
						ConsumeRecordsPerSec: ratio(row.A.ConsumeRecordsPerSec, b.ConsumeRecordsPerSec),
					}
				}
				report.Rows = append(report.Rows, row)
			}
		}
	}
	return report, nil
}

// runOnce creates a fresh topic, produces to it, consumes it back from the
// start and deletes it.
func runOnce(ctx context.Context, o Options, brokers []string, size int, partitions int32, acks string) (Result, error) {
	admin, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return Result{}, err
	}
	defer admin.Close()
	adm := kadm.NewClient(admin)

	topic := fmt.Sprintf("samsa-bench-%d-%dp-acks%s-%016x", size, partitions, acks, rand.Uint64())
	created, err := adm.CreateTopic(ctx, partitions, -1, nil, topic)
	if err == nil {
		err = created.Err
	}
	if err != nil {
		return Result{}, fmt.Errorf("create topic %s: %w", topic, err)
	}
	defer func() {
		// Delete even when ctx is cancelled, so an interrupted bench does not
		// leave its topic behind.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_, _ = adm.DeleteTopic(dctx, topic)
	}()
	if err := waitForLeaders(ctx, admin, topic, partitions); err != nil {
		return Result{}, err
	}

	res, err := produce(ctx, o, brokers, topic, size, acks)
	if err != nil {
		return res, err
	}
	// Each producer client's warm-up record is in the topic too.
	if err := consume(ctx, brokers, topic, res.Records+int64(o.Producers), &res); err != nil {
		return res, err
	}
	res.ConsumedRecords -= int64(o.Producers)
	if res.ConsumedRecords != res.Records {
		return res, fmt.Errorf("consumed %d records, produced %d", res.ConsumedRecords, res.Records)
	}
	return res, nil
}

// waitForLeaders waits up to 30 s until every broker's Metadata lists
// topic with a leader for each of its partitions. The controller answers
// CreateTopics once it committed the topic and each broker, the leaders
// among them, applies it a moment later; a producer that asks one not
// there yet is told the topic is unknown or led elsewhere and, franz-go
// waiting MetadataMinAge (5 s) before it asks again, stalled the first
// seconds of a run on a cluster (a single broker is the controller).
func waitForLeaders(ctx context.Context, cl *kgo.Client, topic string, partitions int32) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := everyBrokerLeads(ctx, cl, topic, partitions)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.Join(fmt.Errorf("topic %s has no leaders on every broker after 30s", topic), err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// everyBrokerLeads asks each broker for topic's metadata and says which
// one does not list a leader for every partition yet.
func everyBrokerLeads(ctx context.Context, cl *kgo.Client, topic string, partitions int32) error {
	meta, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		return err
	}
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	for _, b := range meta.Brokers {
		resp, err := cl.Broker(int(b.NodeID)).Request(ctx, req)
		if err != nil {
			return err
		}
		ts := resp.(*kmsg.MetadataResponse).Topics
		if len(ts) != 1 || ts[0].ErrorCode != 0 || int32(len(ts[0].Partitions)) != partitions {
			return fmt.Errorf("broker %d does not list %s's %d partitions yet", b.NodeID, topic, partitions)
		}
		for _, p := range ts[0].Partitions {
			if p.ErrorCode != 0 || p.Leader < 0 {
				return fmt.Errorf("broker %d lists no leader of %s-%d yet", b.NodeID, topic, p.Partition)
			}
		}
	}
	return nil
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// median takes the median of each field separately.
func median(runs []Result) Result {
	if len(runs) == 0 {
		return Result{}
	}
	pick := func(field func(*Result) float64) float64 {
		values := make([]float64, len(runs))
		for i := range runs {
			values[i] = field(&runs[i])
		}
		slices.Sort(values)
		if n := len(values); n%2 == 0 {
			return (values[n/2-1] + values[n/2]) / 2
		}
		return values[len(values)/2]
	}
	return Result{
		Records:              int64(pick(func(r *Result) float64 { return float64(r.Records) })),
		ProduceSeconds:       pick(func(r *Result) float64 { return r.ProduceSeconds }),
		ProduceRecordsPerSec: pick(func(r *Result) float64 { return r.ProduceRecordsPerSec }),
		ProduceMBPerSec:      pick(func(r *Result) float64 { return r.ProduceMBPerSec }),
		ProduceP50Ms:         pick(func(r *Result) float64 { return r.ProduceP50Ms }),
		ProduceP99Ms:         pick(func(r *Result) float64 { return r.ProduceP99Ms }),
		ConsumedRecords:      int64(pick(func(r *Result) float64 { return float64(r.ConsumedRecords) })),
		ConsumeSeconds:       pick(func(r *Result) float64 { return r.ConsumeSeconds }),
		ConsumeRecordsPerSec: pick(func(r *Result) float64 { return r.ConsumeRecordsPerSec }),
		ConsumeMBPerSec:      pick(func(r *Result) float64 { return r.ConsumeMBPerSec }),
	}
}
