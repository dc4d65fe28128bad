package txn

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/storage"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// testLog is a log as a partition holds it: batches with offsets assigned,
// and the producer snapshots a partition could have written along the way.
type testLog struct {
	batches   [][]byte
	snapshots map[int64][]byte // by offset: taken when the log ended there
}

// buildLog appends 60 batches of three idempotent producers (one
// transactional, with a marker every 7 batches; epochs bump at batch 30)
// and plain batches, snapshotting every 9 batches.
func buildLog(t *testing.T) testLog {
	t.Helper()
	live := NewProducerState()
	l := testLog{snapshots: map[int64][]byte{}}
	var next int64
	seq := map[int64]int32{}
	for i := range 60 {
		pid := int64(i % 4) // 3 is a plain producer
		o := batch.BuildOptions{ProducerID: pid, ProducerEpoch: int16(i / 30), BaseSequence: seq[pid*100+int64(i/30)], Transactional: pid == 2}
		n := 1 + i%3
		if pid == 3 {
			o.ProducerID, o.ProducerEpoch, o.BaseSequence = -1, -1, -1
		}
		if pid == 2 && i%7 == 0 {
			o.Control, n = true, 1
		}
		recs := make([]batch.Record, n)
		for j := range recs {
			recs[j] = batch.Record{Timestamp: int64(1000 + i), Value: []byte("v")}
		}
		b := batch.Build(o, recs)
		h, _ := batch.ParseHeader(b)
		if pid != 3 && !o.Control {
			if res := live.Check(h); res.ErrorCode != 0 || res.Duplicate {
				t.Fatalf("batch %d: %+v", i, res)
			}
			seq[pid*100+int64(i/30)] += int32(n)
		}
		batch.SetBaseOffset(b, next)
		live.Update(h, next)
		l.batches = append(l.batches, b)
		next += int64(n)
		if i%9 == 8 {
			l.snapshots[next] = live.MarshalSnapshot(next)
		}
	}
	return l
}

// reader serves the batches of l wholly below end from an offset, at most
// three per call (so a replay takes several), as storage.Log.Read does.
func (l testLog) reader(end int64) func(int64) ([]byte, error) {
	return func(from int64) ([]byte, error) {
		var out []byte
		n := 0
		for _, b := range l.batches {
			h, _ := batch.ParseHeader(b)
			if h.LastOffset() >= from && h.LastOffset() < end && n < 3 {
				out = append(out, b...)
				n++
			}
		}
		return out, nil
	}
}

// replayed is the state of replaying, from nothing, the batches of l that
// a truncation to end and a log start of logStart leave.
func (l testLog) replayed(logStart, end int64) *ProducerState {
	s := NewProducerState()
	for _, b := range l.batches {
		h, _ := batch.ParseHeader(b)
		if h.LastOffset() >= logStart && h.LastOffset() < end {
			s.Update(h, h.BaseOffset)
		}
	}
	return s
}

// TestRebuildAfterTruncation: for every truncation offset (batch boundaries
// and inside batches) and every snapshot, or none, or a corrupt one, the
// rebuilt state is the replay of what the truncation left; snapshots above
// the truncation are not used.
func TestRebuildAfterTruncation(t *testing.T) {
	l := buildLog(t)
	h, _ := batch.ParseHeader(l.batches[len(l.batches)-1])
	leo := h.LastOffset() + 1
	corrupt := bytes.Clone(l.snapshots[leo-1])
	if corrupt == nil {
		for _, s := range l.snapshots {
			corrupt = bytes.Clone(s)
			break
		}
	}
	corrupt[len(corrupt)-1] ^= 1
	cases := 0
	for end := int64(0); end <= leo; end++ {
		for _, logStart := range []int64{0, 5, 17} {
			if logStart > end {
				continue
			}
			want := l.replayed(logStart, end).MarshalSnapshot(0)
			snaps := map[string][]byte{"none": nil, "corrupt": corrupt}
			for off, s := range l.snapshots {
				snaps[fmt.Sprint("at ", off)] = s
			}
			for name, snap := range snaps {
				got, used, err := Rebuild(snap, logStart, end, l.reader(end))
				if err != nil {
					t.Fatalf("end %d, start %d, snapshot %s: %v", end, logStart, name, err)
				}
				// From the log start on, the state is the replay's exactly; a
				// snapshot may also remember batches below a log start that
				// moved up (Kafka's truncateAndReload drops only producers
				// with nothing left), which the producers' entries do not show.
				if logStart == 0 && !bytes.Equal(got.MarshalSnapshot(0), want) ||
					fmt.Sprint(got.Producers()) != fmt.Sprint(l.replayed(logStart, end).Producers()) {
					t.Fatalf("end %d, start %d, snapshot %s: state differs from the replay\ngot  %v\nwant %v",
						end, logStart, name, got.Producers(), l.replayed(logStart, end).Producers())
				}
				_, off, err := UnmarshalSnapshot(snap)
				usable := err == nil && off >= logStart && off <= end
				if (used >= 0) != usable || (usable && used != off) {
					t.Fatalf("end %d, start %d, snapshot %s: used %d", end, logStart, name, used)
				}
				cases++
			}
		}
	}
	t.Logf("%d cases", cases)
}

// TestRebuildThenAppend: a producer whose batches a truncation removed is
// checked against what is left: a retry of a removed batch is no longer a
// duplicate but the next in sequence after the last batch kept.
func TestRebuildThenAppend(t *testing.T) {
	l := buildLog(t)
	// Producer 0's batches are at indexes 0, 4, 8, ...; cut at batch 40's base.
	h40, _ := batch.ParseHeader(l.batches[40])
	end := h40.BaseOffset
	s, _, err := Rebuild(l.snapshots[end], 0, end, l.reader(end))
	if err != nil {
		t.Fatal(err)
	}
	if res := s.Check(h40); res.Duplicate || res.ErrorCode != 0 {
		t.Fatalf("the removed batch, sent again: %+v", res)
	}
	full, _, err := Rebuild(nil, 0, end+100, l.reader(end+100))
	if err != nil {
		t.Fatal(err)
	}
	if res := full.Check(h40); !res.Duplicate || res.FirstOffset != h40.BaseOffset {
		t.Fatalf("before the truncation it was a duplicate: %+v", res)
	}
}

// TestRebuildFromStorage truncates a real storage.Log and rebuilds from it,
// reading as a partition does (storage.Log.Read up to end, an offset out of
// range as nothing).
func TestRebuildFromStorage(t *testing.T) {
	l := buildLog(t)
	m, err := storage.NewManager("/data", storage.Options{FS: vfs.NewMem()}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	cfg := storage.DefaultConfig()
	cfg.SegmentBytes = 1024
	log, err := m.OpenLog("t", 0, [16]byte{1}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range l.batches {
		if _, err := log.Append(bytes.Clone(b)); err != nil {
			t.Fatal(err)
		}
	}
	h, _ := batch.ParseHeader(l.batches[34]) // two records
	end := h.BaseOffset + 1                  // inside the batch
	if err := log.TruncateTo(end); err != nil {
		t.Fatal(err)
	}
	read := func(from int64) ([]byte, error) {
		b, err := log.Read(from, 1<<10, log.LogEndOffset())
		if errors.Is(err, storage.ErrOffsetOutOfRange) {
			return nil, nil
		}
		return b, err
	}
	var snap []byte
	for off, s := range l.snapshots {
		if off <= end && (snap == nil || off > mustOffset(t, snap)) {
			snap = s
		}
	}
	for _, s := range [][]byte{nil, snap, l.snapshots[mustMaxOffset(l)]} {
		got, _, err := Rebuild(s, log.LogStartOffset(), log.LogEndOffset(), read)
		if err != nil {
			t.Fatal(err)
		}
		if want := l.replayed(0, end).MarshalSnapshot(0); !bytes.Equal(got.MarshalSnapshot(0), want) {
			t.Fatalf("rebuilt from the truncated log: %v\nwant %v", got.Producers(), l.replayed(0, end).Producers())
		}
	}
}

func mustOffset(t *testing.T, snap []byte) int64 {
	_, off, err := UnmarshalSnapshot(snap)
	if err != nil {
		t.Fatal(err)
	}
	return off
}

func mustMaxOffset(l testLog) int64 {
	var m int64
	for off := range l.snapshots {
		m = max(m, off)
	}
	return m
}

// TestRebuildRecoversTransactions: a log with a committed transaction, an
// aborted one and one still open rebuilds, from nothing or from a snapshot
// taken inside the open transaction, to the open transaction's first offset
// as the first unstable offset, the markers decoded (coordinator epoch
// kept); a truncation below the open transaction's first batch drops it,
// one between its batches keeps it at the same first offset.
func TestRebuildRecoversTransactions(t *testing.T) {
	var l testLog
	l.snapshots = map[int64][]byte{}
	live := NewProducerState()
	var next int64
	seq := map[int64]int32{}
	appendBatch := func(pid int64, n int, marker *Marker) {
		o := batch.BuildOptions{BaseOffset: next, ProducerID: pid, BaseSequence: seq[pid], Transactional: true}
		recs := make([]batch.Record, n)
		for i := range recs {
			recs[i] = batch.Record{Timestamp: 1000, Value: []byte("v")}
		}
		if marker != nil {
			o.Control, o.BaseSequence, recs = true, -1, []batch.Record{MarkerRecord(*marker)}
		} else {
			seq[pid] += int32(n)
		}
		b := batch.Build(o, recs)
		h, _ := batch.ParseHeader(b)
		live.UpdateBatch(h, b, next)
		l.batches = append(l.batches, b)
		next += int64(len(recs))
		l.snapshots[next] = live.MarshalSnapshot(next)
	}
	appendBatch(1, 2, nil)                                          // 0-1
	appendBatch(2, 1, nil)                                          // 2
	appendBatch(1, 0+1, &Marker{Commit: true, CoordinatorEpoch: 3}) // 3
	appendBatch(3, 2, nil)                                          // 4-5: stays open
	appendBatch(2, 1, &Marker{CoordinatorEpoch: 7})                 // 6: aborts 2's
	appendBatch(3, 1, nil)                                          // 7
	if got := live.FirstUnstableOffset(next); got != 4 {
		t.Fatalf("live first unstable offset %d, want 4", got)
	}
	for _, tc := range []struct {
		snapshot   []byte
		end, want  int64
		wantCoord2 int32
	}{
		{nil, next, 4, 7},
		{l.snapshots[6], next, 4, -1}, // the snapshot before 2's abort: replayed
		{l.snapshots[7], next, 4, 7},
		{l.snapshots[7], 6, 2, -1}, // above the truncation: unused; 2's abort truncated away
		{nil, 5, 2, -1},            // inside 3's first batch: only 2's open transaction
		{nil, 4, 2, -1},
		{nil, 2, 0, -1}, // producer 1 still open at 0
		{nil, 0, -1, -1},
	} {
		s, _, err := Rebuild(tc.snapshot, 0, tc.end, l.reader(tc.end))
		if err != nil {
			t.Fatal(err)
		}
		checkOngoing(t, s)
		// A high watermark at the end: markers below it are decided.
		if got := s.FirstUnstableOffset(tc.end); got != tc.want {
			t.Errorf("end %d, snapshot %t: first unstable offset %d, want %d", tc.end, tc.snapshot != nil, got, tc.want)
		}
		coord := int32(-1)
		for _, e := range s.Producers() {
			if e.ProducerID == 2 {
				coord = e.CoordinatorEpoch
			}
		}
		if tc.end == next && coord != tc.wantCoord2 && tc.snapshot == nil {
			t.Errorf("producer 2's coordinator epoch %d, want %d", coord, tc.wantCoord2)
		}
	}
}

func TestDecodeMarker(t *testing.T) {
	for _, m := range []Marker{{Commit: true, CoordinatorEpoch: 5}, {CoordinatorEpoch: -1}} {
		b := batch.Build(batch.BuildOptions{ProducerID: 1, Control: true, Transactional: true}, []batch.Record{MarkerRecord(m)})
		got, err := DecodeMarker(b)
		if err != nil || got != m {
			t.Errorf("DecodeMarker = %+v, %v; want %+v", got, err, m)
		}
	}
	for _, recs := range [][]batch.Record{
		nil,
		{{Key: []byte{0, 0, 0, 2}, Value: []byte{0, 0, 0, 0, 0, 0}}}, // type 2
		{{Key: []byte{0, 1, 0, 0}, Value: []byte{0, 0, 0, 0, 0, 0}}}, // key version 1
		{{Key: []byte{0, 0, 0, 1}, Value: []byte{0, 0, 0}}},          // short value
		{{Key: []byte{0, 0, 0, 1}, Value: []byte{0, 0, 0, 0, 0, 0}}, {Key: []byte{0, 0, 0, 1}, Value: []byte{0, 0, 0, 0, 0, 0}}},
	} {
		b := batch.Build(batch.BuildOptions{ProducerID: 1, Control: true}, recs)
		if _, err := DecodeMarker(b); !errors.Is(err, ErrBadMarker) {
			t.Errorf("records %v: err %v, want ErrBadMarker", recs, err)
		}
	}
}

// FuzzDecodeMarker: control batches off the log never panic the decoder.
func FuzzDecodeMarker(f *testing.F) {
	f.Add(batch.Build(batch.BuildOptions{ProducerID: 1, Control: true}, []batch.Record{MarkerRecord(Marker{Commit: true, CoordinatorEpoch: 2})}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMarker(b)
		if err == nil {
			again, err := DecodeMarker(batch.Build(batch.BuildOptions{ProducerID: 1, Control: true}, []batch.Record{MarkerRecord(m)}))
			if err != nil || again != m {
				t.Fatalf("re-encoded %+v decodes as %+v, %v", m, again, err)
			}
		}
	})
}
