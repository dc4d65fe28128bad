package storage

import (
	"cmp"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestMeasureManyLogs times the storage side of 10,000 partitions on the real
// filesystem: creating the logs, a clean Close after one append to each (with
// BeginShutdown, as the broker does), opening them again, and recovering them
// after a simulated kill -9 (the clean-shutdown mark removed, as a crash leaves
// it). Run with SAMSA_MEASURE=1 -v; SAMSA_MEASURE_THREADS sets RecoveryThreads
// (Close) and the goroutines opening logs, SAMSA_MEASURE_LOGS the number of logs.
func TestMeasureManyLogs(t *testing.T) {
	if os.Getenv("SAMSA_MEASURE") == "" {
		t.Skip("set SAMSA_MEASURE=1 to measure")
	}
	n, _ := strconv.Atoi(os.Getenv("SAMSA_MEASURE_LOGS"))
	n = cmp.Or(n, 10000)
	threads, _ := strconv.Atoi(os.Getenv("SAMSA_MEASURE_THREADS"))
	threads = max(threads, 1)
	dir := t.TempDir()
	opts := Options{RecoveryThreads: threads, MaxOpenSegments: 1000}
	openAll := func(m *Manager) []*Log {
		logs := make([]*Log, n)
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		errs := parallel(idx, threads, func(i int) error {
			l, err := m.OpenLog(fmt.Sprintf("t%03d", i/100), int32(i%100), [16]byte{byte(i/100) + 1}, DefaultConfig())
			logs[i] = l
			return err
		})
		if len(errs) > 0 {
			t.Fatal(errs[0])
		}
		return logs
	}
	closeAll := func(m *Manager) string {
		began := time.Now()
		m.BeginShutdown()
		m.mu.Lock()
		logs := make([]*Log, 0, len(m.logs))
		for _, l := range m.logs {
			logs = append(logs, l)
		}
		m.mu.Unlock()
		if errs := parallel(logs, threads, (*Log).Close); len(errs) > 0 {
			t.Fatal(errs[0])
		}
		closed := time.Since(began)
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%v (logs closed in %v, then Manager.Close: sync and mark in %v)", time.Since(began), closed, time.Since(began)-closed)
	}

	m, err := NewManager(dir, opts, 0)
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	logs := openAll(m)
	t.Logf("threads=%d: create %d logs: %v", threads, n, time.Since(began))
	began = time.Now()
	b := makeBatch(10, 0, "0123456789")
	for _, l := range logs {
		mustAppend(t, l, b)
	}
	t.Logf("append one batch to each: %v", time.Since(began))
	t.Logf("clean close: %v", closeAll(m))

	m, err = NewManager(dir, opts, 0)
	if err != nil {
		t.Fatal(err)
	}
	began = time.Now()
	openAll(m)
	t.Logf("open after clean close: %v", time.Since(began))
	t.Logf("clean close of logs left alone: %v", closeAll(m))

	if err := os.Remove(dir + "/" + cleanShutdownFile); err != nil {
		t.Fatal(err)
	}
	m, err = NewManager(dir, opts, 0)
	if err != nil {
		t.Fatal(err)
	}
	began = time.Now()
	openAll(m)
	t.Logf("open after a crash (recovery): %v", time.Since(began))
	t.Logf("clean close after recovery: %v", closeAll(m))
}
