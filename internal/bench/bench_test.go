package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

func newCluster(t *testing.T) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func TestRunMatrix(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	addrs := newCluster(t)
	var progress bytes.Buffer
	report, err := Run(ctx, Options{
		Brokers:    addrs,
		Sizes:      []int{100},
		Partitions: []int32{1, 3},
		Acks:       []string{"1", "all"},
		Records:    300,
		Producers:  2,
		Progress:   &progress,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Rows) != 4 {
		t.Fatalf("got %d rows, want 4", len(report.Rows))
	}
	want := []struct {
		partitions int32
		acks       string
	}{{1, "1"}, {1, "all"}, {3, "1"}, {3, "all"}}
	for i, row := range report.Rows {
		if row.RecordSize != 100 || row.Partitions != want[i].partitions || row.Acks != want[i].acks {
			t.Errorf("row %d: %d B, %d partitions, acks=%s; want 100 B, %d, %s",
				i, row.RecordSize, row.Partitions, row.Acks, want[i].partitions, want[i].acks)
		}
		if row.A.Records != 300 || row.A.ConsumedRecords != 300 {
			t.Errorf("row %d: produced %d, consumed %d, want 300 each", i, row.A.Records, row.A.ConsumedRecords)
		}
		if row.A.ProduceRecordsPerSec <= 0 || row.A.ConsumeRecordsPerSec <= 0 || row.A.ProduceP99Ms < row.A.ProduceP50Ms {
			t.Errorf("row %d: implausible result %+v", i, row.A)
		}
		if row.B != nil || len(row.ARuns) != 1 {
			t.Errorf("row %d: B %v, %d runs; want no B and 1 run", i, row.B, len(row.ARuns))
		}
	}
	if n := strings.Count(progress.String(), "\n"); n != 4 {
		t.Errorf("progress: %d lines, want 4:\n%s", n, progress.String())
	}

	var table bytes.Buffer
	if err := report.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "prod rec/s") || strings.Count(table.String(), "100 B") != 4 {
		t.Errorf("table:\n%s", table.String())
	}
	var js bytes.Buffer
	if err := report.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Rows) != 4 || back.Rows[3].A.ConsumedRecords != 300 {
		t.Errorf("JSON round trip: %v, %+v", err, back)
	}
}

func TestRunCompare(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, b := newCluster(t), newCluster(t)
	var progress bytes.Buffer
	report, err := Run(ctx, Options{
		Brokers:    a,
		Compare:    b,
		Sizes:      []int{1024},
		Partitions: []int32{2},
		Acks:       []string{"-1"},
		Records:    200,
		Runs:       2,
		Progress:   &progress,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Rows) != 1 {
		t.Fatalf("got %d rows, want 1", len(report.Rows))
	}
	row := report.Rows[0]
	if row.Acks != "all" || len(row.ARuns) != 2 || len(row.BRuns) != 2 || row.B == nil || row.Ratio == nil {
		t.Fatalf("row: %+v", row)
	}
	if row.B.ConsumedRecords != 200 || row.Ratio.ProduceRecordsPerSec <= 0 {
		t.Errorf("B %+v, ratio %+v", row.B, row.Ratio)
	}
	// Runs alternate between the clusters: A, B, A, B.
	var order []string
	for _, line := range strings.Split(strings.TrimSpace(progress.String()), "\n") {
		order = append(order, line[:1])
	}
	if strings.Join(order, "") != "ABAB" {
		t.Errorf("run order %v, want A B A B", order)
	}
	var table bytes.Buffer
	if err := report.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "A/B prod") || !strings.Contains(table.String(), "medians of 2 runs") {
		t.Errorf("table:\n%s", table.String())
	}
}

func TestRunDuration(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	report, err := Run(ctx, Options{
		Brokers: newCluster(t), Sizes: []int{10}, Partitions: []int32{1}, Acks: []string{"1"},
		Duration: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := report.Rows[0].A
	if r.Records == 0 || r.ConsumedRecords != r.Records {
		t.Errorf("produced %d, consumed %d", r.Records, r.ConsumedRecords)
	}
}

func TestParsing(t *testing.T) {
	for in, want := range map[string]int{"100": 100, "1KiB": 1024, "1k": 1024, "2 KB": 2048, "1MiB": 1 << 20, "64B": 64} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "-1", "abc", "1.5k"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q): want an error", bad)
		}
	}
	if _, err := ParseAcks("0"); err == nil {
		t.Error("ParseAcks(0): want an error")
	}
	if got := thousands(1234567.4); got != "1,234,567" {
		t.Errorf("thousands = %q", got)
	}
	if got := formatSize(1024); got != "1 KiB" {
		t.Errorf("formatSize(1024) = %q", got)
	}
}
