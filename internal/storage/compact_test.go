package storage

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/txn"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// kv is one record as the tests see it; value nil is a tombstone.
type kv struct {
	offset int64
	key    string
	value  []byte
}

func (r kv) String() string { return fmt.Sprintf("%d:%s=%q", r.offset, r.key, r.value) }

// keyedBatch builds a batch of records key=value ("" value = tombstone).
func keyedBatch(codec batch.Codec, ts int64, pairs ...string) []byte {
	var recs []batch.Record
	for i := 0; i+1 < len(pairs); i += 2 {
		r := batch.Record{Key: []byte(pairs[i]), Timestamp: ts + int64(i/2)}
		if pairs[i+1] != "" {
			r.Value = []byte(pairs[i+1])
		}
		recs = append(recs, r)
	}
	return batch.Build(batch.BuildOptions{Codec: codec, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, recs)
}

func compactConfig() Config {
	c := smallConfig()
	c.Compact, c.Delete = true, false
	c.MinCleanableDirtyRatio = 0
	c.DeleteRetentionMs = time.Hour.Milliseconds()
	return c
}

// records reads and decodes every record of the log, checking offsets
// increase and that each batch is valid.
func records(t testing.TB, l *Log) []kv {
	t.Helper()
	var out []kv
	last := int64(-1)
	for _, b := range readAll(t, l) {
		recs, err := batch.Records(b)
		if err != nil {
			t.Fatalf("decode batch at %d: %v", baseOf(b), err)
		}
		for _, r := range recs {
			if r.Offset <= last {
				t.Fatalf("offset %d after %d", r.Offset, last)
			}
			last = r.Offset
			out = append(out, kv{r.Offset, string(r.Key), r.Value})
		}
	}
	return out
}

// compacted is the model: of recs, those below end that a later record of
// the same key below end supersedes go, and so do tombstones if dropTombstones.
func compacted(recs []kv, end int64, dropTombstones bool) []kv {
	latest := map[string]int64{}
	for _, r := range recs {
		if r.offset < end {
			latest[r.key] = r.offset
		}
	}
	var out []kv
	for _, r := range recs {
		if r.offset < end && (latest[r.key] != r.offset || (dropTombstones && r.value == nil)) {
			continue
		}
		out = append(out, r)
	}
	return out
}

func mustClean(t testing.TB, e *env, l *Log) passStats {
	t.Helper()
	p, ok, err := l.planClean(e.clock.Ms())
	if err != nil || !ok {
		t.Fatalf("plan: ok %v, err %v", ok, err)
	}
	st, err := e.m.cleanLog(l, e.clock.Now(), p)
	if err != nil {
		t.Fatalf("clean: %v", err)
	}
	return st
}

// fillKeyed appends n batches of 4 records over keys k0..k<keys-1>, every
// fifth record of key k3 a tombstone, and returns what it appended.
func fillKeyed(t testing.TB, l *Log, codec batch.Codec, n, keys int, ts int64) []kv {
	t.Helper()
	var all []kv
	for i := 0; i < n; i++ {
		var pairs []string
		for j := 0; j < 4; j++ {
			k := fmt.Sprintf("k%d", (i*4+j)%keys)
			v := fmt.Sprintf("v%d-%d", i, j)
			if k == "k3" && i%5 == 0 {
				v = ""
			}
			pairs = append(pairs, k, v)
		}
		res := mustAppend(t, l, keyedBatch(codec, ts+int64(i), pairs...))
		for j := 0; j < 4; j++ {
			r := kv{offset: res.FirstOffset + int64(j), key: pairs[2*j]}
			if pairs[2*j+1] != "" {
				r.value = []byte(pairs[2*j+1])
			}
			all = append(all, r)
		}
	}
	return all
}

func activeBase(l *Log) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.active.seg.base
}

func segmentCount(l *Log) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.segments)
}

func TestCleanKeepsLatestPerKey(t *testing.T) {
	for _, codec := range []batch.Codec{batch.None, batch.Gzip, batch.Snappy, batch.LZ4, batch.Zstd} {
		t.Run(codec.String(), func(t *testing.T) {
			e := newEnv(t)
			l := e.open(compactConfig())
			all := fillKeyed(t, l, codec, 60, 10, e.clock.Ms())
			end := activeBase(l)
			before, sizeBefore, segsBefore := records(t, l), l.Size(), segmentCount(l)
			if !slices.EqualFunc(before, all, func(a, b kv) bool { return a.String() == b.String() }) {
				t.Fatal("log does not hold what was appended")
			}
			st := mustClean(t, e, l)
			got := records(t, l)
			want := compacted(all, end, false)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("after cleaning:\n got %v\nwant %v", got, want)
			}
			if l.Size() >= sizeBefore {
				t.Fatalf("size %d -> %d", sizeBefore, l.Size())
			}
			// Groups are cut by size before cleaning, so the small cleaned
			// segments merge on the next pass.
			p, _, _ := l.planClean(e.clock.Ms())
			if _, err := e.m.cleanLog(l, e.clock.Now(), p); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(records(t, l)) != fmt.Sprint(want) || segmentCount(l) > 3 {
				t.Fatalf("segments %d -> %d", segsBefore, segmentCount(l))
			}
			if st.recordsKept >= st.recordsRead {
				t.Fatalf("stats %+v", st)
			}
			for _, b := range readAll(t, l) {
				h, _ := batch.ParseHeader(b)
				if h.NumRecords > 0 && h.Codec() != codec {
					t.Fatalf("batch at %d has codec %v", h.BaseOffset, h.Codec())
				}
			}
			// Every surviving offset is readable on its own (indexes rebuilt).
			for _, r := range got {
				b, err := l.Read(r.offset, 1, l.LogEndOffset())
				if err != nil || len(b) == 0 {
					t.Fatalf("read %d: %v", r.offset, err)
				}
				if h, _ := batch.ParseHeader(b); h.BaseOffset > r.offset || h.LastOffset() < r.offset {
					t.Fatalf("read %d returned batch %d-%d", r.offset, h.BaseOffset, h.LastOffset())
				}
			}
			// It survives a reopen, and a second pass changes nothing.
			e.reopenManager()
			l = e.open(compactConfig())
			if fmt.Sprint(records(t, l)) != fmt.Sprint(want) {
				t.Fatal("contents changed by a reopen")
			}
			if _, ok, _ := l.planClean(e.clock.Ms()); ok {
				t.Fatal("a clean log is due for cleaning")
			}
		})
	}
}

func TestCleanTombstonesExpire(t *testing.T) {
	e := newEnv(t)
	cfg := compactConfig()
	l := e.open(cfg)
	mustAppend(t, l, keyedBatch(batch.None, e.clock.Ms(), "a", "1", "b", "1", "c", "1"))
	mustAppend(t, l, keyedBatch(batch.None, e.clock.Ms(), "a", "", "b", "2"))
	fillKeyed(t, l, batch.None, 30, 5, e.clock.Ms()) // keys k0..k4 roll segments
	end := activeBase(l)
	mustClean(t, e, l)
	has := func(key string) (found, tombstone bool) {
		for _, r := range records(t, l) {
			if r.key == key && r.offset < end {
				found, tombstone = true, r.value == nil
			}
		}
		return
	}
	if found, tomb := has("a"); !found || !tomb {
		t.Fatalf("tombstone of a gone after the first pass: %v %v", found, tomb)
	}
	if _, ok, _ := l.planClean(e.clock.Ms()); ok {
		t.Fatal("due again before the delete horizon")
	}
	e.clock.Add(time.Hour + time.Second)
	p, ok, _ := l.planClean(e.clock.Ms())
	if !ok || !p.forced {
		t.Fatalf("not due after the delete horizon: %+v", p)
	}
	mustClean(t, e, l)
	if found, _ := has("a"); found {
		t.Fatal("tombstone of a still there after delete.retention.ms")
	}
	if found, _ := has("b"); !found {
		t.Fatal("b lost")
	}
	if l.tombstoneHorizon < e.clock.Ms() {
		t.Fatalf("horizon %d not moved on", l.tombstoneHorizon)
	}
}

// TestCleanKeepsProducerState: an idempotent producer's last batch stays,
// emptied, with its last offset (and so its last sequence); other emptied
// batches go.
func TestCleanKeepsProducerState(t *testing.T) {
	e := newEnv(t)
	l := e.open(compactConfig())
	idem := func(seq int32, pairs ...string) []byte {
		var recs []batch.Record
		for i := 0; i+1 < len(pairs); i += 2 {
			recs = append(recs, batch.Record{Key: []byte(pairs[i]), Value: []byte(pairs[i+1])})
		}
		return batch.Build(batch.BuildOptions{ProducerID: 7, ProducerEpoch: 1, BaseSequence: seq}, recs)
	}
	mustAppend(t, l, idem(0, "x", "1", "y", "1"))
	last := mustAppend(t, l, idem(2, "x", "2", "y", "2"))
	fillKeyed(t, l, batch.None, 30, 2, e.clock.Ms())                // k0, k1
	mustAppend(t, l, keyedBatch(batch.None, 0, "x", "3", "y", "3")) // supersedes both
	fillKeyed(t, l, batch.None, 20, 2, e.clock.Ms())
	mustClean(t, e, l)
	var found bool
	for _, b := range readAll(t, l) {
		h, _ := batch.ParseHeader(b)
		if h.ProducerID != 7 {
			continue
		}
		if h.BaseOffset != last.FirstOffset || h.NumRecords != 0 || h.LastSequence() != 3 || h.LastOffset() != last.LastOffset {
			t.Fatalf("producer batch %+v", h)
		}
		found = true
	}
	if !found {
		t.Fatal("the producer's last batch went")
	}
}

func TestCleanerPolicyAndRetention(t *testing.T) {
	e := newEnv(t)
	cfg := compactConfig()
	cfg.RetentionMs = 1
	l := e.open(cfg)
	fillKeyed(t, l, batch.None, 40, 4, e.clock.Ms()-10_000)
	segs := segmentCount(l)
	if n, err := l.EnforceRetention(e.clock.Now()); err != nil || n != 0 {
		t.Fatalf("retention on a compact-only log deleted %d: %v", n, err)
	}
	cfg.Compact = false
	l.SetConfig(cfg) // delete: retention applies, the cleaner does not
	if _, ok, _ := l.planClean(e.clock.Ms()); ok {
		t.Fatal("a delete-only log is due for cleaning")
	}
	cfg.Compact, cfg.Delete = true, true
	l.SetConfig(cfg)
	if _, ok, _ := l.planClean(e.clock.Ms()); !ok {
		t.Fatal("compact,delete log not due")
	}
	if n, err := l.EnforceRetention(e.clock.Now()); err != nil || n != segs-1 {
		t.Fatalf("compact,delete retention deleted %d of %d: %v", n, segs, err)
	}
}

func TestCleanerMinAndMaxLag(t *testing.T) {
	e := newEnv(t)
	cfg := compactConfig()
	cfg.MinCompactionLagMs = time.Minute.Milliseconds()
	cfg.MinCleanableDirtyRatio = 0.99
	l := e.open(cfg)
	fillKeyed(t, l, batch.None, 40, 4, e.clock.Ms())
	if p, ok, _ := l.planClean(e.clock.Ms()); ok || p.end != 0 {
		t.Fatalf("records younger than min.compaction.lag.ms are cleanable: %+v", p)
	}
	e.clock.Add(2 * time.Minute)
	p, ok, _ := l.planClean(e.clock.Ms())
	if !ok || p.end != segmentCount(l)-1 {
		t.Fatalf("after the lag: ok %v %+v", ok, p)
	}
	mustClean(t, e, l)
	fillKeyed(t, l, batch.None, 40, 4, e.clock.Ms())
	e.clock.Add(2 * time.Minute)
	if p, ok, _ := l.planClean(e.clock.Ms()); ok || p.forced {
		t.Fatalf("ratio %.2f below 0.99 is due: %+v", p.ratio, p)
	}
	cfg.MaxCompactionLagMs = time.Minute.Milliseconds()
	l.SetConfig(cfg)
	if p, ok, _ := l.planClean(e.clock.Ms()); !ok || !p.forced {
		t.Fatalf("past max.compaction.lag.ms not forced: %+v", p)
	}
}

// TestCleanWhileReading reads the whole log over and over while passes run:
// every read succeeds and every record read has the value appended at its
// offset.
func TestCleanWhileReading(t *testing.T) {
	t.Run("mem", func(t *testing.T) { testCleanWhileReading(t, newEnv(t)) })
	t.Run("os", func(t *testing.T) {
		e := &env{t: t, fs: vfs.OS(), dir: t.TempDir(), clock: newClock()}
		e.reopenManager()
		testCleanWhileReading(t, e)
	})
}

func testCleanWhileReading(t *testing.T, e *env) {
	l := e.open(compactConfig())
	all := fillKeyed(t, l, batch.Zstd, 80, 12, e.clock.Ms())
	var mu sync.Mutex
	byOffset := map[int64]string{}
	for _, r := range all {
		byOffset[r.offset] = r.String()
	}
	done := make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		defer close(errs)
		for {
			select {
			case <-done:
				return
			default:
			}
			for off := l.LogStartOffset(); off < l.LogEndOffset(); {
				b, err := l.Read(off, 300, l.LogEndOffset())
				if err != nil {
					errs <- fmt.Errorf("read %d: %w", off, err)
					return
				}
				for len(b) > 0 {
					h, _ := batch.ParseHeader(b)
					recs, err := batch.Records(b[:h.Size()])
					if err != nil {
						errs <- err
						return
					}
					for _, r := range recs {
						mu.Lock()
						want, ok := byOffset[r.Offset]
						mu.Unlock()
						if got := (kv{r.Offset, string(r.Key), r.Value}).String(); ok && r.Offset >= off && got != want {
							errs <- fmt.Errorf("read %s, appended %s", got, want)
							return
						}
					}
					off = max(off, h.LastOffset()+1)
					b = b[h.Size():]
				}
			}
		}
	}()
	for i := 0; i < 6; i++ {
		more := fillKeyed(t, l, batch.Zstd, 20, 12, e.clock.Ms())
		mu.Lock()
		for _, r := range more {
			byOffset[r.offset] = r.String()
		}
		mu.Unlock()
		if p, ok, err := l.planClean(e.clock.Ms()); ok && err == nil {
			if _, err := e.m.cleanLog(l, e.clock.Now(), p); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(done)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}

// TestCleanerGoroutine runs the Manager's cleaner threads and waits for them
// to clean a log, then checks Close stops them.
func TestCleanerGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	e := newEnv(t)
	l := e.open(compactConfig())
	all := fillKeyed(t, l, batch.None, 60, 10, e.clock.Ms())
	end := activeBase(l)
	e.m.Close()
	o := e.opts()
	o.Cleaner = CleanerOptions{Threads: 2, Backoff: time.Millisecond, IOMaxBytesPerSecond: 50 << 20}
	m, err := NewManager("/data", o, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.OpenLog("t", 0, [16]byte{1}, compactConfig()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for m.CleanerStats().Passes == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the cleaner did not run")
		}
		time.Sleep(time.Millisecond)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for i := 0; runtime.NumGoroutine() > before && i < 100; i++ {
		time.Sleep(time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after Close, %d before", n, before)
	}
	st := m.CleanerStats()
	if st.BytesCleaned == 0 || st.BytesWritten == 0 || st.Duration == 0 {
		t.Fatalf("stats %+v", st)
	}
	m, err = NewManager("/data", e.opts(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	l, err = m.OpenLog("t", 0, [16]byte{1}, compactConfig())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := records(t, l), compacted(all, end, false); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

// crashClean builds a compacted log on a fresh MemFS, then runs one cleaning
// pass through a FaultyFS, stopping it with arm (which may make the process
// "die" at a write or at a named point of the swap). It returns the
// filesystem, the log's records before cleaning and what cleaning should
// give, and whether the pass failed.
func crashClean(t *testing.T, arm func(ffs *vfs.FaultyFS, l *Log)) (*vfs.MemFS, *clock, []kv, []kv, bool) {
	t.Helper()
	mem := vfs.NewMem()
	clk := newClock()
	m, err := NewManager("/data", Options{FS: mem, Now: clk.Now}, 0)
	if err != nil {
		t.Fatal(err)
	}
	l, err := m.OpenLog("t", 0, [16]byte{1}, compactConfig())
	if err != nil {
		t.Fatal(err)
	}
	all := fillKeyed(t, l, batch.Snappy, 24, 6, clk.Ms())
	// A first pass leaves small segments for the crashing pass to merge.
	p, _, err := l.planClean(clk.Ms())
	if err == nil {
		_, err = m.cleanLog(l, clk.Now(), p)
	}
	if err != nil {
		t.Fatal(err)
	}
	all = append(compacted(all, activeBase(l), false), fillKeyed(t, l, batch.Snappy, 12, 6, clk.Ms())...)
	// An aborted transaction amid them: its record goes, its marker and
	// index entry stay (the pass reads its batch), whatever the crash.
	aborted, marker := abortedTxnBatches(t, l, clk.Ms())
	all = append(append(all, aborted...), marker...)
	all = append(all, fillKeyed(t, l, batch.Snappy, 12, 6, clk.Ms())...)
	before := fmt.Sprint(records(t, l))
	if before != fmt.Sprint(all) {
		t.Fatal("setup")
	}
	want := slices.DeleteFunc(compacted(all, activeBase(l), false), func(r kv) bool {
		return r.offset == aborted[0].offset && r.offset < activeBase(l)
	})
	// Synced and checkpointed: recovery keeps the index entries, so any
	// loss is the pass's.
	if err := l.Flush(); err == nil {
		err = l.checkpoint()
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	ffs := vfs.NewFaulty(mem)
	m, err = NewManager("/data", Options{FS: ffs, Now: clk.Now}, 0)
	if err != nil {
		t.Fatal(err)
	}
	l, err = m.OpenLog("t", 0, [16]byte{1}, compactConfig())
	if err != nil {
		t.Fatal(err)
	}
	arm(ffs, l)
	p, _, err = l.planClean(clk.Ms())
	if err == nil {
		_, err = m.cleanLog(l, clk.Now(), p)
	}
	// The process dies: nothing more is written.
	m.mu.Lock()
	for _, l := range m.logs {
		l.close(false)
	}
	m.logs = map[string]*Log{}
	m.mu.Unlock()
	m.Close()
	return mem, clk, all, want, err != nil
}

// checkCleanRecovered opens the log and checks that each group of segments
// holds either its records before cleaning or the cleaned ones: what
// recovered is a subsequence of before holding all of after. Then cleaning
// and appending must go on.
func checkCleanRecovered(t *testing.T, mem *vfs.MemFS, clk *clock, before, after []kv) {
	t.Helper()
	m, err := NewManager("/data", Options{FS: mem, Now: clk.Now}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	l, err := m.OpenLog("t", 0, [16]byte{1}, compactConfig())
	if err != nil {
		t.Fatalf("open after crash: %v", err)
	}
	got := records(t, l)
	if !isSubsequence(got, before) || !isSubsequence(after, got) {
		t.Fatalf("recovered a log between neither the old nor the cleaned one:\n got %v\nwant %v", got, after)
	}
	txns, err := l.AbortedTxns(0, l.LogEndOffset())
	if err != nil || len(txns) != 1 || txns[0].ProducerID != 77 {
		t.Fatalf("aborted transactions after the crash: %v, %v", txns, err)
	}
	names, _ := mem.ReadDir("/data/t-0")
	for _, n := range names {
		if strings.HasSuffix(n, cleanedSuffix) || strings.HasSuffix(n, swapSuffix) {
			t.Fatalf("left %s", n)
		}
	}
	if p, ok, err := l.planClean(clk.Ms()); ok && err == nil {
		if _, err := m.cleanLog(l, clk.Now(), p); err != nil {
			t.Fatal(err)
		}
	}
	if got := fmt.Sprint(records(t, l)); got != fmt.Sprint(after) {
		t.Fatalf("cleaning after recovery:\n got %v\nwant %v", got, after)
	}
	mustAppend(t, l, keyedBatch(batch.None, 0, "z", "1"))
}

// abortedTxnBatches appends producer 77's transactional record of a key of
// its own and its ABORT marker, indexes the transaction and returns the
// two records as records reads them.
func abortedTxnBatches(t *testing.T, l *Log, ts int64) (data, marker []kv) {
	t.Helper()
	d := mustAppend(t, l, batch.Build(batch.BuildOptions{ProducerID: 77, BaseSequence: 0, Transactional: true},
		[]batch.Record{{Key: []byte("aborted"), Value: []byte("x"), Timestamp: ts}}))
	r := txn.MarkerRecord(txn.Marker{})
	r.Timestamp = ts
	m := mustAppend(t, l, batch.Build(batch.BuildOptions{ProducerID: 77, BaseSequence: -1, Transactional: true, Control: true}, []batch.Record{r}))
	if err := l.AddAbortedTxn(AbortedTxn{ProducerID: 77, FirstOffset: d.FirstOffset, LastOffset: m.FirstOffset, LastStableOffset: m.FirstOffset + 1}); err != nil {
		t.Fatal(err)
	}
	return []kv{{d.FirstOffset, "aborted", []byte("x")}}, []kv{{m.FirstOffset, string(r.Key), r.Value}}
}

// TestCleanCrashAtEveryWrite stops a cleaning pass at each of its writes
// (then every later mutation fails), with and without a power loss.
func TestCleanCrashAtEveryWrite(t *testing.T) {
	for _, power := range []bool{false, true} {
		for k := 1; ; k++ {
			mem, clk, before, after, failed := crashClean(t, func(ffs *vfs.FaultyFS, _ *Log) { ffs.FailAfterWrites(k) })
			if power {
				mem.Crash()
			}
			t.Run(fmt.Sprintf("power=%v/write%d", power, k), func(t *testing.T) { checkCleanRecovered(t, mem, clk, before, after) })
			if !failed {
				if k < 5 {
					t.Fatalf("the pass made only %d writes", k)
				}
				break
			}
		}
	}
}

// TestCleanCrashInSwap stops the swap at each of its steps (after the
// cleaned files are synced, before the commit rename, after each index
// rename, each removal and the final rename).
func TestCleanCrashInSwap(t *testing.T) {
	for _, power := range []bool{false, true} {
		for _, point := range []string{"cleaned", "commit", "index", "remove", "rename"} {
			for n := 1; ; n++ {
				fired := false
				mem, clk, before, after, _ := crashClean(t, func(ffs *vfs.FaultyFS, l *Log) {
					seen := 0
					l.swapHook = func(p string) error {
						if p != point {
							return nil
						}
						if seen++; seen != n {
							return nil
						}
						fired = true
						// Die: this write fails and so does every mutation after it.
						ffs.FailAfterWrites(1)
						if f, err := ffs.OpenFile("/data/die", os.O_WRONLY|os.O_CREATE, 0o644); err == nil {
							f.Write([]byte{1})
							f.Close()
						}
						return vfs.ErrInjected
					}
				})
				if !fired {
					if n == 1 {
						t.Fatalf("point %s never reached", point)
					}
					break
				}
				if power {
					mem.Crash()
				}
				t.Run(fmt.Sprintf("power=%v/%s%d", power, point, n), func(t *testing.T) { checkCleanRecovered(t, mem, clk, before, after) })
			}
		}
	}
}

// isSubsequence reports whether a is b with some records left out.
func isSubsequence(a, b []kv) bool {
	i := 0
	for _, r := range b {
		if i < len(a) && a[i].String() == r.String() {
			i++
		}
	}
	return i == len(a)
}

// TestMaxCompactionLagRollsActiveSegment: the active segment of a compacted
// log rolls once its first record is older than max.compaction.lag.ms, so
// the cleaner can reach it.
func TestMaxCompactionLagRollsActiveSegment(t *testing.T) {
	e := newEnv(t)
	cfg := compactConfig()
	cfg.MaxCompactionLagMs = time.Minute.Milliseconds()
	l := e.open(cfg)
	mustAppend(t, l, keyedBatch(batch.None, e.clock.Ms(), "a", "1", "a", "2"))
	e.clock.Add(2 * time.Minute)
	if err := l.maintain(e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if segmentCount(l) != 2 {
		t.Fatalf("%d segments", segmentCount(l))
	}
	mustClean(t, e, l)
	if got := fmt.Sprint(records(t, l)); got != `[1:a="2"]` {
		t.Fatal(got)
	}
}

// FuzzCleanBatch feeds arbitrary batches to the cleaner's filter: it must
// not panic, and what it keeps must be a valid batch with the same offsets.
func FuzzCleanBatch(f *testing.F) {
	for _, codec := range []batch.Codec{batch.None, batch.Gzip, batch.Snappy, batch.LZ4, batch.Zstd} {
		f.Add(keyedBatch(codec, 5, "a", "1", "b", "", "a", "2"), int64(2))
	}
	f.Fuzz(func(t *testing.T, b []byte, latestA int64) {
		h, err := parseHeader(b)
		if err != nil || h.Size() != len(b) {
			return
		}
		batch.Seal(b) // the cleaner only sees batches whose CRC matches
		om := newOffsetMap(10)
		om.put([]byte("a"), latestA)
		w := &groupWriter{}
		var st passStats
		out, err := w.filter(1_000, compactConfig(), h, b, om, map[int64]int64{}, newTxnCleaner(nil), &st)
		if err != nil || out == nil {
			return
		}
		oh, err := parseHeader(out)
		if err != nil || oh.Size() != len(out) || !batch.ValidCRC(out) {
			t.Fatalf("kept an invalid batch: %v", err)
		}
		if oh.BaseOffset != h.BaseOffset || oh.LastOffset() != h.LastOffset() {
			t.Fatalf("offsets %d-%d became %d-%d", h.BaseOffset, h.LastOffset(), oh.BaseOffset, oh.LastOffset())
		}
	})
}

// TestFindByTimestampSkipsEmptiedBatches: a batch the cleaner emptied (kept
// for its producer) is not an answer to a timestamp lookup.
func TestFindByTimestampSkipsEmptiedBatches(t *testing.T) {
	e := newEnv(t)
	l := e.open(compactConfig())
	idem := batch.Build(batch.BuildOptions{ProducerID: 3, ProducerEpoch: 0, BaseSequence: 0},
		[]batch.Record{{Key: []byte("x"), Value: []byte("1"), Timestamp: 100}})
	mustAppend(t, l, idem)
	mustAppend(t, l, keyedBatch(batch.None, 200, "y", "1"))
	fillKeyed(t, l, batch.None, 20, 2, 300)
	mustAppend(t, l, keyedBatch(batch.None, 400, "x", "2")) // empties the producer's batch
	fillKeyed(t, l, batch.None, 20, 2, 500)
	mustClean(t, e, l)
	b, found, err := l.FindBatchByTimestamp(50)
	if err != nil || !found {
		t.Fatal(found, err)
	}
	if h, _ := batch.ParseHeader(b); h.NumRecords == 0 || h.MaxTimestamp != 200 {
		t.Fatalf("found %+v", h)
	}
}

// TestCleanWithSmallOffsetMap: a pass whose offset map fills cleans only the
// segments it mapped; later passes finish the job.
func TestCleanWithSmallOffsetMap(t *testing.T) {
	e := newEnv(t)
	l := e.open(compactConfig())
	all := fillKeyed(t, l, batch.None, 60, 10, e.clock.Ms())
	end := activeBase(l)
	passes := 0
	for ; passes < 20; passes++ {
		p, ok, err := l.planClean(e.clock.Ms())
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if _, err := l.clean(e.clock.Ms(), p, cleaner{mapEntries: 4}); err != nil {
			t.Fatal(err)
		}
	}
	if passes < 2 || l.firstDirty != end {
		t.Fatalf("%d passes, first dirty offset %d, want %d", passes, l.firstDirty, end)
	}
	if got, want := records(t, l), compacted(all, end, false); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

func TestThrottler(t *testing.T) {
	th := &throttler{rate: 10 << 20}
	start := time.Now()
	if !th.wait(1<<20, nil) {
		t.Fatal("wait aborted")
	}
	if d := time.Since(start); d < 80*time.Millisecond {
		t.Fatalf("1 MiB at 10 MiB/s took %v", d)
	}
	quit := make(chan struct{})
	close(quit)
	start = time.Now()
	if th.wait(100<<20, quit) || time.Since(start) > time.Second {
		t.Fatal("wait ignored quit")
	}
	var none *throttler
	if !none.wait(1<<30, nil) || none.wait(1, quit) {
		t.Fatal("nil throttler waited or ignored quit")
	}
}

// TestCleanKeepsNoEmptiedBatches: batches whose records all go leave
// nothing behind, not even at the end of a group of segments (an empty
// batch alone in a fetch sends kafka-go's Reader back to the start), and
// every offset still reads on from the next record kept.
func TestCleanKeepsNoEmptiedBatches(t *testing.T) {
	e := newEnv(t)
	l := e.open(compactConfig())
	all := fillKeyed(t, l, batch.None, 40, 3, e.clock.Ms()) // k0..k2 over several segments
	all = append(all, fillKeyed(t, l, batch.None, 1, 4, e.clock.Ms())...)
	if segmentCount(l) < 4 {
		t.Fatalf("%d segments", segmentCount(l))
	}
	end := activeBase(l)
	mustClean(t, e, l)
	want := compacted(all, end, false)
	if got := records(t, l); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after cleaning:\n got %v\nwant %v", got, want)
	}
	for _, b := range readAll(t, l) {
		if h, _ := batch.ParseHeader(b); h.NumRecords == 0 {
			t.Fatalf("empty batch kept: %+v", h)
		}
	}
	// A fetch at any offset returns the first kept record at or after it.
	for off := int64(0); off < l.LogEndOffset(); off++ {
		b, err := l.Read(off, 1<<20, l.LogEndOffset())
		if err != nil || len(b) == 0 {
			t.Fatalf("read at %d: %d bytes, %v", off, len(b), err)
		}
		recs, err := batch.Records(b)
		if err != nil {
			t.Fatal(err)
		}
		first := -1
		for i, r := range want {
			if r.offset >= off {
				first = i
				break
			}
		}
		var got int64 = -1
		for _, r := range recs {
			if r.Offset >= off {
				got = r.Offset
				break
			}
		}
		if got != want[first].offset {
			t.Fatalf("read at %d: first record at or after it %d, want %d", off, got, want[first].offset)
		}
	}
}

// TestCleanKeepsEmptyBatchAtLogEnd: the batch ending at the log end offset
// stays, emptied, when its records go, so the log end offset survives
// cleaning and a restart (Kafka's KAFKA-17076 as narrowed by KAFKA-20452).
func TestCleanKeepsEmptyBatchAtLogEnd(t *testing.T) {
	e := newEnv(t)
	cfg := compactConfig()
	l := e.open(cfg)
	fillKeyed(t, l, batch.None, 30, 2, e.clock.Ms())
	mustAppend(t, l, keyedBatch(batch.None, e.clock.Ms(), "k0", "", "k1", ""))
	l.mu.Lock()
	if err := l.rollLocked(); err != nil {
		t.Fatal(err)
	}
	l.mu.Unlock()
	leo := l.LogEndOffset()
	mustClean(t, e, l) // the tombstones stay until delete.retention.ms passes
	if got := fmt.Sprint(records(t, l)); got != fmt.Sprintf("[%d:k0=%q %d:k1=%q]", leo-2, []byte(nil), leo-1, []byte(nil)) {
		t.Fatal(got)
	}
	e.clock.Add(time.Hour + time.Second)
	mustClean(t, e, l)
	batches := readAll(t, l)
	if len(batches) != 1 {
		t.Fatalf("%d batches kept", len(batches))
	}
	if h, _ := batch.ParseHeader(batches[0]); h.NumRecords != 0 || h.LastOffset() != leo-1 {
		t.Fatalf("kept %+v, want the empty batch ending at %d", h, leo-1)
	}
	e.reopenManager()
	l = e.open(cfg)
	if l.LogEndOffset() != leo {
		t.Fatalf("log end offset %d after reopening, want %d", l.LogEndOffset(), leo)
	}
}

// TestCleanKeepsOnlyActiveProducers: with the partition's producer state
// (SetActiveProducers), a producer's emptied last batch stays only while the
// producer is active, as in Kafka; an expired one's goes like any other.
func TestCleanKeepsOnlyActiveProducers(t *testing.T) {
	for _, active := range []bool{true, false} {
		e := newEnv(t)
		l := e.open(compactConfig())
		idem := batch.Build(batch.BuildOptions{ProducerID: 7, ProducerEpoch: 1, BaseSequence: 0},
			[]batch.Record{{Key: []byte("x"), Value: []byte("1")}})
		last := mustAppend(t, l, idem)
		fillKeyed(t, l, batch.None, 30, 2, e.clock.Ms())
		mustAppend(t, l, keyedBatch(batch.None, 0, "x", "2")) // supersedes the producer's record
		fillKeyed(t, l, batch.None, 20, 2, e.clock.Ms())
		l.SetActiveProducers(func() map[int64]int64 {
			if active {
				return map[int64]int64{7: last.LastOffset}
			}
			return map[int64]int64{}
		})
		mustClean(t, e, l)
		kept := false
		for _, b := range readAll(t, l) {
			if h, _ := batch.ParseHeader(b); h.ProducerID == 7 {
				if h.NumRecords != 0 || h.LastOffset() != last.LastOffset {
					t.Fatalf("producer batch %+v", h)
				}
				kept = true
			}
		}
		if kept != active {
			t.Fatalf("producer active %v: its emptied batch kept %v", active, kept)
		}
	}
}
