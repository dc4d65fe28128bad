package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes the report as indented JSON, medians and every run.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the report as an aligned table for people. With a
// comparison, cluster A's columns, then B's, then the ratios A/B.
func (r Report) WriteTable(w io.Writer) error {
	runs := "1 run"
	if r.Runs > 1 {
		runs = fmt.Sprintf("medians of %d runs", r.Runs)
	}
	fmt.Fprintf(w, "A: %s\n", r.Brokers)
	if r.Compare != "" {
		fmt.Fprintf(w, "B: %s\n", r.Compare)
	}
	fmt.Fprintf(w, "%s, %d producer client(s); MB = 10^6 bytes of record values; latency from Produce to promise\n\n", runs, r.Producers)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	sides := []string{""}
	if r.Compare != "" {
		sides = []string{"A ", "B "}
	}
	header := []string{"size", "parts", "acks", "records"}
	for _, s := range sides {
		header = append(header, s+"prod rec/s", s+"prod MB/s", s+"p50 ms", s+"p99 ms", s+"cons rec/s", s+"cons MB/s")
	}
	if r.Compare != "" {
		header = append(header, "A/B prod", "A/B p99", "A/B cons")
	}
	fmt.Fprintln(tw, strings.Join(header, "\t")+"\t")
	for _, row := range r.Rows {
		cells := []string{formatSize(row.RecordSize), strconv.Itoa(int(row.Partitions)), row.Acks, thousands(float64(row.A.Records))}
		results := []Result{row.A}
		if row.B != nil {
			results = append(results, *row.B)
		}
		for _, res := range results {
			cells = append(cells,
				thousands(res.ProduceRecordsPerSec),
				strconv.FormatFloat(res.ProduceMBPerSec, 'f', 1, 64),
				strconv.FormatFloat(res.ProduceP50Ms, 'f', 2, 64),
				strconv.FormatFloat(res.ProduceP99Ms, 'f', 2, 64),
				thousands(res.ConsumeRecordsPerSec),
				strconv.FormatFloat(res.ConsumeMBPerSec, 'f', 1, 64),
			)
		}
		if row.Ratio != nil {
			cells = append(cells,
				strconv.FormatFloat(row.Ratio.ProduceRecordsPerSec, 'f', 2, 64),
				strconv.FormatFloat(row.Ratio.ProduceP99Ms, 'f', 2, 64),
				strconv.FormatFloat(row.Ratio.ConsumeRecordsPerSec, 'f', 2, 64),
			)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	return tw.Flush()
}

// thousands rounds f and groups its digits: 1234567 → 1,234,567.
func thousands(f float64) string {
	s := strconv.FormatInt(int64(f+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
