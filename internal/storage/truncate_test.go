package storage

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// fillLog appends n batches of 1-3 records (sizes vary, so batches and
// segment boundaries fall at uneven offsets) and returns them as stored.
func fillLog(t testing.TB, l *Log, n int, tag string) [][]byte {
	t.Helper()
	var out [][]byte
	for i := 0; i < n; i++ {
		b := makeBatch(1+i%3, 1000+int64(i), fmt.Sprint(tag, i))
		res := mustAppend(t, l, b)
		out = append(out, withOffset(b, res.FirstOffset))
	}
	return out
}

// below returns the batches that lie wholly below offset: what TruncateTo
// keeps.
func below(bs [][]byte, offset int64) [][]byte {
	var out [][]byte
	for _, b := range bs {
		if h, _ := batch.ParseHeader(b); h.LastOffset() < offset {
			out = append(out, b)
		}
	}
	return out
}

func sameBatches(t testing.TB, what string, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d batches, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("%s: batch %d (base %d) differs from base %d", what, i, baseOf(got[i]), baseOf(want[i]))
		}
	}
}

func segmentBases(l *Log) []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []int64
	for _, s := range l.segments {
		out = append(out, s.base)
	}
	return out
}

// checkTruncated checks l holds exactly want, ends at leo, reads nothing
// at leo and refuses offsets above it.
func checkTruncated(t testing.TB, what string, l *Log, want [][]byte, leo int64) {
	t.Helper()
	if got := l.LogEndOffset(); got != leo {
		t.Fatalf("%s: LEO %d, want %d", what, got, leo)
	}
	sameBatches(t, what, readTo(t, l), want)
	if b, err := l.Read(leo, 1<<20, math.MaxInt64); err != nil || len(b) != 0 {
		t.Fatalf("%s: read at LEO: %d bytes, %v", what, len(b), err)
	}
	if _, err := l.Read(leo+1, 1<<20, math.MaxInt64); !isOutOfRange(err) {
		t.Fatalf("%s: read above LEO: %v", what, err)
	}
}

func TestTruncateTo(t *testing.T) {
	// Find the layout first: 40 batches over several 1 KiB segments.
	e := newEnv(t)
	l := e.open(smallConfig())
	all := fillLog(t, l, 40, "a")
	bases := segmentBases(l)
	leo := l.LogEndOffset()
	if len(bases) < 4 {
		t.Fatalf("only %d segments", len(bases))
	}
	mid := bases[len(bases)/2]
	h5, _ := batch.ParseHeader(all[5])
	h20, _ := batch.ParseHeader(all[20])
	if h20.LastOffsetDelta == 0 {
		h20, _ = batch.ParseHeader(all[21])
	}
	cases := map[string]int64{
		"batch boundary":          h5.BaseOffset,
		"inside a batch":          h20.BaseOffset + 1,
		"segment base":            mid,
		"just after segment base": mid + 1,
		"in the active segment":   leo - 1,
		"first segment, offset 1": 1,
		"zero":                    0,
		"at the log end":          leo,
		"above the log end":       leo + 10,
	}
	for name, target := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			l := e.open(smallConfig())
			all := fillLog(t, l, 40, "a")
			if err := l.TruncateTo(target); err != nil {
				t.Fatal(err)
			}
			wantLEO := min(target, leo)
			want := below(all, wantLEO)
			checkTruncated(t, "truncated", l, want, wantLEO)
			for _, b := range segmentBases(l) {
				if b > wantLEO {
					t.Fatalf("segment at %d above the truncation point %d: %v", b, wantLEO, segmentBases(l))
				}
			}
			if _, err := e.fs.Stat(filepath.Join(l.Dir(), truncateFile)); err == nil {
				t.Fatal("the commit point is left behind")
			}
			// Appends go on at the truncation offset.
			more := fillLog(t, l, 12, "b")
			if baseOf(more[0]) != wantLEO {
				t.Fatalf("append after truncation at %d, want %d", baseOf(more[0]), wantLEO)
			}
			want = append(want, more...)
			end := l.LogEndOffset()
			checkTruncated(t, "appended", l, want, end)
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
			// A clean restart, then a power loss: the same log.
			e.reopenManager()
			l = e.open(smallConfig())
			checkTruncated(t, "reopened", l, want, end)
			powerLoss(e)
			l = e.open(smallConfig())
			checkTruncated(t, "after a crash", l, want, end)
		})
	}
}

func TestTruncateIsDurableBeforeItReturns(t *testing.T) {
	e := newEnv(t)
	l := e.open(smallConfig())
	all := fillLog(t, l, 30, "a")
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	target := baseOf(all[17])
	if err := l.TruncateTo(target); err != nil {
		t.Fatal(err)
	}
	// A power loss right after: nothing at or above target comes back, and
	// the recovery point does not vouch for offsets that are gone.
	powerLoss(e)
	l = e.open(smallConfig())
	checkTruncated(t, "after a crash", l, all[:17], target)
	if rp, _, err := readCheckpoint(l, recoveryPointFile, parseRecoveryPoint); err != nil || rp.offset > target {
		t.Fatalf("recovery point %d above %d (%v)", rp.offset, target, err)
	}
}

func TestTruncateBelowLogStart(t *testing.T) {
	e := newEnv(t)
	l := e.open(smallConfig())
	all := fillLog(t, l, 40, "a")
	bases := segmentBases(l)
	// DeleteRecords moved the log start into the third segment; truncating
	// below it, but not below that segment's base, lowers the log start to
	// the truncation offset, as Kafka does (min(target, logStartOffset)).
	start := bases[2] + 2
	if err := l.DeleteRecordsBefore(start); err != nil {
		t.Fatal(err)
	}
	target := bases[2] + 1
	if err := l.TruncateTo(target); err != nil {
		t.Fatal(err)
	}
	if l.LogStartOffset() != target || l.LogEndOffset() != target {
		t.Fatalf("log start %d, end %d, want both %d", l.LogStartOffset(), l.LogEndOffset(), target)
	}
	sameBatches(t, "kept", readTo(t, l), nil)
	if b, err := l.Read(target, 1<<20, math.MaxInt64); err != nil || len(b) != 0 {
		t.Fatalf("read at the log start: %d bytes, %v", len(b), err)
	}
	// Below the first segment's base: the log starts over there
	// (truncateFullyAndStartAt), and that survives a restart.
	if err := l.TruncateTo(1); err != nil {
		t.Fatal(err)
	}
	if l.LogStartOffset() != 1 || l.LogEndOffset() != 1 {
		t.Fatalf("log start %d, end %d, want both 1", l.LogStartOffset(), l.LogEndOffset())
	}
	e.reopenManager()
	l = e.open(smallConfig())
	if l.LogStartOffset() != 1 || l.LogEndOffset() != 1 {
		t.Fatalf("after reopen: log start %d, end %d", l.LogStartOffset(), l.LogEndOffset())
	}
	if res := mustAppend(t, l, all[0]); res.FirstOffset != 1 {
		t.Fatalf("append at %d", res.FirstOffset)
	}
}

func TestTruncateFullyAndStartAt(t *testing.T) {
	for _, at := range []int64{0, 7, 1000} {
		t.Run(fmt.Sprint(at), func(t *testing.T) {
			e := newEnv(t)
			l := e.open(smallConfig())
			fillLog(t, l, 30, "a")
			if err := l.TruncateFullyAndStartAt(at); err != nil {
				t.Fatal(err)
			}
			if l.LogStartOffset() != at || l.LogEndOffset() != at || len(segmentBases(l)) != 1 {
				t.Fatalf("start %d, end %d, segments %v", l.LogStartOffset(), l.LogEndOffset(), segmentBases(l))
			}
			if _, err := l.Read(at-1, 1<<20, math.MaxInt64); at > 0 && !isOutOfRange(err) {
				t.Fatalf("read below: %v", err)
			}
			more := fillLog(t, l, 5, "b")
			if baseOf(more[0]) != at {
				t.Fatalf("append at %d, want %d", baseOf(more[0]), at)
			}
			powerLoss(e) // nothing flushed since: only the truncation is durable
			l = e.open(smallConfig())
			if l.LogStartOffset() != at || l.LogEndOffset() < at {
				t.Fatalf("after crash: start %d, end %d", l.LogStartOffset(), l.LogEndOffset())
			}
			sameBatches(t, "after crash", readTo(t, l), more[:len(readTo(t, l))])
		})
	}
}

// TestTruncateCompacted truncates a compacted log inside its cleaned part and
// inside its dirty part: the cleaner's first dirty offset comes down with
// it, and a later pass cleans what was appended after.
func TestTruncateCompacted(t *testing.T) {
	for _, where := range []string{"cleaned", "dirty"} {
		t.Run(where, func(t *testing.T) {
			e := newEnv(t)
			l := e.open(compactConfig())
			all := fillKeyed(t, l, batch.None, 40, 6, e.clock.Ms())
			mustClean(t, e, l)
			cleanedTo := l.firstDirty
			all = append(compacted(all, cleanedTo, false), fillKeyed(t, l, batch.None, 20, 6, e.clock.Ms())...)
			before := readTo(t, l)
			target := baseOf(before[len(before)/3])
			if where == "dirty" {
				target = baseOf(before[len(before)-8])
			}
			if err := l.TruncateTo(target); err != nil {
				t.Fatal(err)
			}
			checkTruncated(t, "truncated", l, below(before, target), target)
			l.mu.Lock()
			fd := l.firstDirty
			l.mu.Unlock()
			if fd > target {
				t.Fatalf("first dirty offset %d above the log end %d", fd, target)
			}
			kept := append(kvBelow(all, target), fillKeyed(t, l, batch.None, 30, 6, e.clock.Ms())...)
			mustClean(t, e, l)
			if got, want := records(t, l), compacted(kept, activeBase(l), false); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("after truncation and a pass:\ngot  %v\nwant %v", got, want)
			}
			e.reopenManager()
			l = e.open(compactConfig())
			if l.firstDirty > l.LogEndOffset() {
				t.Fatalf("reopened: first dirty %d above LEO %d", l.firstDirty, l.LogEndOffset())
			}
		})
	}
}

// TestTruncateCrash stops a truncation at each write it makes and at each
// named point, with and without a power loss: the log recovers to either
// its old contents or the truncated ones, and to the truncated ones if
// TruncateTo returned.
func TestTruncateCrash(t *testing.T) {
	type stop struct {
		write int
		point string
	}
	var stops []stop
	for _, p := range []string{"truncate-begin", "truncate-commit", "truncate-end"} {
		stops = append(stops, stop{point: p})
	}
	for k := 1; k <= 12; k++ {
		stops = append(stops, stop{write: k})
	}
	// Batch 23 starts a segment; 26, in the middle of one, has three
	// records (cut before it, and inside it).
	for _, at := range []struct{ batch, plus int }{{23, 0}, {26, 0}, {26, 1}} {
		for _, full := range []bool{false, true} {
			if full && at.plus > 0 {
				continue
			}
			for _, s := range stops {
				for _, power := range []bool{true, false} {
					name := fmt.Sprintf("at%d+%d/full=%v/write%d%s/powerloss=%v", at.batch, at.plus, full, s.write, s.point, power)
					t.Run(name, func(t *testing.T) {
						mem := vfs.NewMem()
						ffs := vfs.NewFaulty(mem)
						clk := newClock()
						m, err := NewManager("/data", Options{FS: ffs, Now: clk.Now, MaxOpenSegments: 4}, 0)
						if err != nil {
							t.Fatal(err)
						}
						l, err := m.OpenLog("c", 0, [16]byte{9}, smallConfig())
						if err != nil {
							t.Fatal(err)
						}
						old := fillLog(t, l, 40, "a")
						if err := l.Flush(); err != nil {
							t.Fatal(err)
						}
						oldLEO := l.LogEndOffset()
						target := baseOf(old[at.batch]) + int64(at.plus)
						want := old[:at.batch]
						if s.point != "" {
							l.swapHook = func(p string) error {
								if p == s.point {
									ffs.FailAfterWrites(1) // the process dies here
									return vfs.ErrInjected
								}
								return nil
							}
						} else {
							ffs.FailAfterWrites(s.write)
						}
						if full {
							err = l.TruncateFullyAndStartAt(target)
							want = nil
						} else {
							err = l.TruncateTo(target)
						}
						done, terr := err == nil, err
						if err != nil && !errors.Is(err, vfs.ErrInjected) {
							t.Fatalf("truncate: %v", err)
						}
						if power {
							mem.Crash()
						}
						drop(m) // the process dies: nothing more is written
						m2, err := NewManager("/data", Options{FS: mem, Now: clk.Now}, 0)
						if err != nil {
							t.Fatal(err)
						}
						defer m2.Close()
						l2, err := m2.OpenLog("c", 0, [16]byte{9}, smallConfig())
						if err != nil {
							t.Fatalf("open: %v", err)
						}
						got := readTo(t, l2)
						truncated := l2.LogEndOffset() == target
						t.Logf("returned %v (%v), recovered LEO %d (old %d, target %d)", done, terr, l2.LogEndOffset(), oldLEO, target)
						switch {
						case truncated:
							sameBatches(t, "truncated", got, want)
							if full && l2.LogStartOffset() != target {
								t.Fatalf("log start %d after a full truncation to %d", l2.LogStartOffset(), target)
							}
						case done:
							t.Fatalf("TruncateTo returned but the log recovered to LEO %d, not %d", l2.LogEndOffset(), target)
						case l2.LogEndOffset() == oldLEO:
							sameBatches(t, "old", got, old)
						default:
							t.Fatalf("recovered to LEO %d: neither the old %d nor the truncated %d", l2.LogEndOffset(), oldLEO, target)
						}
						// Appends go on at the log end, and a read from the start sees
						// them right after what was recovered: nothing truncated is
						// left in between.
						after := makeBatch(1, 0, "after")
						res := mustAppend(t, l2, after)
						sameBatches(t, "appended", readTo(t, l2), append(got, withOffset(after, res.FirstOffset)))
						if !done && s.point == "" && !ffs.Triggered() {
							t.Fatalf("no fault fired and the truncation failed")
						}
					})
				}
			}
		}
	}
}

// TestTruncateModel runs random appends, flushes, truncations, full
// truncations, reopens and crashes against a model (the list of batches):
// after each step the log holds exactly the model's batches and each
// inactive segment's indexes are the ones a scan builds.
func TestTruncateModel(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			runTruncateModel(t, 150, func(n int) (int, bool) { return rng.IntN(n), true })
		})
	}
}

// FuzzTruncateModel is TestTruncateModel with the choices taken from the
// fuzzer's bytes.
func FuzzTruncateModel(f *testing.F) {
	f.Add([]byte{3, 0, 1, 0, 2, 0, 13, 5, 0, 1, 17, 12, 2, 19, 16, 1})
	f.Add([]byte{9, 0, 0, 0, 0, 0, 0, 0, 0, 14, 0, 14, 1, 18, 0, 3, 15, 7})
	f.Fuzz(func(t *testing.T, choices []byte) {
		runTruncateModel(t, 60, func(n int) (int, bool) {
			if len(choices) == 0 {
				return 0, false
			}
			c := int(choices[0]) % n
			choices = choices[1:]
			return c, true
		})
	})
}

// runTruncateModel runs up to steps operations chosen by choose (a number
// below n, false when there are no more choices).
func runTruncateModel(t *testing.T, steps int, choose func(n int) (int, bool)) {
	pick := func(n int) int { c, _ := choose(n); return c }
	e := newEnv(t)
	cfg := smallConfig()
	cfg.SegmentBytes = 300 + int64(pick(700))
	l := e.open(cfg)
	var model [][]byte
	logStart := int64(0)
	leo := int64(0)
	for step := 0; step < steps; step++ {
		op, ok := choose(20)
		if !ok {
			return
		}
		switch {
		case op < 12:
			b := makeBatch(1+pick(4), int64(step), fmt.Sprint("s", step))
			res := mustAppend(t, l, b)
			if res.FirstOffset != leo {
				t.Fatalf("step %d: append at %d, model LEO %d", step, res.FirstOffset, leo)
			}
			model = append(model, withOffset(b, leo))
			h, _ := batch.ParseHeader(b)
			leo += int64(h.LastOffsetDelta) + 1
		case op < 16:
			target := logStart + int64(pick(int(leo-logStart+3)))
			if err := l.TruncateTo(target); err != nil {
				t.Fatalf("step %d: truncate to %d: %v", step, target, err)
			}
			if target < leo {
				model, leo = below(model, target), target
				logStart = min(logStart, target)
			}
		case op == 16:
			at := max(leo+int64(pick(5))-2, 0)
			if err := l.TruncateFullyAndStartAt(at); err != nil {
				t.Fatal(err)
			}
			model, leo, logStart = nil, at, at
		case op == 17:
			e.reopenManager()
			l = e.open(cfg)
		default:
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
			powerLoss(e)
			l = e.open(cfg)
		}
		if l.LogEndOffset() != leo || l.LogStartOffset() != logStart {
			t.Fatalf("step %d: log %d-%d, model %d-%d", step, l.LogStartOffset(), l.LogEndOffset(), logStart, leo)
		}
		sameBatches(t, fmt.Sprint("step ", step), readTo(t, l), model)
		checkIndexes(t, l)
	}
}

// TestTruncateConcurrentReaders reads the log while it is truncated and
// appended to again with different batches at the same offsets: every
// batch a read returns is one that was appended at its offset, whole and
// with its CRC, never bytes of another batch.
func TestTruncateConcurrentReaders(t *testing.T) {
	e := newEnv(t)
	l := e.open(smallConfig())
	key := func(b []byte) string { return fmt.Sprint(baseOf(b), string(b)) }
	var appended atomic.Pointer[map[string]bool] // grows only: a new map each time
	seen := map[string]bool{}
	publish := func(bs [][]byte) {
		next := make(map[string]bool, len(seen)+len(bs))
		for k := range seen {
			next[k] = true
		}
		for _, b := range bs {
			next[key(b)] = true
		}
		seen = next
		appended.Store(&next)
	}
	publish(fillLog(t, l, 30, "g0"))
	stop := make(chan struct{})
	errs := make(chan error, 2)
	for r := 0; r < 2; r++ {
		go func() {
			for {
				select {
				case <-stop:
					errs <- nil
					return
				default:
				}
				off := rand.Int64N(l.LogEndOffset() + 1)
				b, err := l.Read(off, 4096, math.MaxInt64)
				if err != nil {
					continue // truncated away meanwhile: out of range
				}
				// Loaded after the read: it holds every batch appended before.
				cur := *appended.Load()
				for len(b) > 0 {
					h, err := parseHeader(b)
					if err != nil || h.Size() > len(b) || !batch.ValidCRC(b[:h.Size()]) {
						errs <- fmt.Errorf("read at %d returned a bad batch: %v", off, err)
						return
					}
					if !cur[key(b[:h.Size()])] {
						errs <- fmt.Errorf("read at %d returned a batch at %d never appended there", off, h.BaseOffset)
						return
					}
					b = b[h.Size():]
				}
			}
		}()
	}
	for g := 1; g <= 40; g++ {
		target := l.LogEndOffset() - 1 - int64(g%7)
		if err := l.TruncateTo(target); err != nil {
			t.Fatal(err)
		}
		var next [][]byte
		off := target
		for i := 0; i < 6; i++ {
			b := makeBatch(1+i%3, 0, fmt.Sprint("g", g, "-", i))
			next = append(next, withOffset(b, off))
			off += int64(1 + i%3)
		}
		publish(next) // before the appends, so readers know them
		for _, b := range next {
			mustAppend(t, l, bytes.Clone(b))
		}
	}
	close(stop)
	for r := 0; r < 2; r++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestTruncateRegion holds a file region (sendfile) across a truncation and
// new appends at the same offsets: its bytes are the old ones or a short
// read, never the new batches.
func TestTruncateRegion(t *testing.T) {
	m, err := NewManager(t.TempDir(), Options{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	l, err := m.OpenLog("r", 0, [16]byte{1}, smallConfig())
	if err != nil {
		t.Fatal(err)
	}
	old := fillLog(t, l, 30, "old")
	from := baseOf(old[len(old)-6])
	r, err := l.ReadRegion(from, 1<<20, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	want := bytes.Join(old[len(old)-6:], nil)
	if r.Size != int64(len(want)) {
		t.Fatalf("region of %d bytes, want %d", r.Size, len(want))
	}
	if err := l.TruncateTo(from); err != nil {
		t.Fatal(err)
	}
	fillLog(t, l, 6, "new")
	got, err := r.Bytes()
	if err == nil && !bytes.Equal(got, want) {
		t.Fatal("the region holds bytes other than the ones it was taken with")
	}
	// A region taken now reads the new batches.
	r2, err := l.ReadRegion(from, 1<<20, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Release()
	now, err := r2.Bytes()
	if err != nil || bytes.Equal(now, want) || baseOf(now) != from {
		t.Fatalf("new region: %v", err)
	}
}

// checkIndexes checks that every inactive segment's indexes, however they
// were made (a cut by a truncation, files, a rebuild), are the ones a scan
// of the segment builds.
func checkIndexes(t testing.TB, l *Log) {
	t.Helper()
	l.mu.Lock()
	segs := append([]*segment(nil), l.segments...)
	interval := l.cfg.IndexIntervalBytes
	l.mu.Unlock()
	for i, s := range segs[:len(segs)-1] {
		x, err := l.loadIndex(s, s.size, segs[i+1].base, interval)
		if err != nil {
			t.Fatal(err)
		}
		f, err := l.fs.OpenFile(s.logPath, os.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		b := newIndexBuilder(s.base, interval)
		_, err = scanBatches(f, 0, s.size, s.base, b)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := b.finish()
		if !slices.Equal(x.offsets, want.offsets) || !slices.Equal(x.times, want.times) {
			t.Fatalf("segment %d: indexes %v %v, a scan gives %v %v", s.base, x.offsets, x.times, want.offsets, want.times)
		}
	}
}

// TestTruncateDuringClean truncates a compacted log while a cleaning pass
// planned before runs: the pass swaps nothing in (its offset map holds keys
// of records that are gone), and the log holds what the truncation left.
func TestTruncateDuringClean(t *testing.T) {
	e := newEnv(t)
	l := e.open(compactConfig())
	all := fillKeyed(t, l, batch.None, 60, 5, e.clock.Ms())
	before := readTo(t, l)
	p, ok, err := l.planClean(e.clock.Ms())
	if err != nil || !ok {
		t.Fatalf("plan: %v %v", ok, err)
	}
	target := baseOf(before[len(before)/2])
	if err := l.TruncateTo(target); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.cleanLog(l, e.clock.Now(), p); err == nil {
		t.Fatal("a pass planned before the truncation completed")
	}
	checkTruncated(t, "after the pass", l, below(before, target), target)
	names, _ := e.fs.ReadDir(l.Dir())
	for _, n := range names {
		if filepath.Ext(n) == cleanedSuffix || filepath.Ext(n) == swapSuffix {
			t.Fatalf("left %s behind", n)
		}
	}
	kept := append(kvBelow(all, target), fillKeyed(t, l, batch.None, 20, 5, e.clock.Ms())...)
	mustClean(t, e, l)
	if got, want := records(t, l), compacted(kept, activeBase(l), false); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("next pass:\ngot  %v\nwant %v", got, want)
	}
}

// TestCleanLimit: with a limit (the high watermark) the cleaner neither
// cleans nor maps records above it, so truncating to the limit cannot take
// away the only value left of a key.
func TestCleanLimit(t *testing.T) {
	e := newEnv(t)
	l := e.open(compactConfig())
	mustAppend(t, l, keyedBatch(batch.None, e.clock.Ms(), "a", "old"))
	fillKeyed(t, l, batch.None, 30, 3, e.clock.Ms())
	bases := segmentBases(l)
	limit := bases[len(bases)-2] // the segments before it are below the limit
	mustAppend(t, l, keyedBatch(batch.None, e.clock.Ms(), "a", "new"))
	fillKeyed(t, l, batch.None, 30, 3, e.clock.Ms())
	l.SetCleanLimit(func() int64 { return limit })
	mustClean(t, e, l)
	l.mu.Lock()
	fd := l.firstDirty
	l.mu.Unlock()
	if fd > limit {
		t.Fatalf("first dirty offset %d above the limit %d", fd, limit)
	}
	if err := l.TruncateTo(limit); err != nil {
		t.Fatal(err)
	}
	var a []string
	for _, r := range records(t, l) {
		if r.key == "a" {
			a = append(a, string(r.value))
		}
	}
	if fmt.Sprint(a) != "[old]" {
		t.Fatalf("key a holds %v after truncating to the limit, want [old]", a)
	}
}

// kvBelow returns the records of recs below offset.
func kvBelow(recs []kv, offset int64) []kv {
	var out []kv
	for _, r := range recs {
		if r.offset < offset {
			out = append(out, r)
		}
	}
	return out
}

// TestTruncateRacingFlush truncates and appends while other goroutines
// flush: a flush that began before a truncation must not count what it
// synced as the truncated log's, so the Flush after the last append makes
// every batch survive a power loss.
func TestTruncateRacingFlush(t *testing.T) {
	e := newEnv(t)
	l := e.open(smallConfig())
	var model [][]byte
	stop := make(chan struct{})
	done := make(chan error, 2)
	for range 2 {
		go func() {
			for {
				select {
				case <-stop:
					done <- nil
					return
				default:
				}
				if err := l.Flush(); err != nil {
					done <- err
					return
				}
			}
		}()
	}
	for i := range 300 {
		if i%10 == 9 && len(model) > 3 {
			target := baseOf(model[len(model)-3])
			if err := l.TruncateTo(target); err != nil {
				t.Fatal(err)
			}
			model = model[:len(model)-3]
		}
		b := makeBatch(1+i%2, 0, fmt.Sprint("f", i))
		res := mustAppend(t, l, b)
		model = append(model, withOffset(b, res.FirstOffset))
	}
	close(stop)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	powerLoss(e)
	l = e.open(smallConfig())
	sameBatches(t, "after a power loss", readTo(t, l), model)
}

// TestFlushOvertakenByTruncation: an fsync that began before a truncation
// and ends after it does not count as flushing the offsets appended after
// the truncation below its old log end, so the next Flush syncs them.
func TestFlushOvertakenByTruncation(t *testing.T) {
	e := newEnv(t)
	l := e.open(smallConfig())
	all := fillLog(t, l, 10, "a")
	upTo, gen, err := l.syncActive() // a Flush, stopped during its fsync
	if err != nil {
		t.Fatal(err)
	}
	target := baseOf(all[5])
	if err := l.TruncateTo(target); err != nil {
		t.Fatal(err)
	}
	l.flushMu.Lock()
	l.flushedLocked(upTo, gen) // its fsync returns
	l.flushMu.Unlock()
	b := makeBatch(1, 0, "after")
	mustAppend(t, l, b)
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	powerLoss(e)
	l = e.open(smallConfig())
	sameBatches(t, "after a power loss", readTo(t, l), append(all[:5:5], withOffset(b, target)))
}

// powerLoss loses what e's filesystem did not sync and opens a new manager
// on the rest. The old manager is dropped, not closed: Close would sync the
// filesystem and mark a clean shutdown. It runs no goroutines (no cleaner
// threads, no interval).
func powerLoss(e *env) {
	e.t.Helper()
	e.mem.Crash()
	drop(e.m)
	m, err := NewManager("/data", e.opts(), 0)
	if err != nil {
		e.t.Fatal(err)
	}
	e.m = m
	e.t.Cleanup(func() { m.Close() })
}

// drop abandons m as a dead process would: its logs release their handles
// and write nothing, and m is not closed (Close syncs and marks a clean
// shutdown). m must run no goroutines (no cleaner threads, no interval).
func drop(m *Manager) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range m.logs {
		l.close(false)
	}
	m.logs = map[string]*Log{}
}
