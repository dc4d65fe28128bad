package partition

import (
	"errors"
	"reflect"
	"testing"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// TestCheckpointFormats: both files are Kafka's text format, read back as
// written, and malformed ones are refused with ErrCorruptCheckpoint.
func TestCheckpointFormats(t *testing.T) {
	entries := []EpochEntry{{0, 0}, {3, 1200}}
	b := EncodeEpochCheckpoint(entries)
	if string(b) != "0\n2\n0 0\n3 1200\n" {
		t.Fatalf("leader-epoch-checkpoint %q", b)
	}
	if got, err := DecodeEpochCheckpoint(b); err != nil || !reflect.DeepEqual(got, entries) {
		t.Fatalf("decoded %v, %v", got, err)
	}
	hws := map[TopicPartition]int64{{"orders", 1}: 1498, {"orders", 0}: 1500, {"a", 7}: 0}
	b = EncodeHighWatermarks(hws)
	if string(b) != "0\n3\na 7 0\norders 0 1500\norders 1 1498\n" {
		t.Fatalf("replication-offset-checkpoint %q", b)
	}
	if got, err := DecodeHighWatermarks(b); err != nil || !reflect.DeepEqual(got, hws) {
		t.Fatalf("decoded %v, %v", got, err)
	}
	if got, err := DecodeEpochCheckpoint([]byte("0\n0\n")); err != nil || len(got) != 0 {
		t.Fatalf("empty checkpoint: %v, %v", got, err)
	}
	for _, bad := range []string{
		"", "0", "0\n", "1\n0\n", "0\n1\n", "0\n2\n1 0\n", "0\n1\n1 0\n2 5\n", "0\n1\n1 0", "0\n-1\n",
		"0\n1\n1  0\n", "0\n1\n1 0 0\n", "0\n1\n-1 0\n", "0\n1\n1 x\n", "0\n2\n3 10\n2 20\n", "0\n2\n1 10\n2 10\n",
	} {
		if _, err := DecodeEpochCheckpoint([]byte(bad)); !errors.Is(err, ErrCorruptCheckpoint) {
			t.Errorf("epoch checkpoint %q: %v", bad, err)
		}
	}
	for _, bad := range []string{"0\n1\nt 0\n", "0\n1\nt -1 5\n", "0\n1\nt 0 -5\n", "0\n1\nt 0 5 1\n"} {
		if _, err := DecodeHighWatermarks([]byte(bad)); !errors.Is(err, ErrCorruptCheckpoint) {
			t.Errorf("high-watermark checkpoint %q: %v", bad, err)
		}
	}
}

// TestCheckpointsAtOpen: the leader-epoch cache survives a restart through
// leader-epoch-checkpoint; a replica opened with a checkpointed high
// watermark starts there (bounded by its log), not at its log end, until
// leading alone moves it to the log end; a corrupt epoch checkpoint keeps
// the partition from opening; the data directory's high watermarks are
// written and read back.
func TestCheckpointsAtOpen(t *testing.T) {
	fs := vfs.NewMem()
	m, cfg := testManager(t, fs, "/data", nil)
	p, err := OpenReplica(m, "t", 0, [16]byte{7}, cfg, Options{NodeID: 1})
	if err != nil {
		t.Fatal(err)
	}
	one := func() []byte { return batch.Build(batch.BuildOptions{ProducerID: -1, BaseSequence: -1}, records(5, 5)) }
	for _, epoch := range []int32{2, 4} {
		if err := p.BecomeLeader(epoch, epoch, []int32{1}, []int32{1}); err != nil {
			t.Fatal(err)
		}
		if r := p.Append(one()); r.ErrorCode != 0 {
			t.Fatalf("append: %+v", r)
		}
	}
	if err := p.BecomeLeader(6, 6, []int32{1}, []int32{1}); err != nil { // no record in epoch 6
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := WriteHighWatermarks(fs, "/data", map[TopicPartition]int64{{"t", 0}: 7}); err != nil {
		t.Fatal(err)
	}
	m.Close()

	m, cfg = testManager(t, fs, "/data", nil)
	defer m.Close()
	hws, err := ReadHighWatermarks(fs, "/data")
	if err != nil || hws[TopicPartition{"t", 0}] != 7 {
		t.Fatalf("high watermarks read back: %v, %v", hws, err)
	}
	p, err = OpenReplica(m, "t", 0, [16]byte{7}, cfg, Options{NodeID: 1, HighWatermark: hws[TopicPartition{"t", 0}]})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.replica.Epochs().Entries(); !reflect.DeepEqual(got, []EpochEntry{{2, 0}, {4, 5}}) {
		t.Fatalf("epoch cache after reopen %v", got)
	}
	if p.HighWatermark() != 7 || p.LogEndOffset() != 10 {
		t.Fatalf("reopened at high watermark %d, log end %d; want 7, 10", p.HighWatermark(), p.LogEndOffset())
	}
	if err := p.BecomeFollower(7, 7, 2, []int32{1, 2}); err != nil || p.HighWatermark() != 7 {
		t.Fatalf("follower: high watermark %d, %v", p.HighWatermark(), err)
	}
	if err := p.BecomeLeader(8, 8, []int32{1}, []int32{1}); err != nil || p.HighWatermark() != 10 {
		t.Fatalf("leader alone: high watermark %d, %v; want the log end", p.HighWatermark(), err)
	}
	p.Close()

	if err := vfs.WriteFileAtomic(fs, "/data/t-0", "/data/t-0/"+EpochCheckpointFile, []byte("0\n1\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenReplica(m, "t", 0, [16]byte{7}, cfg, Options{NodeID: 1}); !errors.Is(err, ErrCorruptCheckpoint) {
		t.Fatalf("open with a corrupt epoch checkpoint: %v", err)
	}
	if hws, err := ReadHighWatermarks(fs, "/nowhere"); err != nil || len(hws) != 0 {
		t.Fatalf("no high-watermark checkpoint: %v, %v", hws, err)
	}
}

func FuzzDecodeEpochCheckpoint(f *testing.F) {
	f.Add([]byte("0\n2\n0 0\n3 1200\n"))
	f.Add([]byte("0\n0\n"))
	f.Add([]byte("0\n1\n2147483648 0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := DecodeEpochCheckpoint(b)
		if err != nil {
			if !errors.Is(err, ErrCorruptCheckpoint) {
				t.Fatalf("error %v is not ErrCorruptCheckpoint", err)
			}
			return
		}
		// What decodes is a cache as Assign keeps it, and encodes back.
		var c EpochCache
		for _, e := range entries {
			c.Assign(e.Epoch, e.StartOffset)
		}
		if !reflect.DeepEqual(c.Entries(), entries) && len(entries) > 0 {
			t.Fatalf("decoded %v, as a cache %v", entries, c.Entries())
		}
		again, err := DecodeEpochCheckpoint(EncodeEpochCheckpoint(entries))
		if err != nil || (len(entries) > 0 && !reflect.DeepEqual(again, entries)) {
			t.Fatalf("round trip of %v: %v, %v", entries, again, err)
		}
	})
}

func FuzzDecodeHighWatermarks(f *testing.F) {
	f.Add([]byte("0\n2\norders 0 1500\norders 1 1498\n"))
	f.Add([]byte("0\n0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		hws, err := DecodeHighWatermarks(b)
		if err != nil {
			if !errors.Is(err, ErrCorruptCheckpoint) {
				t.Fatalf("error %v is not ErrCorruptCheckpoint", err)
			}
			return
		}
		again, err := DecodeHighWatermarks(EncodeHighWatermarks(hws))
		if err != nil || !reflect.DeepEqual(again, hws) {
			t.Fatalf("round trip of %v: %v, %v", hws, again, err)
		}
	})
}
