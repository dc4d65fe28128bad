package partition

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// TestWaitForAcks: an acks=all produce waits for the high watermark — at
// once for a leader alone, until the follower in the ISR has fetched past
// it otherwise — and ends with REQUEST_TIMED_OUT at its timeout or when its
// connection goes, NOT_LEADER_OR_FOLLOWER when leadership moves or the
// partition closes, and NOT_ENOUGH_REPLICAS before the append when the ISR
// is under min.insync.replicas.
func TestWaitForAcks(t *testing.T) {
	m, cfg := testManager(t, vfs.NewMem(), "/data", map[string]string{"min.insync.replicas": "2"})
	defer m.Close()
	p, err := OpenReplica(m, "t", 0, [16]byte{7}, cfg, Options{NodeID: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	one := func() []byte { return batch.Build(batch.BuildOptions{ProducerID: -1, BaseSequence: -1}, records(3, 5)) }
	ctx := context.Background()

	if err := p.BecomeLeader(1, 1, []int32{1}, []int32{1}); err != nil {
		t.Fatal(err)
	}
	r := p.AppendAcks(one(), -1)
	if r.ErrorCode != 0 || r.NextOffset != 3 {
		t.Fatalf("append: %+v", r)
	}
	if code := p.WaitForAcks(ctx, r.NextOffset, 0); code != 0 {
		t.Fatalf("leader alone: %d", code)
	}

	if err := p.BecomeLeader(2, 2, []int32{1, 2}, []int32{1, 2}); err != nil {
		t.Fatal(err)
	}
	r = p.AppendAcks(one(), -1)
	if code := p.WaitForAcks(ctx, r.NextOffset, 50*time.Millisecond); code != kerr.RequestTimedOut.Code {
		t.Fatalf("no follower fetch: %d, want REQUEST_TIMED_OUT", code)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if code := p.WaitForAcks(cctx, r.NextOffset, time.Minute); code != kerr.RequestTimedOut.Code {
		t.Fatalf("connection gone: %d", code)
	}

	result := make(chan int16)
	go func() { result <- p.WaitForAcks(ctx, r.NextOffset, time.Minute) }()
	if _, code := p.FollowerFetch(2, 1, 4, 0); code != 0 {
		t.Fatalf("fetch: %d", code)
	}
	select {
	case code := <-result:
		t.Fatalf("answered %d with the follower below the batch's end", code)
	case <-time.After(20 * time.Millisecond):
	}
	if _, code := p.FollowerFetch(2, 1, 6, 0); code != 0 {
		t.Fatalf("fetch: %d", code)
	}
	if code := <-result; code != 0 || p.HighWatermark() != 6 {
		t.Fatalf("after the follower's fetch: code %d, high watermark %d", code, p.HighWatermark())
	}

	r = p.AppendAcks(one(), -1)
	go func() { result <- p.WaitForAcks(ctx, r.NextOffset, time.Minute) }()
	if err := p.BecomeFollower(3, 3, 2, []int32{1, 2}); err != nil {
		t.Fatal(err)
	}
	if code := <-result; code != kerr.NotLeaderForPartition.Code {
		t.Fatalf("leadership moved: %d", code)
	}

	// ISR of the leader alone under min.insync.replicas=2 of two replicas.
	if err := p.BecomeLeader(4, 4, []int32{1, 2}, []int32{1}); err != nil {
		t.Fatal(err)
	}
	if r := p.AppendAcks(one(), -1); r.ErrorCode != kerr.NotEnoughReplicas.Code {
		t.Fatalf("acks=all under min.insync.replicas: %+v", r)
	}
	r = p.AppendAcks(one(), 1)
	if r.ErrorCode != 0 {
		t.Fatalf("acks=1 under min.insync.replicas: %+v", r)
	}
	go func() { result <- p.WaitForAcks(ctx, r.NextOffset, time.Minute) }()
	p.Close()
	if code := <-result; code != kerr.NotLeaderForPartition.Code {
		t.Fatalf("partition closed: %d", code)
	}
}

// BenchmarkAppendAcks appends 1 KiB batches of 10 records to a leader
// alone with acks=1 and with acks=all (the append and WaitForAcks, as the
// produce handler does): the difference is what waiting on the high
// watermark costs a single node.
func BenchmarkAppendAcks(b *testing.B) {
	for _, acks := range []int16{1, -1} {
		name := map[int16]string{1: "acks=1", -1: "acks=all"}[acks]
		b.Run(name, func(b *testing.B) {
			m, cfg := testManager(b, vfs.NewMem(), "/data", map[string]string{"segment.bytes": "1073741824"})
			defer m.Close()
			p, err := Open(m, "t", 0, [16]byte{7}, 0, cfg, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			proto := batch.Build(batch.BuildOptions{ProducerID: -1, BaseSequence: -1}, records(10, 100))
			buf := make([]byte, len(proto))
			ctx := context.Background()
			b.SetBytes(int64(len(proto)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				copy(buf, proto)
				r := p.AppendAcks(buf, acks)
				if r.ErrorCode != 0 {
					b.Fatal(r.ErrorCode)
				}
				if acks == -1 {
					if code := p.WaitForAcks(ctx, r.NextOffset, time.Second); code != 0 {
						b.Fatal(code)
					}
				}
			}
		})
	}
}
