package storage

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// crashRun appends batches through a FaultyFS armed by arm, flushing after
// every other append, until something fails. It returns the batches as they
// would be on disk (offsets assigned) for every append attempted, how many
// appends succeeded and how many were acknowledged by a Flush.
type crashRun struct {
	attempted [][]byte
	appended  int
	acked     int
	failed    bool
}

func runUntilFault(t *testing.T, mem *vfs.MemFS, arm func(*vfs.FaultyFS), clk *clock) crashRun {
	t.Helper()
	ffs := vfs.NewFaulty(mem)
	m, err := NewManager("/data", Options{FS: ffs, Now: clk.Now, MaxOpenSegments: 4}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	cfg := smallConfig()
	cfg.SegmentBytes = 400
	cfg.IndexIntervalBytes = 100
	l, err := m.OpenLog("c", 0, [16]byte{9}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	arm(ffs)
	var r crashRun
	for i := 0; i < 24; i++ {
		b := makeBatch(1+i%3, clk.Ms()+int64(i), fmt.Sprint("c", i))
		r.attempted = append(r.attempted, withOffset(b, l.LogEndOffset()))
		if _, err := l.Append(b); err != nil {
			if !errors.Is(err, vfs.ErrInjected) {
				t.Fatalf("append: %v", err)
			}
			r.failed = true
			break
		}
		r.appended++
		if i%2 == 1 {
			if err := l.Flush(); err != nil {
				r.failed = true
				break
			}
			r.acked = r.appended
		}
		if i%7 == 6 {
			m.maintain(clk.Now()) // checkpoints the recovery point
		}
	}
	return r
}

// checkRecovered opens the log on mem and checks that it holds a prefix of the
// attempted appends of at least min batches, and that appends continue.
func checkRecovered(t *testing.T, mem *vfs.MemFS, clk *clock, r crashRun, min int) {
	t.Helper()
	m, err := NewManager("/data", Options{FS: mem, Now: clk.Now}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	l, err := m.OpenLog("c", 0, [16]byte{9}, smallConfig())
	if err != nil {
		t.Fatalf("open after crash: %v", err)
	}
	got := readAll(t, l)
	t.Logf("recovered %d: acked %d, appended %d, attempted %d", len(got), r.acked, r.appended, len(r.attempted))
	if len(got) < min || len(got) > len(r.attempted) {
		t.Fatalf("recovered %d batches; acked %d, appended %d, attempted %d", len(got), r.acked, r.appended, len(r.attempted))
	}
	for i := range got {
		if !bytes.Equal(got[i], r.attempted[i]) {
			t.Fatalf("recovered batch %d differs from the one appended", i)
		}
	}
	next := int64(0)
	if len(got) > 0 {
		h, _ := parseHeader(got[len(got)-1])
		next = h.LastOffset() + 1
	}
	if l.LogEndOffset() != next {
		t.Fatalf("LEO %d, want %d", l.LogEndOffset(), next)
	}
	if res := mustAppend(t, l, makeBatch(1, 0, "after")); res.FirstOffset != next {
		t.Fatalf("append after recovery at %d, want %d", res.FirstOffset, next)
	}
}

// TestCrashAtEveryWrite stops the log at each write in turn (nothing written,
// or half of it), then either loses power (Crash: unsynced data and directory
// entries go) or only the process (what was written stays). What recovers must
// be a prefix of what was appended, holding everything acknowledged by Flush
// (after a power loss) or every successful append (after a process crash).
func TestCrashAtEveryWrite(t *testing.T) {
	for _, mode := range []string{"fail", "tear"} {
		for _, power := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/powerloss=%v", mode, power), func(t *testing.T) {
				for k := 1; ; k++ {
					mem := vfs.NewMem()
					clk := newClock()
					r := runUntilFault(t, mem, func(f *vfs.FaultyFS) {
						if mode == "fail" {
							f.FailAfterWrites(k)
						} else {
							f.TearAfterWrites(k)
						}
					}, clk)
					min := r.acked
					if power {
						mem.Crash()
					} else {
						min = r.appended
					}
					t.Run(fmt.Sprint("write", k), func(t *testing.T) { checkRecovered(t, mem, clk, r, min) })
					if !r.failed {
						if k < 30 {
							t.Fatalf("the workload made only %d writes", k)
						}
						return
					}
				}
			})
		}
	}
}

// TestTransientWriteFailure fails one append's write (torn): the log truncates
// it away and goes on.
func TestTransientWriteFailure(t *testing.T) {
	mem := vfs.NewMem()
	ffs := vfs.NewFaulty(mem)
	m, err := NewManager("/data", Options{FS: ffs}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	l, err := m.OpenLog("c", 0, [16]byte{9}, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, makeBatch(2, 0, "a"))
	ffs.FailWriteOnce(1, true)
	if _, err := l.Append(makeBatch(2, 0, "b")); !errors.Is(err, vfs.ErrInjected) {
		t.Fatalf("append: %v", err)
	}
	if r := mustAppend(t, l, makeBatch(2, 0, "c")); r.FirstOffset != 2 {
		t.Fatalf("append after failure at %d", r.FirstOffset)
	}
	got := readAll(t, l)
	if len(got) != 2 || baseOf(got[1]) != 2 || l.Size() != int64(len(got[0])+len(got[1])) {
		t.Fatalf("%d batches, size %d", len(got), l.Size())
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	mem.Crash()
	checkRecovered(t, mem, newClock(), crashRun{attempted: append(got, nil)}, 2)
}

// TestCrashDuringRecovery leaves a torn tail (a process crash at a write), then
// loses power at each write of the recovery that follows: the next recovery
// must still give a prefix holding every acknowledged batch.
func TestCrashDuringRecovery(t *testing.T) {
	for _, tearAt := range []int{6, 17, 29} {
		for k := 1; ; k++ {
			mem := vfs.NewMem()
			clk := newClock()
			r := runUntilFault(t, mem, func(f *vfs.FaultyFS) { f.TearAfterWrites(tearAt) }, clk)
			if !r.failed {
				t.Fatalf("no fault at write %d", tearAt)
			}
			ffs := vfs.NewFaulty(mem)
			ffs.FailAfterWrites(k)
			m, err := NewManager("/data", Options{FS: ffs, Now: clk.Now}, 0)
			if err == nil {
				if _, err = m.OpenLog("c", 0, [16]byte{9}, smallConfig()); err != nil && !errors.Is(err, vfs.ErrInjected) {
					t.Fatalf("open: %v", err)
				}
				m.Close()
			}
			triggered := ffs.Triggered()
			mem.Crash()
			t.Run(fmt.Sprintf("tear%d/write%d", tearAt, k), func(t *testing.T) { checkRecovered(t, mem, clk, r, r.acked) })
			if !triggered {
				break
			}
		}
	}
}

// TestFailedLogReported checks the failed state from outside: a failed
// fsync fails the log and the Manager's OnFailure hears of it once, with
// the partition; a write the log undid (a full disk) leaves it usable
// until Log.Fail, which refuses appends and flushes from then on; neither
// failed log is vouched for by Close, so the next start recovers them.
func TestFailedLogReported(t *testing.T) {
	mem := vfs.NewMem()
	ffs := vfs.NewFaulty(mem)
	type report struct {
		topic     string
		partition int32
		err       error
	}
	var reports []report
	m, err := NewManager("/data", Options{FS: ffs, OnFailure: func(topic string, partition int32, err error) {
		reports = append(reports, report{topic, partition, err})
	}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	synced, err := m.OpenLog("s", 0, [16]byte{1}, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	full, err := m.OpenLog("f", 3, [16]byte{2}, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, synced, makeBatch(1, 0, "a"))
	mustAppend(t, full, makeBatch(1, 0, "a"))
	if err := synced.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := full.Flush(); err != nil {
		t.Fatal(err)
	}

	// A write undone: the log goes on until its user fails it.
	ffs.FailWriteOnce(1, true)
	if _, err := full.Append(makeBatch(1, 0, "b")); !errors.Is(err, vfs.ErrInjected) {
		t.Fatalf("append on a failing write: %v", err)
	}
	if full.Failed() != nil || len(reports) != 0 {
		t.Fatalf("an undone write failed the log: %v, %d reports", full.Failed(), len(reports))
	}
	full.Fail(fmt.Errorf("test: disk full: %w", vfs.ErrInjected))
	full.Fail(errors.New("test: a second failure"))
	if _, err := full.Append(makeBatch(1, 0, "c")); err == nil || !errors.Is(err, vfs.ErrInjected) {
		t.Fatalf("append after Fail: %v", err)
	}

	// A write that cannot be undone fails the log by itself.
	mustAppend(t, synced, makeBatch(1, 0, "b"))
	ffs.FailAfterWrites(1) // the write fails, then its truncation
	if _, err := synced.Append(makeBatch(1, 0, "c")); err == nil {
		t.Fatal("append on a dead disk succeeded")
	}
	if err := synced.Failed(); !errors.Is(err, vfs.ErrInjected) {
		t.Fatalf("Failed after a write and its undo failed: %v", err)
	}
	ffs.Heal()
	if len(reports) != 2 || reports[0].topic != "f" || reports[0].partition != 3 || reports[1].topic != "s" || reports[1].partition != 0 {
		t.Fatalf("reports %+v, want f-3 then s-0, once each", reports)
	}
	if err := synced.Close(); err == nil {
		t.Fatal("closing a failed log succeeded")
	}
	if err := full.Close(); err == nil {
		t.Fatal("closing a failed log succeeded")
	}
	m.BeginShutdown()
	_ = m.Close()
	m, err = NewManager("/data", Options{FS: mem}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, name := range []string{"s", "f"} {
		part := map[string]int32{"s": 0, "f": 3}[name]
		l, err := m.OpenLog(name, part, [16]byte{}, DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		if l.trustClean {
			t.Errorf("log %s trusted as clean after it failed", name)
		}
		if l.Failed() != nil {
			t.Errorf("log %s reopened failed", name)
		}
	}
}
