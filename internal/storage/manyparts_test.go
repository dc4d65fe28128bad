package storage

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count descriptors: %v", err)
	}
	return len(ents)
}

// TestManyLogsBoundedDescriptors opens more logs than the handle budget on the
// real filesystem, writes and reads every one (several segments each) and
// checks that the descriptors held stay within the budget, before and after a
// clean restart: a log holds no descriptor while unused.
func TestManyLogsBoundedDescriptors(t *testing.T) {
	const logs, budget = 40, 8
	dir := t.TempDir()
	before := openFDs(t)
	opts := Options{MaxOpenSegments: budget, RecoveryThreads: 4}
	cfg := smallConfig()
	cfg.SegmentBytes = 150 // a segment per batch
	want := map[int][][]byte{}
	check := func(m *Manager, round int) {
		t.Helper()
		for p := range logs {
			l, err := m.OpenLog("many", int32(p), [16]byte{3}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				b := makeBatch(2, int64(i), fmt.Sprint(round, "-", p, "-", i))
				r := mustAppend(t, l, b)
				want[p] = append(want[p], withOffset(b, r.FirstOffset))
			}
			if n := openFDs(t) - before; n > budget+2 {
				t.Fatalf("log %d: %d descriptors open, budget %d", p, n, budget)
			}
		}
		for p := range logs {
			l, err := m.OpenLog("many", int32(p), [16]byte{3}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if len(l.segments) < 2 {
				t.Fatalf("log %d has %d segments", p, len(l.segments))
			}
			got := readAll(t, l)
			if len(got) != len(want[p]) {
				t.Fatalf("log %d: %d batches, want %d", p, len(got), len(want[p]))
			}
			for i := range got {
				if !bytes.Equal(got[i], want[p][i]) {
					t.Fatalf("log %d batch %d differs", p, i)
				}
			}
		}
		if n := m.handles.openHandles(); n > budget {
			t.Fatalf("%d handles cached, budget %d", n, budget)
		}
		if n := openFDs(t) - before; n > budget+2 {
			t.Fatalf("%d descriptors open after reading every log, budget %d", n, budget)
		}
	}
	m, err := NewManager(dir, opts, 0)
	if err != nil {
		t.Fatal(err)
	}
	check(m, 0)
	m.BeginShutdown()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if n := openFDs(t) - before; n > 0 {
		t.Fatalf("%d descriptors left open after Close", n)
	}
	m, err = NewManager(dir, opts, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	check(m, 1)
}

// TestCleanShutdownMark checks what the data directory's mark vouches for: a
// log closed cleanly reopens trusted and, left alone, closes without writing;
// a start consumes the mark durably, so after a crash every log recovers; a
// log whose close failed is listed for recovery while the others stay trusted.
func TestCleanShutdownMark(t *testing.T) {
	mem := vfs.NewMem()
	ffs := vfs.NewFaulty(mem)
	opts := Options{FS: ffs, MaxOpenSegments: 4, RecoveryThreads: 3}
	mark := filepath.Join("/data", cleanShutdownFile)
	open := func(m *Manager, p int32) *Log {
		t.Helper()
		l, err := m.OpenLog("k", p, [16]byte{4}, smallConfig())
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	m, err := NewManager("/data", opts, 0)
	if err != nil {
		t.Fatal(err)
	}
	var batches [][]byte
	for p := range int32(2) {
		l := open(m, p)
		if l.trustClean {
			t.Fatal("new log trusted")
		}
		for i := range 12 {
			b := makeBatch(1, int64(i), fmt.Sprint("k", i))
			r := mustAppend(t, l, b)
			if p == 0 {
				batches = append(batches, withOffset(b, r.FirstOffset))
			}
		}
	}
	m.BeginShutdown()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if b, err := vfs.ReadFile(mem, mark); err != nil || string(b) != "version: 0\n" {
		t.Fatalf("mark %q: %v", b, err)
	}

	// A clean start: the mark is gone durably, the logs are trusted, and
	// logs left alone close without a single write.
	m, err = NewManager("/data", opts, 0)
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(2) {
		if l := open(m, p); !l.trustClean {
			t.Fatalf("log %d not trusted after a clean shutdown", p)
		}
	}
	mem.Crash()
	if _, err := mem.Stat(mark); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("mark survives a crash after start: %v", err)
	}
	m, err = NewManager("/data", opts, 0)
	if err != nil {
		t.Fatal(err)
	}
	l0, l1 := open(m, 0), open(m, 1)
	if l0.trustClean || l1.trustClean {
		t.Fatal("log trusted after a crash")
	}
	if got := readAll(t, l0); len(got) != len(batches) || !bytes.Equal(got[len(got)-1], batches[len(batches)-1]) {
		t.Fatalf("after recovery: %d batches, want %d", len(got), len(batches))
	}
	m.BeginShutdown()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m, err = NewManager("/data", opts, 0)
	if err != nil {
		t.Fatal(err)
	}
	l0, l1 = open(m, 0), open(m, 1)
	writes := ffs.Writes()
	if err := l0.Close(); err != nil {
		t.Fatal(err)
	}
	if n := ffs.Writes() - writes; n != 0 {
		t.Fatalf("closing a log left alone wrote %d times", n)
	}
	l0 = open(m, 0)
	if !l0.trustClean {
		t.Fatal("log closed cleanly in this run not trusted")
	}

	// Log 1 appends, then fails: its close fails and the mark lists it.
	mustAppend(t, l1, makeBatch(1, 0, "x"))
	l1.mu.Lock()
	l1.failLocked(errors.New("test: disk gone"))
	l1.mu.Unlock()
	m.BeginShutdown()
	if err := m.Close(); err == nil {
		t.Fatal("Close hid the failed log")
	}
	if b, err := vfs.ReadFile(mem, mark); err != nil || string(b) != "version: 0\nrecover: k-1\n" {
		t.Fatalf("mark %q: %v", b, err)
	}
	m, err = NewManager("/data", opts, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if l0, l1 = open(m, 0), open(m, 1); !l0.trustClean || l1.trustClean {
		t.Fatalf("trusted: log 0 %v, log 1 %v; want true, false", l0.trustClean, l1.trustClean)
	}
}

// TestParallelRecovery crashes many logs with flushed and unflushed batches
// and recovers them side by side: each keeps exactly what it flushed.
func TestParallelRecovery(t *testing.T) {
	const logs = 40
	mem := vfs.NewMem()
	opts := Options{FS: mem, MaxOpenSegments: 8, RecoveryThreads: 8}
	cfg := smallConfig()
	cfg.SegmentBytes = 1 << 20 // no roll: a roll would sync the lost batches
	m, err := NewManager("/data", opts, 0)
	if err != nil {
		t.Fatal(err)
	}
	flushed := make([][][]byte, logs)
	for p := range logs {
		l, err := m.OpenLog("r", int32(p), [16]byte{5}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 + p%7 {
			b := makeBatch(1+i%2, int64(i), fmt.Sprint(p, "-", i))
			r := mustAppend(t, l, b)
			flushed[p] = append(flushed[p], withOffset(b, r.FirstOffset))
		}
		if err := l.Flush(); err != nil {
			t.Fatal(err)
		}
		for i := range p % 3 { // lost in the crash
			mustAppend(t, l, makeBatch(1, 0, fmt.Sprint("lost", i)))
		}
	}
	mem.Crash()
	m, err = NewManager("/data", opts, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	parts := make([]int, logs)
	for p := range parts {
		parts[p] = p
	}
	opened := make([]*Log, logs)
	if errs := parallel(parts, 8, func(p int) error {
		l, err := m.OpenLog("r", int32(p), [16]byte{5}, cfg)
		opened[p] = l
		return err
	}); len(errs) > 0 {
		t.Fatal(errs[0])
	}
	for p, l := range opened {
		got := readAll(t, l)
		if len(got) != len(flushed[p]) {
			t.Fatalf("log %d: %d batches, want %d", p, len(got), len(flushed[p]))
		}
		for i := range got {
			if !bytes.Equal(got[i], flushed[p][i]) {
				t.Fatalf("log %d batch %d differs", p, i)
			}
		}
		// Appends continue at the recovered end.
		if r := mustAppend(t, l, makeBatch(1, 0, "after")); r.FirstOffset != baseOf(flushed[p][len(flushed[p])-1])+int64(1+(len(flushed[p])-1)%2) {
			t.Fatalf("log %d: append after recovery at %d", p, r.FirstOffset)
		}
	}
}
