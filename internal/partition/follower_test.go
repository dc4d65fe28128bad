package partition

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/storage"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// TestTruncateTo: a follower whose log diverged truncates it; the epoch
// cache (and its checkpoint) and the high watermark follow, and the
// producer state is rebuilt, so the retry of a batch truncated away is
// appended again rather than taken for a duplicate. A leader refuses.
func TestTruncateTo(t *testing.T) {
	fs := vfs.NewMem()
	m, cfg := testManager(t, fs, "/data", nil)
	p, err := OpenReplica(m, "t", 0, [16]byte{7}, cfg, Options{NodeID: 1})
	if err != nil {
		t.Fatal(err)
	}
	build := func(seq int32) []byte {
		return batch.Build(batch.BuildOptions{ProducerID: 9, ProducerEpoch: 0, BaseSequence: seq}, records(3, 5))
	}
	if err := p.BecomeLeader(1, 1, []int32{1}, []int32{1}); err != nil {
		t.Fatal(err)
	}
	p.Append(build(0))
	p.Append(build(3))
	if err := p.BecomeLeader(2, 2, []int32{1}, []int32{1}); err != nil {
		t.Fatal(err)
	}
	if r := p.Append(build(6)); r.ErrorCode != 0 || r.BaseOffset != 6 || p.HighWatermark() != 9 {
		t.Fatalf("third append %+v, high watermark %d", r, p.HighWatermark())
	}
	if err := p.TruncateTo(3); !errors.Is(err, ErrLeaderTruncate) {
		t.Fatalf("leader truncation: %v", err)
	}
	if err := p.BecomeFollower(3, 3, 2, []int32{1, 2}); err != nil {
		t.Fatal(err)
	}
	if err := p.TruncateTo(3); err != nil {
		t.Fatal(err)
	}
	if p.LogEndOffset() != 3 || p.HighWatermark() != 3 {
		t.Fatalf("after truncation: log end %d, high watermark %d", p.LogEndOffset(), p.HighWatermark())
	}
	if got := p.replica.Epochs().Entries(); !reflect.DeepEqual(got, []EpochEntry{{1, 0}}) {
		t.Fatalf("epoch cache %v", got)
	}
	if err := p.BecomeLeader(4, 4, []int32{1}, []int32{1}); err != nil {
		t.Fatal(err)
	}
	if r := p.Append(build(3)); r.ErrorCode != 0 || r.BaseOffset != 3 || p.LogEndOffset() != 6 {
		t.Fatalf("retry of a batch truncated away: %+v, log end %d; want it appended at 3", r, p.LogEndOffset())
	}
	if r := p.Append(build(0)); r.ErrorCode != 0 || r.BaseOffset != 0 || p.LogEndOffset() != 6 {
		t.Fatalf("retry of a batch kept: %+v, want the duplicate at 0", r)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	m.Close()

	m, cfg = testManager(t, fs, "/data", nil)
	defer m.Close()
	p, err = OpenReplica(m, "t", 0, [16]byte{7}, cfg, Options{NodeID: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if got := p.replica.Epochs().Entries(); !reflect.DeepEqual(got, []EpochEntry{{1, 0}, {4, 3}}) {
		t.Fatalf("epoch cache after reopen %v", got)
	}
}

// TestAppendAsFollower: a follower stores the leader's batches as they are
// (same bytes, offsets and epochs), its epoch cache and producer state
// follow them, its high watermark is the leader's bounded by its own log
// end, and as a later leader it deduplicates a retry of a batch it only
// copied. Appends out of order, of corrupt bytes or on a leader are
// refused and change nothing.
func TestAppendAsFollower(t *testing.T) {
	fs := vfs.NewMem()
	m, cfg := testManager(t, fs, "/data", nil)
	defer m.Close()
	leader, err := OpenReplica(m, "t", 0, [16]byte{7}, cfg, Options{NodeID: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer leader.Close()
	fm, fcfg := testManager(t, fs, "/follower", nil)
	defer fm.Close()
	f, err := OpenReplica(fm, "t", 0, [16]byte{7}, fcfg, Options{NodeID: 2})
	if err != nil {
		t.Fatal(err)
	}
	build := func(seq int32) []byte {
		return batch.Build(batch.BuildOptions{ProducerID: 9, ProducerEpoch: 0, BaseSequence: seq}, records(3, 5))
	}
	if err := leader.BecomeLeader(1, 1, []int32{1, 2}, []int32{1}); err != nil {
		t.Fatal(err)
	}
	leader.Append(build(0))
	leader.Append(batch.Build(batch.BuildOptions{ProducerID: -1}, records(2, 5)))
	if err := leader.BecomeLeader(2, 2, []int32{1, 2}, []int32{1}); err != nil {
		t.Fatal(err)
	}
	leader.Append(build(3))
	end := leader.LogEndOffset()
	fetched, err := leader.log.Read(0, 1<<20, end)
	if err != nil || end != 8 {
		t.Fatalf("leader log end %d, read %v", end, err)
	}

	if err := f.AppendAsFollower(fetched); !errors.Is(err, ErrNotFollower) {
		t.Fatalf("append with no role: %v", err)
	}
	if err := f.BecomeFollower(2, 2, 1, []int32{1, 2}); err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(fetched)
	bad[len(bad)-1] ^= 1
	if err := f.AppendAsFollower(bad); !errors.Is(err, batch.ErrCorrupt) || f.LogEndOffset() != 0 {
		t.Fatalf("corrupt append: %v, log end %d", err, f.LogEndOffset())
	}
	w := NewWaiter()
	f.Watch(w)
	if err := f.AppendAsFollower(fetched); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w:
	default:
		t.Fatal("the append woke no waiter")
	}
	got, err := f.log.Read(0, 1<<20, f.LogEndOffset())
	if err != nil || !bytes.Equal(got, fetched) || f.LogEndOffset() != 8 {
		t.Fatalf("follower log end %d, read %v: the leader's bytes not kept as they are", f.LogEndOffset(), err)
	}
	if want := []EpochEntry{{1, 0}, {2, 5}}; !reflect.DeepEqual(f.replica.Epochs().Entries(), want) ||
		!reflect.DeepEqual(leader.replica.Epochs().Entries(), want) {
		t.Fatalf("epoch caches: follower %v, leader %v, want %v", f.replica.Epochs().Entries(), leader.replica.Epochs().Entries(), want)
	}
	if !reflect.DeepEqual(f.Producers(), leader.Producers()) || len(f.Producers()) != 1 {
		t.Fatalf("producer state: follower %+v, leader %+v", f.Producers(), leader.Producers())
	}
	if err := f.AppendAsFollower(fetched[:len(fetched)/2+1]); err == nil {
		t.Fatal("a cut batch was appended")
	}
	if err := f.AppendAsFollower(fetched); !errors.Is(err, storage.ErrOffsetOrder) || f.LogEndOffset() != 8 {
		t.Fatalf("append of what the log has: %v, log end %d", err, f.LogEndOffset())
	}
	if f.HighWatermark() != 0 {
		t.Fatalf("high watermark %d before the leader's", f.HighWatermark())
	}
	f.SetLeaderHighWatermark(5)
	if f.HighWatermark() != 5 {
		t.Fatalf("high watermark %d, want the leader's 5", f.HighWatermark())
	}
	f.SetLeaderHighWatermark(100)
	if f.HighWatermark() != 8 {
		t.Fatalf("high watermark %d, want the log end 8", f.HighWatermark())
	}

	// Leading in epoch 3, the follower's copied producer state deduplicates.
	if err := f.BecomeLeader(3, 3, []int32{1, 2}, []int32{2}); err != nil {
		t.Fatal(err)
	}
	if err := f.AppendAsFollower(fetched); !errors.Is(err, ErrNotFollower) {
		t.Fatalf("append on a leader: %v", err)
	}
	if r := f.Append(build(3)); r.ErrorCode != 0 || r.BaseOffset != 5 || f.LogEndOffset() != 8 {
		t.Fatalf("retry of a copied batch: %+v, log end %d; want the duplicate at 5", r, f.LogEndOffset())
	}
	if r := f.Append(build(6)); r.ErrorCode != 0 || r.BaseOffset != 8 {
		t.Fatalf("next batch: %+v", r)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	fm.Close()
	fm, fcfg = testManager(t, fs, "/follower", nil)
	defer fm.Close()
	f, err = OpenReplica(fm, "t", 0, [16]byte{7}, fcfg, Options{NodeID: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if want := []EpochEntry{{1, 0}, {2, 5}, {3, 8}}; !reflect.DeepEqual(f.replica.Epochs().Entries(), want) {
		t.Fatalf("epoch cache after reopen %v, want %v", f.replica.Epochs().Entries(), want)
	}
}

// TestTruncateFullyAndStartAt: a follower whose log end is below the
// leader's log start empties its log and starts at the leader's log start,
// here inside a batch (DeleteRecords is not batch aligned): the leader's
// batch holding it makes the log start at the batch, and the leader's log
// start then moves it up. It then holds exactly the leader's batches from
// there (same bytes and epochs), no producer of the records it dropped,
// and after a reopen the same log start, epochs and producer state. A
// leader refuses.
func TestTruncateFullyAndStartAt(t *testing.T) {
	fs := vfs.NewMem()
	leader, f, build := leaderAndFollower(t, fs)
	for seq := int32(0); seq < 12; seq += 3 {
		leader.Append(build(9, seq))
	}
	leader.Append(build(10, 0)) // [12,15)
	if err := leader.BecomeLeader(2, 2, []int32{1, 2}, []int32{1}); err != nil {
		t.Fatal(err)
	}
	leader.Append(build(9, 12)) // [15,18), epoch 2
	old, err := leader.log.Read(0, 1<<20, 6)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.AppendAsFollower(old); err != nil || f.LogEndOffset() != 6 {
		t.Fatalf("follower append: %v, log end %d", err, f.LogEndOffset())
	}
	f.SetLeaderHighWatermark(6)
	if start, code := leader.DeleteRecords(16); code != 0 || start != 16 {
		t.Fatalf("DeleteRecords: %d %d", start, code)
	}

	if err := leader.TruncateFullyAndStartAt(16); !errors.Is(err, ErrLeaderTruncate) || leader.LogStartOffset() != 16 || leader.LogEndOffset() != 18 {
		t.Fatalf("leader's full truncation: %v, log [%d,%d)", err, leader.LogStartOffset(), leader.LogEndOffset())
	}
	if err := f.TruncateFullyAndStartAt(16); err != nil {
		t.Fatal(err)
	}
	if f.LogStartOffset() != 16 || f.LogEndOffset() != 16 || f.HighWatermark() != 16 ||
		len(f.replica.Epochs().Entries()) != 0 || len(f.Producers()) != 0 {
		t.Fatalf("after the full truncation: log [%d,%d) hw %d, epochs %v, producers %+v",
			f.LogStartOffset(), f.LogEndOffset(), f.HighWatermark(), f.replica.Epochs().Entries(), f.Producers())
	}
	if _, err := f.log.Read(0, 1<<20, f.LogEndOffset()); !errors.Is(err, storage.ErrOffsetOutOfRange) {
		t.Fatalf("read below the new log start: %v", err)
	}
	rest, err := leader.log.Read(16, 1<<20, 18) // the batch [15,18)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.AppendAsFollower(rest); err != nil {
		t.Fatal(err)
	}
	if f.LogStartOffset() != 15 || f.LogEndOffset() != 18 {
		t.Fatalf("after the append of the batch holding the leader's log start: log [%d,%d), want [15,18)", f.LogStartOffset(), f.LogEndOffset())
	}
	f.SetLeaderHighWatermark(18)
	if err := f.SetLeaderLogStartOffset(16); err != nil {
		t.Fatal(err)
	}
	check := func(when string, f *Partition) {
		t.Helper()
		got, err := f.log.Read(16, 1<<20, f.LogEndOffset())
		if err != nil || !bytes.Equal(got, rest) || f.LogStartOffset() != 16 || f.LogEndOffset() != 18 {
			t.Fatalf("%s: log [%d,%d), read %v: not the leader's batches from 16", when, f.LogStartOffset(), f.LogEndOffset(), err)
		}
		if want := []EpochEntry{{2, 16}}; !reflect.DeepEqual(f.replica.Epochs().Entries(), want) ||
			!reflect.DeepEqual(leader.replica.Epochs().Entries(), want) {
			t.Fatalf("%s: epochs: follower %v, leader %v, want %v", when, f.replica.Epochs().Entries(), leader.replica.Epochs().Entries(), want)
		}
		if got := f.Producers(); !reflect.DeepEqual(got, leader.Producers()) || len(got) != 1 || got[0].ProducerID != 9 {
			t.Fatalf("%s: producers: follower %+v, leader %+v", when, got, leader.Producers())
		}
	}
	check("after the fetch", f)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	fm, fcfg := testManager(t, fs, "/follower", nil)
	defer fm.Close()
	f, err = OpenReplica(fm, "t", 0, [16]byte{7}, fcfg, Options{NodeID: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	check("after a reopen", f)
}

// TestSetLeaderLogStartOffset: a follower's log start follows the leader's
// up to its own high watermark, and no further until that moves; records
// below it are gone, and so is a producer whose batches all were. A leader
// takes no other leader's log start.
func TestSetLeaderLogStartOffset(t *testing.T) {
	leader, f, build := leaderAndFollower(t, vfs.NewMem())
	leader.Append(build(10, 0)) // [0,3)
	for seq := int32(0); seq < 9; seq += 3 {
		leader.Append(build(9, seq)) // [3,12)
	}
	all, err := leader.log.Read(0, 1<<20, 12)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.AppendAsFollower(all); err != nil {
		t.Fatal(err)
	}
	f.SetLeaderHighWatermark(6)
	if err := f.SetLeaderLogStartOffset(9); err != nil || f.LogStartOffset() != 6 {
		t.Fatalf("log start %d (%v), want the high watermark 6", f.LogStartOffset(), err)
	}
	if got := f.Producers(); len(got) != 1 || got[0].ProducerID != 9 {
		t.Fatalf("producers %+v, want only 9 (10's batch is gone)", got)
	}
	f.SetLeaderHighWatermark(12)
	if err := f.SetLeaderLogStartOffset(9); err != nil || f.LogStartOffset() != 9 {
		t.Fatalf("log start %d (%v), want the leader's 9", f.LogStartOffset(), err)
	}
	if err := f.SetLeaderLogStartOffset(3); err != nil || f.LogStartOffset() != 9 {
		t.Fatalf("log start %d (%v) after an older leader log start", f.LogStartOffset(), err)
	}
	if _, err := f.log.Read(6, 1<<20, f.LogEndOffset()); !errors.Is(err, storage.ErrOffsetOutOfRange) {
		t.Fatalf("read below the log start: %v", err)
	}
	if err := leader.SetLeaderLogStartOffset(9); err != nil || leader.LogStartOffset() != 0 {
		t.Fatalf("leader's log start %d (%v)", leader.LogStartOffset(), err)
	}
}

// leaderAndFollower opens replica 1, leading epoch 1 alone in the ISR, and
// replica 2 following it, and returns a builder of 3-record idempotent
// batches.
func leaderAndFollower(t *testing.T, fs vfs.FS) (leader, follower *Partition, build func(pid int64, seq int32) []byte) {
	t.Helper()
	m, cfg := testManager(t, fs, "/data", nil)
	t.Cleanup(func() { m.Close() })
	leader, err := OpenReplica(m, "t", 0, [16]byte{7}, cfg, Options{NodeID: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { leader.Close() })
	fm, fcfg := testManager(t, fs, "/follower", nil)
	t.Cleanup(func() { fm.Close() })
	follower, err = OpenReplica(fm, "t", 0, [16]byte{7}, fcfg, Options{NodeID: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { follower.Close() })
	if err := leader.BecomeLeader(1, 1, []int32{1, 2}, []int32{1}); err != nil {
		t.Fatal(err)
	}
	if err := follower.BecomeFollower(1, 1, 1, []int32{1, 2}); err != nil {
		t.Fatal(err)
	}
	build = func(pid int64, seq int32) []byte {
		return batch.Build(batch.BuildOptions{ProducerID: pid, ProducerEpoch: 0, BaseSequence: seq}, records(3, 5))
	}
	return leader, follower, build
}
