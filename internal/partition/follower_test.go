package partition

import (
	"errors"
	"reflect"
	"testing"

	"github.com/samsa-streaming/samsa/internal/batch"
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
