package partition

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// TestLeaderOfflineAfterDiskError fails a leader's disk under acks=all:
// the produce waiting for its follower and the one whose write failed are
// both answered KAFKA_STORAGE_ERROR, the follower's next fetch moves no
// high watermark, reads are refused with ErrOffline, and the reopened log
// (the disk fixed) holds what was written before the failure. A full disk
// (a write the log undoes) does the same as a failed fsync.
func TestLeaderOfflineAfterDiskError(t *testing.T) {
	for _, tc := range []struct {
		name string
		arm  func(*vfs.FaultyFS)
	}{
		{"write undone", func(f *vfs.FaultyFS) { f.FailWriteOnce(1, false) }},
		{"disk dead", func(f *vfs.FaultyFS) { f.FailAfterWrites(1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := vfs.NewMem()
			ffs := vfs.NewFaulty(mem)
			m, cfg := testManager(t, ffs, "/data", nil)
			p, err := OpenReplica(m, "t", 0, [16]byte{7}, cfg, Options{NodeID: 1})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.BecomeLeader(1, 1, []int32{1, 2}, []int32{1, 2}); err != nil {
				t.Fatal(err)
			}
			build := func(seq int32) []byte {
				return batch.Build(batch.BuildOptions{ProducerID: 9, ProducerEpoch: 0, BaseSequence: seq}, records(3, 5))
			}
			first := p.AppendAcks(build(0), -1)
			if first.ErrorCode != 0 {
				t.Fatalf("first append: %+v", first)
			}
			if _, code := p.FollowerFetch(2, -1, 3, 0); code != 0 || p.HighWatermark() != 3 {
				t.Fatalf("follower fetch: code %d, high watermark %d", code, p.HighWatermark())
			}
			waiting := p.AppendAcks(build(3), -1)
			if waiting.ErrorCode != 0 {
				t.Fatalf("second append: %+v", waiting)
			}
			answered := make(chan int16)
			go func() { answered <- p.WaitForAcks(context.Background(), waiting.NextOffset, time.Minute) }()

			tc.arm(ffs)
			if r := p.AppendAcks(build(6), -1); r.ErrorCode != kerr.KafkaStorageError.Code {
				t.Fatalf("append on a failing disk: %+v", r)
			}
			select {
			case code := <-answered:
				if code != kerr.KafkaStorageError.Code {
					t.Fatalf("the waiting acks=all produce got %d, want KAFKA_STORAGE_ERROR", code)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the waiting acks=all produce was not answered")
			}
			if !errors.Is(p.Failed(), vfs.ErrInjected) {
				t.Fatalf("Failed: %v", p.Failed())
			}
			ffs.Heal() // the disk works again; the replica stays offline
			if _, code := p.FollowerFetch(2, -1, 6, 0); code != kerr.KafkaStorageError.Code || p.HighWatermark() != 3 {
				t.Fatalf("follower fetch of an offline leader: code %d, high watermark %d", code, p.HighWatermark())
			}
			if code := p.WaitForAcks(context.Background(), waiting.NextOffset, time.Minute); code != kerr.KafkaStorageError.Code {
				t.Fatalf("acks=all wait on an offline replica: %d", code)
			}
			if r := p.AppendAcks(build(6), 1); r.ErrorCode != kerr.KafkaStorageError.Code {
				t.Fatalf("acks=1 append on an offline replica: %+v", r)
			}
			if _, err := p.Read(0, 1<<20); !errors.Is(err, ErrOffline) {
				t.Fatalf("consumer read: %v", err)
			}
			if _, err := p.ReadFor(true, 0, 1<<20); !errors.Is(err, ErrOffline) {
				t.Fatalf("follower read: %v", err)
			}
			if err := p.Close(); err == nil {
				t.Fatal("closing an offline replica succeeded")
			}
			m.BeginShutdown()
			_ = m.Close()

			m, cfg = testManager(t, mem, "/data", nil)
			defer m.Close()
			p, err = OpenReplica(m, "t", 0, [16]byte{7}, cfg, Options{NodeID: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if p.Failed() != nil || p.LogEndOffset() != 6 {
				t.Fatalf("reopened: failed %v, log end %d, want 6", p.Failed(), p.LogEndOffset())
			}
			if err := p.BecomeLeader(2, 2, []int32{1}, []int32{1}); err != nil {
				t.Fatal(err)
			}
			if r := p.AppendAcks(build(6), -1); r.ErrorCode != 0 || r.BaseOffset != 6 {
				t.Fatalf("append after the restart: %+v", r)
			}
		})
	}
}

// TestFollowerOfflineAfterDiskError: a follower whose append of its
// leader's batches fails goes offline, and stays so when the disk works
// again.
func TestFollowerOfflineAfterDiskError(t *testing.T) {
	ffs := vfs.NewFaulty(vfs.NewMem())
	leader, follower, build := leaderAndFollower(t, ffs)
	if r := leader.Append(build(5, 0)); r.ErrorCode != 0 {
		t.Fatal(r)
	}
	b, err := leader.ReadFor(true, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	ffs.FailWriteOnce(1, true)
	if err := follower.AppendAsFollower(b); !errors.Is(err, vfs.ErrInjected) {
		t.Fatalf("follower append on a failing disk: %v", err)
	}
	if err := follower.AppendAsFollower(b); err == nil || !errors.Is(follower.Failed(), vfs.ErrInjected) {
		t.Fatalf("follower append after the failure: %v (failed: %v)", err, follower.Failed())
	}
	if leader.Failed() != nil {
		t.Fatalf("the leader, on the same disk, failed too: %v", leader.Failed())
	}
}
