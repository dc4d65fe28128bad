package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestWorkloadModes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	addrs := newCluster(t)
	for _, mode := range []string{ModeProduce, ModeConsume, ModeE2E} {
		var progress bytes.Buffer
		report, err := RunWorkload(ctx, WorkloadOptions{
			Mode: mode, Brokers: addrs, Records: 300, RecordSize: 64, Partitions: 2, Producers: 2,
			Compression: "lz4", Linger: time.Millisecond, BatchBytes: 16 << 10, Progress: &progress,
		})
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		a := report.A
		if a.Records != 300 || a.Bytes != 300*64 || a.RecordsPerSec <= 0 || a.MBPerSec <= 0 {
			t.Errorf("%s: %+v", mode, a)
		}
		if (a.Latency != nil) != (mode != ModeConsume) || (a.ProduceLatency != nil) != (mode == ModeE2E) {
			t.Errorf("%s: latency %v, produce latency %v", mode, a.Latency, a.ProduceLatency)
		}
		if l := a.Latency; l != nil && (l.P50Ms <= 0 || l.P50Ms > l.P95Ms || l.P99Ms > l.P999Ms || l.P999Ms > l.MaxMs) {
			t.Errorf("%s: percentiles out of order: %+v", mode, l)
		}
		if strings.Count(progress.String(), "\n") != 1 || strings.Contains(progress.String(), "\r") {
			t.Errorf("%s: progress off a terminal: %q", mode, progress.String())
		}
		var table bytes.Buffer
		if err := report.WriteTable(&table); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(table.String(), "records/s") || (mode != ModeConsume) != strings.Contains(table.String(), "p99.9 ms") {
			t.Errorf("%s table:\n%s", mode, table.String())
		}
	}
}

func TestWorkloadCompareAndRate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var progress bytes.Buffer
	start := time.Now()
	report, err := RunWorkload(ctx, WorkloadOptions{
		Mode: ModeE2E, Brokers: newCluster(t), Compare: newCluster(t), Records: 100, Rate: 500,
		Runs: 2, Progress: &progress, Live: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	// 100 records at 500/s take at least 0.2 s, four runs 0.8 s.
	if time.Since(start) < 700*time.Millisecond || report.A.RecordsPerSec > 600 {
		t.Errorf("rate not held: %v for four runs, A %.0f rec/s", time.Since(start), report.A.RecordsPerSec)
	}
	if report.B == nil || report.Ratio == nil || report.Ratio.Latency == nil || len(report.ARuns) != 2 || len(report.BRuns) != 2 {
		t.Fatalf("compare: %+v", report)
	}
	var order []string
	for _, line := range strings.Split(progress.String(), "\n") {
		if i := strings.LastIndex(line, "\r\033[K"); i >= 0 {
			line = line[i+4:]
		}
		if strings.Contains(line, " run ") {
			order = append(order, line[:1])
		}
	}
	if strings.Join(order, "") != "ABAB" {
		t.Errorf("run order %v, want A B A B; progress %q", order, progress.String())
	}
	var table, js bytes.Buffer
	if err := report.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "A/B") || !strings.Contains(table.String(), "ack p99 ms") {
		t.Errorf("table:\n%s", table.String())
	}
	if err := report.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back WorkloadReport
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.B == nil || back.A.Latency == nil {
		t.Errorf("JSON round trip: %v, %+v", err, back)
	}
}

func TestWorkloadOptions(t *testing.T) {
	for _, bad := range []WorkloadOptions{
		{Mode: "fetch", Brokers: []string{"x"}},
		{Mode: ModeE2E, Brokers: []string{"x"}, RecordSize: 4},
		{Mode: ModeProduce, Brokers: []string{"x"}, Acks: "2"},
		{Mode: ModeProduce, Brokers: []string{"x"}, Compression: "brotli"},
		{Mode: ModeConsume, Brokers: []string{"x"}, Duration: time.Second},
		{Mode: ModeProduce},
	} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("%+v: want an error", bad)
		}
	}
	o, err := WorkloadOptions{Mode: ModeProduce, Brokers: []string{"x"}, Acks: "-1"}.withDefaults()
	if err != nil || o.Acks != "all" || o.RecordSize != 100 || o.Records != 2_000_000 || o.Runs != 1 {
		t.Errorf("defaults: %+v, %v", o, err)
	}
}

func TestWorkloadLiveProgress(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var progress bytes.Buffer
	// 150 records at 200/s take 0.75 s: the line is drawn at least once.
	if _, err := RunWorkload(ctx, WorkloadOptions{
		Mode: ModeProduce, Brokers: newCluster(t), Records: 150, Rate: 200, Progress: &progress, Live: true,
	}); err != nil {
		t.Fatal(err)
	}
	out := progress.String()
	if !strings.Contains(out, "\r\033[Kproduce") || !strings.Contains(out, "rec/s") || !strings.Contains(out, "\r\033[KA run 1/1") {
		t.Errorf("live progress: %q", out)
	}
}

// TestWorkloadTransactions: with TxnRecords every producer commits each 7
// records as a transaction (the last of each producer's 50 shorter: 8,
// and one for its warm-up record; kfake counts the commits), and the e2e
// consumer, reading read_committed, receives all 100; transactions with
// acks=1 are refused.
func TestWorkloadTransactions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var commits atomic.Int64
	c.ControlKey(kmsg.EndTxn.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if req.(*kmsg.EndTxnRequest).Commit {
			commits.Add(1)
		}
		return nil, nil, false
	})
	addrs := c.ListenAddrs()
	for _, mode := range []string{ModeProduce, ModeE2E} {
		commits.Store(0)
		report, err := RunWorkload(ctx, WorkloadOptions{Mode: mode, Brokers: addrs, Records: 100, RecordSize: 64,
			Partitions: 2, Producers: 2, TxnRecords: 7})
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if a := report.A; a.Records != 100 || a.Bytes != 100*64 {
			t.Errorf("%s: %+v", mode, a)
		}
		if n := commits.Load(); n != 2*(8+1) {
			t.Errorf("%s: %d transactions committed, want 18", mode, n)
		}
	}
	_, err = RunWorkload(ctx, WorkloadOptions{Mode: ModeProduce, Brokers: addrs, Records: 10, Acks: "1", TxnRecords: 5})
	if err == nil || !strings.Contains(err.Error(), "transactions need acks all") {
		t.Fatalf("acks 1: %v", err)
	}
}
