package partition

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// TestRoles drives one replica through its roles: a leader alone has its
// high watermark at the log end after each append; as a follower it
// refuses produces and consumer reads with NOT_LEADER_OR_FOLLOWER; stale
// leader and partition epochs are refused and change nothing; leading
// again stamps batches with the new epoch.
func TestRoles(t *testing.T) {
	m, cfg := testManager(t, vfs.NewMem(), "/data", nil)
	defer m.Close()
	p, err := OpenReplica(m, "t", 0, [16]byte{7}, cfg, Options{NodeID: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	one := func() []byte { return batch.Build(batch.BuildOptions{ProducerID: -1, BaseSequence: -1}, records(2, 5)) }

	if p.Role() != RoleNone {
		t.Fatalf("role after open: %v", p.Role())
	}
	if r := p.Append(one()); r.ErrorCode != kerr.NotLeaderForPartition.Code {
		t.Fatalf("append with no role: %+v", r)
	}
	if err := p.BecomeLeader(3, 1, []int32{1}, []int32{1}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if r := p.AppendAcks(one(), -1); r.ErrorCode != 0 || r.BaseOffset != int64(2*i) {
			t.Fatalf("append %d as leader: %+v", i, r)
		}
		if hw := p.HighWatermark(); hw != int64(2*i+2) {
			t.Fatalf("high watermark %d after append %d, want the log end %d", hw, i, 2*i+2)
		}
	}
	if _, err := p.Read(0, 1<<20); err != nil {
		t.Fatalf("leader read: %v", err)
	}

	if err := p.BecomeFollower(4, 2, 2, []int32{1, 2}); err != nil {
		t.Fatal(err)
	}
	if p.Role() != RoleFollower || p.LeaderEpoch() != 4 {
		t.Fatalf("after become-follower: role %v epoch %d", p.Role(), p.LeaderEpoch())
	}
	if r := p.Append(one()); r.ErrorCode != kerr.NotLeaderForPartition.Code || p.LogEndOffset() != 6 {
		t.Fatalf("append as follower: %+v, log end %d", r, p.LogEndOffset())
	}
	if _, err := p.Read(0, 1<<20); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("consumer read of a follower: %v", err)
	}
	if _, err := p.ReadRegion(0, 1<<20); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("consumer region read of a follower: %v", err)
	}

	if err := p.BecomeLeader(3, 5, []int32{1, 2}, []int32{1, 2}); !errors.Is(err, ErrStaleEpoch) {
		t.Fatalf("older leader epoch: %v", err)
	}
	if err := p.BecomeLeader(5, 1, []int32{1, 2}, []int32{1, 2}); !errors.Is(err, ErrStaleEpoch) {
		t.Fatalf("older partition epoch: %v", err)
	}
	if p.Role() != RoleFollower || p.LeaderEpoch() != 4 {
		t.Fatalf("a stale change changed the role: %v epoch %d", p.Role(), p.LeaderEpoch())
	}

	if err := p.BecomeLeader(5, 3, []int32{1, 2}, []int32{1}); err != nil {
		t.Fatal(err)
	}
	r := p.Append(one())
	if r.ErrorCode != 0 || r.BaseOffset != 6 {
		t.Fatalf("append as the new leader: %+v", r)
	}
	b, err := p.Read(6, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if h, err := batch.ParseHeader(b); err != nil || h.PartitionLeaderEpoch != 5 {
		t.Fatalf("batch of the new leader: epoch %d, %v", h.PartitionLeaderEpoch, err)
	}
	if got := p.replica.Epochs().Entries(); len(got) != 2 || got[0] != (EpochEntry{3, 0}) || got[1] != (EpochEntry{5, 6}) {
		t.Fatalf("epoch cache %v", got)
	}
	// OffsetForLeaderEpoch: an old epoch ends where the next began, the
	// current one at the log end, a newer one is unknown.
	for epoch, want := range map[int32][2]int64{3: {3, 6}, 4: {3, 6}, 5: {5, 8}, 6: {-1, -1}} {
		if e, end := p.EndOffsetForEpoch(epoch); int64(e) != want[0] || end != want[1] {
			t.Errorf("end offset for epoch %d: (%d, %d), want %v", epoch, e, end, want)
		}
	}
}
