package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/samsa-streaming/samsa/internal/bench"
)

func TestBenchCommands(t *testing.T) {
	b := startBroker(t)
	for _, mode := range []string{"produce", "consume", "e2e"} {
		r := samsa(t, b, "", "bench", mode, "-n", "200", "-s", "64", "-p", "2", "--producers", "2",
			"--acks", "1", "-z", "snappy", "--linger", "1ms", "--batch-size", "16KiB")
		if r.err != nil {
			t.Fatalf("bench %s: %v\n%s", mode, r.err, r.stderr)
		}
		if !strings.Contains(r.stdout, "records/s") || (mode != "consume") != strings.Contains(r.stdout, "p99.9 ms") {
			t.Errorf("bench %s table:\n%s", mode, r.stdout)
		}
		// Off a terminal: one line per run, no live redraws.
		if strings.Contains(r.stderr, "\r") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("bench %s progress: %q", mode, r.stderr)
		}
	}

	var report bench.WorkloadReport
	out := ok(t, b, "", "bench", "e2e", "-n", "100", "--rate", "2000", "--format", "json", "--compare", b, "--runs", "1")
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatal(err)
	}
	if report.Mode != "e2e" || report.A.Records != 100 || report.B == nil || report.Ratio == nil || report.A.Latency == nil || report.A.Latency.P999Ms <= 0 {
		t.Errorf("e2e JSON: %s", out)
	}

	// The matrix is still the bare command.
	matrix := ok(t, b, "", "bench", "--sizes", "100", "--partitions", "1", "--acks", "1", "--records", "50")
	if !strings.Contains(matrix, "prod rec/s") {
		t.Errorf("matrix:\n%s", matrix)
	}
	// Nothing is left behind.
	if topics := ok(t, b, "", "topic", "list"); strings.Contains(topics, "samsa-bench") {
		t.Errorf("bench topics left behind:\n%s", topics)
	}
	if r := samsa(t, b, "", "bench", "e2e", "-s", "4"); r.err == nil {
		t.Error("e2e with 4-byte records: want an error")
	}
}
