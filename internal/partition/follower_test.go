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
