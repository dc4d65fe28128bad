package replication

import (
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/storage"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// follower returns a follower replica whose log holds offsets 0-1 of
// epoch 1, 2-4 of epoch 3 and 5 of epoch 4, high watermark 2.
func follower(t *testing.T) *partition.Partition {
	t.Helper()
	m, err := storage.NewManager("/data", storage.Options{FS: vfs.NewMem()}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	bc, err := config.NewBroker(nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := partition.OpenReplica(m, "t", 0, [16]byte{1}, bc.ResolveTopic(nil, nil), partition.Options{NodeID: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.BecomeFollower(4, 1, 1, []int32{1, 2}); err != nil {
		t.Fatal(err)
	}
	var log []byte
	for _, b := range []struct {
		base  int64
		n     int
		epoch int32
	}{{0, 2, 1}, {2, 3, 3}, {5, 1, 4}} {
		recs := make([]batch.Record, b.n)
		for i := range recs {
			recs[i].Value = []byte("v")
		}
		x := batch.Build(batch.BuildOptions{ProducerID: -1}, recs)
		batch.SetBaseOffset(x, b.base)
		batch.SetPartitionLeaderEpoch(x, b.epoch)
		log = append(log, x...)
	}
	if err := p.AppendAsFollower(log); err != nil {
		t.Fatal(err)
	}
	p.SetLeaderHighWatermark(2)
	return p
}

// TestTruncationOffset: where the follower above truncates for each kind
// of DivergingEpoch, as Kafka's getOffsetTruncationState.
func TestTruncationOffset(t *testing.T) {
	p := follower(t)
	if p.LogEndOffset() != 6 || p.HighWatermark() != 2 {
		t.Fatalf("log end %d, high watermark %d", p.LogEndOffset(), p.HighWatermark())
	}
	for _, tc := range []struct {
		name      string
		epoch     int32
		end, want int64
	}{
		{"leader knows no epoch: the high watermark", -1, -1, 2},
		{"end without epoch: bounded by the log end", -1, 4, 4},
		{"end without epoch above the log end", -1, 9, 6},
		{"same epoch, the leader's end below ours", 3, 3, 3},
		{"same epoch, ours below the leader's", 1, 5, 2},
		{"epoch the follower lacks: its end of the largest below", 2, 4, 2},
		{"epoch above the follower's: the leader's end", 7, 4, 4},
	} {
		if got := truncationOffset(p, tc.epoch, tc.end); got != tc.want {
			t.Errorf("%s: diverging (%d, %d) truncates to %d, want %d", tc.name, tc.epoch, tc.end, got, tc.want)
		}
	}
}

// TestWholeBatches: a fetch cut inside its last batch keeps the whole ones.
func TestWholeBatches(t *testing.T) {
	a := batch.Build(batch.BuildOptions{ProducerID: -1}, []batch.Record{{Value: []byte("a")}})
	b := batch.Build(batch.BuildOptions{ProducerID: -1}, []batch.Record{{Value: []byte("b")}})
	both := append(append([]byte{}, a...), b...)
	for cut, want := range map[int]int{len(both): len(both), len(both) - 1: len(a), len(a) + 3: len(a), len(a): len(a), 10: 0, 0: 0} {
		if got := len(wholeBatches(both[:cut])); got != want {
			t.Errorf("records cut at %d: %d bytes kept, want %d", cut, got, want)
		}
	}
}

// TestResetOffset: where a follower goes on after OFFSET_OUT_OF_RANGE, as
// Kafka's fetchOffsetAndApplyTruncateAndBuild.
func TestResetOffset(t *testing.T) {
	for _, tc := range []struct {
		name                        string
		end, leaderEnd, leaderStart int64
		to                          int64
		full                        bool
	}{
		{"the leader's log start passed the log end: start over there", 10, 50, 30, 30, true},
		{"the leader's log ends below ours (unclean): truncate to it", 40, 25, 0, 25, false},
		{"both: the shorter leader log wins", 40, 25, 30, 25, false},
		{"the range holds the log end again: fetch on", 20, 50, 10, 20, false},
		{"at the leader's log start exactly: fetch on", 30, 50, 30, 30, false},
		{"at the leader's log end exactly: fetch on", 50, 50, 30, 50, false},
	} {
		if to, full := resetOffset(tc.end, tc.leaderEnd, tc.leaderStart); to != tc.to || full != tc.full {
			t.Errorf("%s: log end %d, leader's [%d,%d): (%d, %v), want (%d, %v)", tc.name, tc.end, tc.leaderStart, tc.leaderEnd, to, full, tc.to, tc.full)
		}
	}
}
