package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Latency is a distribution's percentiles, in milliseconds.
type Latency struct {
	P50Ms  float64 `json:"p50_ms"`
	P95Ms  float64 `json:"p95_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p99_9_ms"`
	MaxMs  float64 `json:"max_ms"`
}

func latencyOf(h *histogram) *Latency {
	// A bucket's middle can lie above the largest value seen.
	ms := func(d time.Duration) float64 { return float64(min(d, h.max)) / 1e6 }
	return &Latency{
		P50Ms:  ms(h.quantile(0.50)),
		P95Ms:  ms(h.quantile(0.95)),
		P99Ms:  ms(h.quantile(0.99)),
		P999Ms: ms(h.quantile(0.999)),
		MaxMs:  ms(h.max),
	}
}

// WorkloadResult is one run on one cluster, or the medians of several.
//
// Latency is, by mode: produce, from Produce to its acknowledgement (none
// with acks=0); consume, none; e2e, from Produce to the consumer receiving
// the record, with the acknowledgement latency in ProduceLatency.
type WorkloadResult struct {
	Records        int64    `json:"records"`
	Bytes          int64    `json:"bytes"`
	Seconds        float64  `json:"seconds"`
	RecordsPerSec  float64  `json:"records_per_sec"`
	MBPerSec       float64  `json:"mb_per_sec"` // 10^6 bytes of record values
	Latency        *Latency `json:"latency,omitempty"`
	ProduceLatency *Latency `json:"produce_latency,omitempty"`
}

func (r *WorkloadResult) rates() {
	if r.Seconds > 0 {
		r.RecordsPerSec = float64(r.Records) / r.Seconds
		r.MBPerSec = float64(r.Bytes) / r.Seconds / 1e6
	}
}

func (r WorkloadResult) summary() string {
	s := fmt.Sprintf("%s records in %.2fs, %s rec/s, %.1f MB/s", thousands(float64(r.Records)), r.Seconds, thousands(r.RecordsPerSec), r.MBPerSec)
	if r.Latency != nil {
		s += fmt.Sprintf(", p50 %.2f ms, p99 %.2f ms, max %.2f ms", r.Latency.P50Ms, r.Latency.P99Ms, r.Latency.MaxMs)
	}
	return s
}

// WorkloadReport is the outcome of RunWorkload.
type WorkloadReport struct {
	Mode        string  `json:"mode"`
	Brokers     string  `json:"brokers"`
	Compare     string  `json:"compare,omitempty"`
	RecordSize  int     `json:"record_size"`
	Partitions  int32   `json:"partitions"`
	Producers   int     `json:"producers"`
	Acks        string  `json:"acks"`
	Compression string  `json:"compression"`
	LingerMs    float64 `json:"linger_ms"`
	BatchBytes  int32   `json:"batch_bytes,omitempty"`
	Rate        float64 `json:"target_records_per_sec,omitempty"`
	Runs        int     `json:"runs"`

	A     WorkloadResult   `json:"a"`           // medians on cluster A
	B     *WorkloadResult  `json:"b,omitempty"` // medians on cluster B
	Ratio *WorkloadRatio   `json:"ratio,omitempty"`
	ARuns []WorkloadResult `json:"a_runs"`
	BRuns []WorkloadResult `json:"b_runs,omitempty"`
}

// WorkloadRatio is A/B of each figure: above 1, A moved more records or
// had the higher latency.
type WorkloadRatio struct {
	RecordsPerSec float64  `json:"records_per_sec"`
	MBPerSec      float64  `json:"mb_per_sec"`
	Latency       *Latency `json:"latency,omitempty"`
}

func newWorkloadReport(o WorkloadOptions) WorkloadReport {
	return WorkloadReport{
		Mode: o.Mode, Brokers: strings.Join(o.Brokers, ","), Compare: strings.Join(o.Compare, ","),
		RecordSize: o.RecordSize, Partitions: o.Partitions, Producers: o.Producers, Acks: o.Acks,
		Compression: o.Compression, LingerMs: float64(o.Linger) / 1e6, BatchBytes: o.BatchBytes,
		Rate: o.Rate, Runs: o.Runs,
	}
}

// finish takes the medians and ratios.
func (r *WorkloadReport) finish() {
	r.A = medianWorkload(r.ARuns)
	if len(r.BRuns) == 0 {
		return
	}
	b := medianWorkload(r.BRuns)
	r.B = &b
	r.Ratio = &WorkloadRatio{RecordsPerSec: ratio(r.A.RecordsPerSec, b.RecordsPerSec), MBPerSec: ratio(r.A.MBPerSec, b.MBPerSec)}
	if r.A.Latency != nil && b.Latency != nil {
		r.Ratio.Latency = &Latency{
			P50Ms: ratio(r.A.Latency.P50Ms, b.Latency.P50Ms), P95Ms: ratio(r.A.Latency.P95Ms, b.Latency.P95Ms),
			P99Ms: ratio(r.A.Latency.P99Ms, b.Latency.P99Ms), P999Ms: ratio(r.A.Latency.P999Ms, b.Latency.P999Ms),
			MaxMs: ratio(r.A.Latency.MaxMs, b.Latency.MaxMs),
		}
	}
}

// medianWorkload takes the median of each figure separately.
func medianWorkload(runs []WorkloadResult) WorkloadResult {
	if len(runs) == 0 {
		return WorkloadResult{}
	}
	pick := func(field func(*WorkloadResult) float64) float64 {
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
	medianLatency := func(get func(*WorkloadResult) *Latency) *Latency {
		if get(&runs[0]) == nil {
			return nil
		}
		at := func(f func(*Latency) float64) float64 {
			return pick(func(r *WorkloadResult) float64 { return f(get(r)) })
		}
		return &Latency{
			P50Ms:  at(func(l *Latency) float64 { return l.P50Ms }),
			P95Ms:  at(func(l *Latency) float64 { return l.P95Ms }),
			P99Ms:  at(func(l *Latency) float64 { return l.P99Ms }),
			P999Ms: at(func(l *Latency) float64 { return l.P999Ms }),
			MaxMs:  at(func(l *Latency) float64 { return l.MaxMs }),
		}
	}
	return WorkloadResult{
		Records:        int64(pick(func(r *WorkloadResult) float64 { return float64(r.Records) })),
		Bytes:          int64(pick(func(r *WorkloadResult) float64 { return float64(r.Bytes) })),
		Seconds:        pick(func(r *WorkloadResult) float64 { return r.Seconds }),
		RecordsPerSec:  pick(func(r *WorkloadResult) float64 { return r.RecordsPerSec }),
		MBPerSec:       pick(func(r *WorkloadResult) float64 { return r.MBPerSec }),
		Latency:        medianLatency(func(r *WorkloadResult) *Latency { return r.Latency }),
		ProduceLatency: medianLatency(func(r *WorkloadResult) *Latency { return r.ProduceLatency }),
	}
}

// WriteJSON writes the report as indented JSON, medians and every run.
func (r WorkloadReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the report for people: one row per figure, a column
// per cluster and, with a comparison, the ratio A/B.
func (r WorkloadReport) WriteTable(w io.Writer) error {
	rate := "unlimited"
	if r.Rate > 0 {
		rate = thousands(r.Rate) + " rec/s"
	}
	batch := "default"
	if r.BatchBytes > 0 {
		batch = formatSize(int(r.BatchBytes))
	}
	fmt.Fprintf(w, "bench %s: %s records of %s, %d partition(s), %d producer(s), acks=%s, compression %s, linger %s, batch %s, rate %s\n",
		r.Mode, thousands(float64(r.A.Records)), formatSize(r.RecordSize), r.Partitions, r.Producers, r.Acks,
		r.Compression, time.Duration(r.LingerMs*1e6), batch, rate)
	runs := "1 run"
	if r.Runs > 1 {
		runs = fmt.Sprintf("medians of %d runs", r.Runs)
	}
	fmt.Fprintf(w, "A: %s\n", r.Brokers)
	if r.B != nil {
		fmt.Fprintf(w, "B: %s\n", r.Compare)
	}
	fmt.Fprintf(w, "%s; MB = 10^6 bytes of record values; %s\n\n", runs, latencyMeaning(r.Mode))

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := []string{"", "A"}
	if r.B != nil {
		header = append(header, "B", "A/B")
	}
	fmt.Fprintln(tw, strings.Join(header, "\t")+"\t")
	row := func(name string, a float64, b *float64, ratio float64, format func(float64) string) {
		cells := []string{name, format(a)}
		if b != nil {
			cells = append(cells, format(*b), strconv.FormatFloat(ratio, 'f', 2, 64))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	ms := func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }
	mb := func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }
	var b *WorkloadResult
	ratioOf := func(f func(*WorkloadResult) float64) (*float64, float64) {
		if b == nil {
			return nil, 0
		}
		v := f(b)
		return &v, ratio(f(&r.A), v)
	}
	b = r.B
	bv, rv := ratioOf(func(x *WorkloadResult) float64 { return x.RecordsPerSec })
	row("records/s", r.A.RecordsPerSec, bv, rv, thousands)
	bv, rv = ratioOf(func(x *WorkloadResult) float64 { return x.MBPerSec })
	row("MB/s", r.A.MBPerSec, bv, rv, mb)
	latencyRows := func(prefix string, get func(*WorkloadResult) *Latency) {
		if get(&r.A) == nil || b != nil && get(b) == nil {
			return
		}
		for _, q := range []struct {
			name string
			f    func(*Latency) float64
		}{
			{"p50", func(l *Latency) float64 { return l.P50Ms }},
			{"p95", func(l *Latency) float64 { return l.P95Ms }},
			{"p99", func(l *Latency) float64 { return l.P99Ms }},
			{"p99.9", func(l *Latency) float64 { return l.P999Ms }},
			{"max", func(l *Latency) float64 { return l.MaxMs }},
		} {
			bv, rv := ratioOf(func(x *WorkloadResult) float64 { return q.f(get(x)) })
			row(prefix+q.name+" ms", q.f(get(&r.A)), bv, rv, ms)
		}
	}
	latencyRows("", func(x *WorkloadResult) *Latency { return x.Latency })
	latencyRows("ack ", func(x *WorkloadResult) *Latency { return x.ProduceLatency })
	return tw.Flush()
}

func latencyMeaning(mode string) string {
	switch mode {
	case ModeProduce:
		return "latency from Produce to acknowledgement"
	case ModeE2E:
		return "latency from Produce to the consumer; ack = to acknowledgement"
	}
	return "throughput of one consumer reading the topic from the start"
}
