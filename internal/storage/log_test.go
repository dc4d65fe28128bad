package storage

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"
)

// fill appends batches of sizes[i] records and returns them with offsets.
func fill(t *testing.T, e *env, l *Log, sizes []int) [][]byte {
	t.Helper()
	var out [][]byte
	for i, n := range sizes {
		b := makeBatch(n, e.clock.Ms(), fmt.Sprint("b", i))
		r := mustAppend(t, l, b)
		if r.LastOffset-r.FirstOffset != int64(n-1) {
			t.Fatalf("append result %+v for %d records", r, n)
		}
		out = append(out, b) // Append rewrote the base offset in place
	}
	return out
}

func TestAppendReadEveryOffset(t *testing.T) {
	e := newEnv(t)
	l := e.open(smallConfig())
	sizes := []int{1, 3, 5, 2, 7, 1, 1, 4, 9, 2, 3, 6, 1, 8, 2, 5, 3, 1, 2, 4}
	batches := fill(t, e, l, sizes)
	if l.LogEndOffset() != 70 {
		t.Fatalf("LEO %d", l.LogEndOffset())
	}
	if len(l.segments) < 3 {
		t.Fatalf("expected rolls by size, have %d segments", len(l.segments))
	}
	check := func(l *Log) {
		t.Helper()
		var off int64
		for i, b := range batches {
			h, _ := parseHeader(b)
			if h.BaseOffset != off {
				t.Fatalf("batch %d base %d, want %d", i, h.BaseOffset, off)
			}
			for o := h.BaseOffset; o <= h.LastOffset(); o++ {
				got, err := l.Read(o, 1, math.MaxInt64) // maxBytes 1: exactly the first batch (KIP-74)
				if err != nil {
					t.Fatalf("read %d: %v", o, err)
				}
				if !bytes.Equal(got, b) {
					t.Fatalf("read %d: got batch at %d, want %d", o, baseOf(got), h.BaseOffset)
				}
			}
			off = h.LastOffset() + 1
		}
		if got, err := l.Read(70, 100, math.MaxInt64); err != nil || len(got) != 0 {
			t.Fatalf("read at LEO: %d bytes, %v", len(got), err)
		}
		if _, err := l.Read(71, 100, math.MaxInt64); !isOutOfRange(err) {
			t.Fatalf("read above LEO: %v", err)
		}
		if got := readAll(t, l); len(got) != len(batches) {
			t.Fatalf("readAll %d batches", len(got))
		}
	}
	check(l)
	e.reopenManager() // clean close: indexes from files
	check(e.open(smallConfig()))
}

func TestReadLimits(t *testing.T) {
	e := newEnv(t)
	l := e.open(DefaultConfig())
	batches := fill(t, e, l, []int{2, 2, 2, 2})
	size := len(batches[0])
	for _, b := range batches {
		if len(b) != size {
			t.Fatal("test wants equal sizes")
		}
	}
	cases := []struct {
		offset    int64
		maxBytes  int32
		maxOffset int64
		want      int // batches returned, starting at the one holding offset
	}{
		{0, int32(4 * size), math.MaxInt64, 4},
		{0, int32(2*size + size/2), math.MaxInt64, 2},
		{0, 0, math.MaxInt64, 1},   // KIP-74: first batch whole
		{3, 10, math.MaxInt64, 1},  // mid-batch offset
		{1, int32(4 * size), 6, 3}, // maxOffset 6: batches up to offset 5
		{1, int32(4 * size), 5, 2}, // batch [4,5] not wholly below 5
		{0, int32(4 * size), 1, 0}, // first batch [0,1] not below 1
		{6, int32(4 * size), 6, 0}, // at the bound
	}
	for _, c := range cases {
		got, err := l.Read(c.offset, c.maxBytes, c.maxOffset)
		if err != nil {
			t.Fatal(err)
		}
		bs := splitBatches(t, got)
		if len(bs) != c.want {
			t.Errorf("Read(%d, %d, %d) = %d batches, want %d", c.offset, c.maxBytes, c.maxOffset, len(bs), c.want)
			continue
		}
		if c.want > 0 && baseOf(bs[0]) != c.offset/2*2 {
			t.Errorf("Read(%d): first batch at %d", c.offset, baseOf(bs[0]))
		}
	}
}

func TestRollByTime(t *testing.T) {
	e := newEnv(t)
	cfg := DefaultConfig()
	cfg.SegmentMs = 1000
	l := e.open(cfg)
	fill(t, e, l, []int{1, 1})
	e.clock.Add(500 * time.Millisecond)
	fill(t, e, l, []int{1})
	if n := len(l.segments); n != 1 {
		t.Fatalf("%d segments before segment.ms", n)
	}
	e.clock.Add(time.Second)
	fill(t, e, l, []int{1})
	if n := len(l.segments); n != 2 || l.segments[1].base != 3 {
		t.Fatalf("no roll by time: %d segments", n)
	}
	// The background work also rolls an idle segment.
	e.clock.Add(2 * time.Second)
	e.m.maintain(e.clock.Now())
	if n := len(l.segments); n != 3 || l.segments[2].base != 4 {
		t.Fatalf("no background roll: %d segments", n)
	}
	e.m.maintain(e.clock.Now()) // an empty active segment does not roll
	if n := len(l.segments); n != 3 {
		t.Fatalf("empty segment rolled: %d segments", n)
	}
}

func TestTimestampLookups(t *testing.T) {
	e := newEnv(t)
	l := e.open(smallConfig())
	// Timestamps: batch i has max timestamp ts[i]; not monotonic.
	ts := []int64{100, 200, 150, 300, 300, 250, 400, 390, 500, 100}
	var batches [][]byte
	for i, x := range ts {
		b := makeBatch(3, x-2, fmt.Sprint("t", i))
		mustAppend(t, l, b)
		batches = append(batches, b)
	}
	check := func(l *Log) {
		t.Helper()
		for _, q := range []int64{0, 100, 101, 150, 200, 201, 300, 301, 399, 400, 450, 500} {
			want := -1
			for i, x := range ts {
				if x >= q {
					want = i
					break
				}
			}
			got, found, err := l.FindBatchByTimestamp(q)
			if err != nil {
				t.Fatal(err)
			}
			if want < 0 {
				if found {
					t.Errorf("ts %d: found a batch", q)
				}
				continue
			}
			if !found || !bytes.Equal(got, batches[want]) {
				t.Errorf("ts %d: found %v at %d, want batch %d", q, found, baseOf(got), want)
			}
		}
		if _, found, _ := l.FindBatchByTimestamp(501); found {
			t.Error("found batch after the largest timestamp")
		}
		got, found, err := l.MaxTimestampBatch()
		if err != nil || !found || !bytes.Equal(got, batches[8]) {
			t.Errorf("MaxTimestampBatch = %v %v at %d", found, err, baseOf(got))
		}
	}
	check(l)
	e.reopenManager()
	check(e.open(smallConfig()))
}

func TestRetention(t *testing.T) {
	e := newEnv(t)
	cfg := smallConfig()
	cfg.SegmentBytes = 400
	l := e.open(cfg)
	for i := 0; i < 20; i++ {
		mustAppend(t, l, makeBatch(2, e.clock.Ms(), "r"))
		e.clock.Add(time.Minute)
	}
	segs := len(l.segments)
	if segs < 5 {
		t.Fatalf("%d segments", segs)
	}
	// Nothing goes with unlimited retention.
	if n, err := l.EnforceRetention(e.clock.Now()); n != 0 || err != nil {
		t.Fatalf("unlimited retention deleted %d, %v", n, err)
	}
	// By time: segments whose newest batch is older than 10 minutes.
	cfg.RetentionMs = (10 * time.Minute).Milliseconds()
	l.SetConfig(cfg)
	n, err := l.EnforceRetention(e.clock.Now())
	if err != nil || n == 0 {
		t.Fatalf("retention by time deleted %d, %v", n, err)
	}
	limit := e.clock.Ms() - cfg.RetentionMs
	first, _, _ := l.FindBatchByTimestamp(0)
	if l.LogStartOffset() != l.segments[0].base || baseOf(first) != l.LogStartOffset() {
		t.Fatalf("log start %d, first segment %d, first batch %d", l.LogStartOffset(), l.segments[0].base, baseOf(first))
	}
	if _, err := l.Read(0, 100, math.MaxInt64); !isOutOfRange(err) {
		t.Fatalf("read of deleted offset: %v", err)
	}
	for _, s := range l.segments[:len(l.segments)-1] {
		ts, _, _ := l.viewMaxTimestamp(segView{seg: s, size: s.size, end: math.MaxInt32}, 128)
		if ts < limit {
			t.Fatalf("kept segment %d with max timestamp %d < %d", s.base, ts, limit)
		}
	}
	// By bytes: keep at most 500 bytes, never the active segment.
	cfg.RetentionMs = -1
	cfg.RetentionBytes = 500
	l.SetConfig(cfg)
	if _, err := l.EnforceRetention(e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	// Kafka's rule: delete the oldest segment while what remains is still at
	// least retention.bytes.
	if len(l.segments) > 1 && l.Size()-l.segments[0].size >= 500 {
		t.Fatalf("size %d: segment of %d should have gone", l.Size(), l.segments[0].size)
	}
	if l.Size() < 500 {
		t.Fatalf("deleted below retention.bytes: %d", l.Size())
	}
	cfg.RetentionBytes = 0
	l.SetConfig(cfg)
	l.EnforceRetention(e.clock.Now())
	if len(l.segments) != 1 {
		t.Fatalf("active segment alone should remain, have %d", len(l.segments))
	}
	// The files are gone, and the log start survives a reopen.
	names, _ := e.fs.ReadDir(l.Dir())
	logs := 0
	for _, n := range names {
		if _, ok := parseSegmentName(n, logSuffix); ok {
			logs++
		}
	}
	if logs != 1 {
		t.Fatalf("%d .log files on disk: %v", logs, names)
	}
	start := l.LogStartOffset()
	e.reopenManager()
	if l := e.open(cfg); l.LogStartOffset() != start || l.LogEndOffset() != 40 {
		t.Fatalf("after reopen start %d LEO %d", l.LogStartOffset(), l.LogEndOffset())
	}
}

func TestDeleteRecordsBefore(t *testing.T) {
	e := newEnv(t)
	cfg := smallConfig()
	cfg.SegmentBytes = 300
	l := e.open(cfg)
	fill(t, e, l, []int{5, 5, 5, 5, 5, 5, 5, 5, 5, 5})
	segs := len(l.segments)
	if err := l.DeleteRecordsBefore(51); !isOutOfRange(err) {
		t.Fatalf("beyond LEO: %v", err)
	}
	if err := l.DeleteRecordsBefore(23); err != nil {
		t.Fatal(err)
	}
	if l.LogStartOffset() != 23 {
		t.Fatalf("log start %d", l.LogStartOffset())
	}
	if _, err := l.Read(22, 100, math.MaxInt64); !isOutOfRange(err) {
		t.Fatalf("read below start: %v", err)
	}
	got, err := l.Read(23, 1, math.MaxInt64)
	if err != nil || baseOf(got) != 20 {
		t.Fatalf("read at start: %v, batch at %d", err, baseOf(got))
	}
	if len(l.segments) >= segs || l.segments[0].base > 23 {
		t.Fatalf("segments wholly below 23 not deleted: %d of %d, first %d", len(l.segments), segs, l.segments[0].base)
	}
	e.reopenManager()
	l = e.open(cfg)
	if l.LogStartOffset() != 23 {
		t.Fatalf("log start after reopen %d", l.LogStartOffset())
	}
	// Up to the LEO: everything goes, appends continue.
	if err := l.DeleteRecordsBefore(50); err != nil {
		t.Fatal(err)
	}
	if len(l.segments) != 1 || l.Size() != 0 {
		t.Fatalf("%d segments, %d bytes", len(l.segments), l.Size())
	}
	if r := mustAppend(t, l, makeBatch(1, 0, "x")); r.FirstOffset != 50 || r.LogStartOffset != 50 {
		t.Fatalf("append after delete-all: %+v", r)
	}
}

func TestFlushGroupCommit(t *testing.T) {
	e := newEnv(t)
	l := e.open(DefaultConfig())
	var wg sync.WaitGroup
	const writers = 8
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				r, err := l.Append(makeBatch(1, 0, "g"))
				if err != nil {
					t.Error(err)
					return
				}
				if err := l.Flush(); err != nil {
					t.Error(err)
					return
				}
				l.flushMu.Lock()
				flushed := l.flushedTo
				l.flushMu.Unlock()
				if flushed <= r.LastOffset {
					t.Errorf("Flush returned with offset %d not flushed (flushed to %d)", r.LastOffset, flushed)
				}
			}
		}()
	}
	wg.Wait()
	// Everything acknowledged survives a power loss.
	e.mem.Crash()
	e.abandonManager()
	l = e.open(DefaultConfig())
	if l.LogEndOffset() != writers*50 || len(readAll(t, l)) != writers*50 {
		t.Fatalf("after crash LEO %d", l.LogEndOffset())
	}
}

func TestFlushMessages(t *testing.T) {
	e := newEnv(t)
	cfg := DefaultConfig()
	cfg.FlushMessages = 3
	l := e.open(cfg)
	fill(t, e, l, []int{1, 1})
	fill(t, e, l, []int{1}) // third message: flushed
	fill(t, e, l, []int{1}) // not yet
	e.mem.Crash()
	e.abandonManager()
	if l := e.open(cfg); l.LogEndOffset() != 3 {
		t.Fatalf("LEO after crash %d, want 3", l.LogEndOffset())
	}
}

func TestFlushMs(t *testing.T) {
	e := newEnv(t)
	cfg := DefaultConfig()
	cfg.FlushMs = 1000
	l := e.open(cfg)
	fill(t, e, l, []int{2})
	e.m.maintain(e.clock.Now()) // not due
	e.clock.Add(2 * time.Second)
	fill(t, e, l, []int{2})
	e.m.maintain(e.clock.Now()) // due: flushes both
	fill(t, e, l, []int{2})
	e.mem.Crash()
	e.abandonManager()
	if l := e.open(cfg); l.LogEndOffset() != 4 {
		t.Fatalf("LEO after crash %d, want 4", l.LogEndOffset())
	}
}

func TestManyPartitionsBoundedHandles(t *testing.T) {
	e := newEnv(t)
	e.m.Close()
	opts := e.opts()
	opts.MaxOpenSegments = 4
	m, err := NewManager("/data", opts, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	cfg := smallConfig()
	cfg.SegmentBytes = 300
	const parts = 20
	logs := make([]*Log, parts)
	for p := range logs {
		l, err := m.OpenLog("many", int32(p), [16]byte{2}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		logs[p] = l
		for i := 0; i < 10; i++ {
			mustAppend(t, l, makeBatch(2, 0, fmt.Sprint(p)))
		}
	}
	for round := 0; round < 2; round++ {
		for _, l := range logs {
			if len(l.segments) < 3 {
				t.Fatalf("%d segments", len(l.segments))
			}
			if got := readAll(t, l); len(got) != 10 {
				t.Fatalf("%d batches", len(got))
			}
			if n := m.handles.openHandles(); n > 4 {
				t.Fatalf("%d read handles open", n)
			}
		}
	}
	// Active write handles (one per log) plus at most 4 read handles.
	if n := e.mem.OpenFiles(); n > parts+4 {
		t.Fatalf("%d files open", n)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if n := e.mem.OpenFiles(); n != 0 {
		t.Fatalf("%d files open after Close", n)
	}
}

func TestManagerDirs(t *testing.T) {
	e := newEnv(t)
	idA, idB := [16]byte{0xA}, [16]byte{0xB}
	l, err := e.m.OpenLog("my-topic.x", 3, idA, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, makeBatch(3, 0, "a"))
	if _, err := e.m.OpenLog("t", 0, idA, DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.OpenLog("../x", 0, idA, DefaultConfig()); err == nil {
		t.Fatal("opened a path-escaping topic")
	}
	meta, _ := e.fs.ReadDir("/data/my-topic.x-3")
	if !contains(meta, partitionMetaFile) {
		t.Fatalf("no partition.metadata: %v", meta)
	}
	dirs, err := e.m.LogDirs()
	if err != nil || len(dirs) != 2 || dirs[0].Topic != "my-topic.x" || dirs[0].Partition != 3 || dirs[1].Topic != "t" {
		t.Fatalf("LogDirs = %+v, %v", dirs, err)
	}
	// Same ID: the data stays. Another ID: a stale directory, emptied.
	e.reopenManager()
	l, _ = e.m.OpenLog("my-topic.x", 3, idA, DefaultConfig())
	if l.LogEndOffset() != 3 {
		t.Fatalf("LEO %d", l.LogEndOffset())
	}
	e.reopenManager()
	l, _ = e.m.OpenLog("my-topic.x", 3, idB, DefaultConfig())
	if l.LogEndOffset() != 0 {
		t.Fatalf("stale dir kept: LEO %d", l.LogEndOffset())
	}
	b, _ := readFile(e, "/data/my-topic.x-3/"+partitionMetaFile)
	if id, err := parsePartitionMetadata(b); err != nil || id != idB {
		t.Fatalf("partition.metadata %q", b)
	}
	if err := e.m.DeleteLog("my-topic.x", 3); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(makeBatch(1, 0, "x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("append to deleted log: %v", err)
	}
	names, _ := e.fs.ReadDir("/data")
	if len(names) != 1 || names[0] != "t-0" {
		t.Fatalf("data dir after delete: %v", names)
	}
	if err := e.m.DeleteLog("never", 1); err != nil {
		t.Fatal(err)
	}
}

func TestParsePartitionDir(t *testing.T) {
	for name, want := range map[string]string{
		"a-0": "a/0", "a-b-12": "a-b/12", "x.y_z-7": "x.y_z/7",
		"a-": "", "-1": "", "a-1x": "", "a-0.abc-delete": "", "a": "", "a-99999999999": "",
	} {
		topic, p, ok := parsePartitionDir(name)
		got := ""
		if ok {
			got = fmt.Sprintf("%s/%d", topic, p)
		}
		if got != want {
			t.Errorf("%q: %q, want %q", name, got, want)
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func readFile(e *env, path string) ([]byte, error) {
	f, err := e.fs.OpenFile(path, 0, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n, _ := f.Size()
	b := make([]byte, n)
	_, err = f.ReadAt(b, 0)
	return b, err
}

func TestReopenAfterLogClose(t *testing.T) {
	e := newEnv(t)
	l := e.open(DefaultConfig())
	mustAppend(t, l, makeBatch(3, 0, "x"))
	if same := e.open(DefaultConfig()); same != l {
		t.Fatal("OpenLog of an open log returned another Log")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Read(0, 100, math.MaxInt64); !errors.Is(err, ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
	l2 := e.open(DefaultConfig())
	if l2 == l || l2.LogEndOffset() != 3 {
		t.Fatalf("reopened log: same %v, LEO %d", l2 == l, l2.LogEndOffset())
	}
}
