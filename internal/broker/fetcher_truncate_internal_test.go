package broker

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/replication"
	"github.com/samsa-streaming/samsa/internal/storage"
)

// TestFetcherTruncatesDivergedLog: a replication.Manager on a replica
// given its roles by hand (node 2) follows an in-process broker (node 1)
// over TCP. The replica copied the leader's epoch e0 (offset 0), then led
// epoch e0+1 itself and wrote two records nobody else has; the leader
// moved on in epoch e0+2 from offset 1. Following the leader again, the
// fetcher is told DivergingEpoch (e0, 1), truncates its log to 1 and
// copies the leader's records from there: the logs become the same bytes,
// the epoch cache the leader's, and the high watermark the leader's log
// end once its fetch at the end moved it.
func TestFetcherTruncatesDivergedLog(t *testing.T) {
	b, ctx, cl := startLeader(t)
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte("a")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	img := b.controller.Image()
	e0 := img.Topics["t"].Partitions[0].LeaderEpoch
	b.partitions.follow(moved(img, 1000, "t", 0, func(p *metadata.Partition) {
		p.LeaderEpoch, p.PartitionEpoch = p.LeaderEpoch+2, p.PartitionEpoch+1
		p.Replicas, p.ISR = []int32{1, 2}, []int32{1, 2}
	}), b.followGroups)
	for _, v := range []string{"b", "c", "d"} {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	leader := b.partitions.Get("t", 0)
	leaderLog, err := leader.ReadFor(true, 0, 1<<20)
	if err != nil || leader.LogEndOffset() != 4 {
		t.Fatalf("leader log end %d, read %v", leader.LogEndOffset(), err)
	}

	// Node 2's replica: the leader's first batch, then two records of its own.
	m, err := storage.NewManager(t.TempDir(), storage.Options{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	f, err := partition.OpenReplica(m, "t", 0, leader.TopicID, leader.Config(), partition.Options{NodeID: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	first, _ := batch.ParseHeader(leaderLog)
	if err := f.BecomeFollower(e0, 0, 1, []int32{1, 2}); err != nil {
		t.Fatal(err)
	}
	if err := f.AppendAsFollower(leaderLog[:first.Size()]); err != nil {
		t.Fatal(err)
	}
	if err := f.BecomeLeader(e0+1, 1, []int32{1, 2}, []int32{2}); err != nil {
		t.Fatal(err)
	}
	if r := f.Append(batch.Build(batch.BuildOptions{ProducerID: -1}, []batch.Record{{Value: []byte("x")}, {Value: []byte("y")}})); r.ErrorCode != 0 || r.BaseOffset != 1 {
		t.Fatalf("the replica's own append: %+v", r)
	}
	if err := f.BecomeFollower(e0+2, 2, 1, []int32{1, 2}); err != nil {
		t.Fatal(err)
	}

	fetchers := replication.New(replication.Config{
		NodeID:       2,
		Address:      func(id int32) (string, bool) { return b.Addr(), id == 1 },
		FetchWaitMax: -1, FetchBackoff: -1, // Kafka's defaults
	})
	defer fetchers.Close()
	fetchers.Follow(f, 1)
	deadline := time.Now().Add(20 * time.Second)
	for f.LogEndOffset() != 4 || f.HighWatermark() != 4 {
		if time.Now().After(deadline) {
			t.Fatalf("follower log end %d, high watermark %d; want 4 and 4", f.LogEndOffset(), f.HighWatermark())
		}
		time.Sleep(10 * time.Millisecond)
	}
	fetchers.Unfollow(f)
	if err := f.BecomeLeader(e0+3, 3, []int32{2}, []int32{2}); err != nil { // to read it as the leader does
		t.Fatal(err)
	}
	got, err := f.ReadFor(true, 0, 1<<20)
	if err != nil || !bytes.Equal(got, leaderLog) {
		t.Fatalf("follower's log (%d bytes, %v) differs from the leader's (%d bytes)", len(got), err, len(leaderLog))
	}
	// The cache is the leader's, {e0 0} {e0+2 1}, and the e0+3 just begun.
	if e, end := f.EndOffsetForEpoch(e0 + 1); e != e0 || end != 1 {
		t.Fatalf("the replica's own epoch e0+1 is still in its cache: EndOffsetForEpoch(e0+1) = (%d, %d), want (%d, 1)", e, end, e0)
	}
	if e, end := f.EndOffsetForEpoch(e0 + 2); e != e0+2 || end != 4 {
		t.Fatalf("EndOffsetForEpoch(e0+2) = (%d, %d), want (%d, 4)", e, end, e0+2)
	}
	if fs, _ := leader.Follower(2); fs.LogEndOffset != 4 || !reflect.DeepEqual(leader.ISR(), []int32{1, 2}) {
		t.Fatalf("the leader's view of node 2: %+v, ISR %v", fs, leader.ISR())
	}
}
