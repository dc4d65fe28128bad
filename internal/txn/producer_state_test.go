package txn

import (
	"reflect"
	"testing"

	"github.com/samsa-streaming/samsa/internal/batch"
)

// scriptHeader is the header of a produced batch of count records.
func scriptHeader(pid int64, epoch int16, seq, count int32, ts int64) batch.Header {
	return batch.Header{
		Magic: 2, ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq,
		LastOffsetDelta: count - 1, NumRecords: count, BaseTimestamp: ts, MaxTimestamp: ts,
	}
}

// TestReplay appends real batches to a log, then rebuilds the state from the
// log alone, and from a snapshot plus (all of, or the tail of) the log.
func TestReplay(t *testing.T) {
	live := NewProducerState()
	var log []byte
	var next int64
	var snap []byte
	for i := range 40 {
		pid := int64(i % 3)
		// Producer 2 is transactional; every producer bumps its epoch at batch 20.
		o := batch.BuildOptions{ProducerID: pid, ProducerEpoch: int16(i / 20), BaseSequence: -1, Transactional: pid == 2}
		// Sequences continue from the producer's last in this epoch.
		for _, e := range live.Producers() {
			if e.ProducerID == pid && e.ProducerEpoch == o.ProducerEpoch {
				o.BaseSequence = e.LastSequence
			}
		}
		o.BaseSequence++
		recs := make([]batch.Record, 1+i%3)
		for j := range recs {
			recs[j] = batch.Record{Timestamp: int64(1000 + i), Value: []byte("v")}
		}
		b := batch.Build(o, recs)
		h, _ := batch.ParseHeader(b)
		if res := live.Check(h); res.ErrorCode != 0 || res.Duplicate {
			t.Fatalf("batch %d: %+v", i, res)
		}
		batch.SetBaseOffset(b, next)
		live.Update(h, next)
		log = append(log, b...)
		next += int64(len(recs))
		if i == 25 {
			snap = live.MarshalSnapshot(next)
		}
	}
	replay := func(s *ProducerState, from int64) {
		if err := batch.Iterate(log, func(h batch.Header, _ []byte) bool {
			if h.BaseOffset >= from {
				s.Update(h, h.BaseOffset)
			}
			return true
		}); err != nil {
			t.Fatal(err)
		}
	}
	want := live.MarshalSnapshot(next)

	fromLog := NewProducerState()
	replay(fromLog, 0)
	if got := fromLog.MarshalSnapshot(next); string(got) != string(want) {
		t.Fatalf("replayed log differs:\n%+v\n%+v", fromLog.Producers(), live.Producers())
	}
	for _, from := range []string{"tail", "whole log"} {
		s, off, err := UnmarshalSnapshot(snap)
		if err != nil {
			t.Fatal(err)
		}
		if from == "whole log" {
			off = 0 // replaying batches the snapshot already holds is harmless
		}
		replay(s, off)
		if got := s.MarshalSnapshot(next); string(got) != string(want) {
			t.Fatalf("snapshot + %s differs:\n%+v\n%+v", from, s.Producers(), live.Producers())
		}
	}
	if !reflect.DeepEqual(fromLog.Producers(), live.Producers()) {
		t.Fatal("Producers differ")
	}
}

func TestUnmarshalSnapshotRejectsCorruption(t *testing.T) {
	s := NewProducerState()
	for pid := range int64(3) {
		for seq := range int32(7) {
			s.Update(scriptHeader(pid, 0, seq, 1, 5), pid*100+int64(seq))
		}
	}
	good := s.MarshalSnapshot(321)
	if _, off, err := UnmarshalSnapshot(good); err != nil || off != 321 {
		t.Fatalf("good snapshot: %v %d", err, off)
	}
	for i := range good {
		b := []byte(string(good))
		b[i] ^= 0x40
		if _, _, err := UnmarshalSnapshot(b); err == nil {
			t.Fatalf("flipped byte %d accepted", i)
		}
	}
	for n := range len(good) {
		if _, _, err := UnmarshalSnapshot(good[:n]); err == nil {
			t.Fatalf("truncated to %d accepted", n)
		}
	}
	empty := NewProducerState().MarshalSnapshot(0)
	if st, off, err := UnmarshalSnapshot(empty); err != nil || off != 0 || st.Len() != 0 {
		t.Fatalf("empty: %v", err)
	}
}

func FuzzUnmarshalSnapshot(f *testing.F) {
	s := NewProducerState()
	s.Update(scriptHeader(1, 0, 0, 3, 9), 0)
	s.Update(scriptHeader(2, 1, 4, 1, 9), 3)
	f.Add(s.MarshalSnapshot(4))
	f.Add(NewProducerState().MarshalSnapshot(0))
	f.Add([]byte{0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		st, off, err := UnmarshalSnapshot(b)
		if err != nil {
			return
		}
		checkOngoing(t, st)
		again, off2, err := UnmarshalSnapshot(st.MarshalSnapshot(off))
		if err != nil || off2 != off || !reflect.DeepEqual(again.Producers(), st.Producers()) {
			t.Fatalf("re-marshal: %v", err)
		}
	})
}

func TestLastOffsets(t *testing.T) {
	s := NewProducerState()
	for i, pid := range []int64{3, 3, 9} {
		h := batch.Header{ProducerID: pid, ProducerEpoch: 0, BaseSequence: int32(i), LastOffsetDelta: 1, NumRecords: 2}
		s.Update(h, int64(10*i))
	}
	if got := s.LastOffsets(); len(got) != 2 || got[3] != 11 || got[9] != 21 {
		t.Fatalf("last offsets %v", got)
	}
	s.RemoveExpired(1<<62, 1)
	if got := s.LastOffsets(); len(got) != 0 {
		t.Fatalf("after expiry %v", got)
	}
}

// BenchmarkTransactionalAppend is a partition's producer-state work for one
// transactional batch and its last stable offset, beside 10,000 idempotent
// producers and one other open transaction: it must not walk them all.
func BenchmarkTransactionalAppend(b *testing.B) {
	s := NewProducerState()
	off := int64(0)
	for id := range int64(10_000) {
		s.Update(batch.Header{ProducerID: id, ProducerEpoch: 0, BaseSequence: 0, MaxTimestamp: 1}, off)
		off++
	}
	s.Update(batch.Header{ProducerID: 20_000, BaseSequence: 0, Attributes: batch.AttrTransactional}, off)
	off++
	b.ResetTimer()
	for i := range b.N {
		h := batch.Header{ProducerID: 30_000, BaseSequence: int32(i), Attributes: batch.AttrTransactional}
		s.UpdateBatch(h, nil, off)
		off++
		if s.LastStableOffset(off) != 10_000 {
			b.Fatal("wrong last stable offset")
		}
	}
}
