package quorum

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/segment"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// populated returns a quorum directory with a few committed records, closed.
func populated(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	c := open(t, dir)
	register(t, c, 1)
	if _, err := c.CreateTopic(ctx(t), "t", 2, 1, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// appendEntries writes entries straight into dir's raft log after its last
// one, as a broker without the record-size check did.
func appendEntries(t *testing.T, dir string, data ...[]byte) {
	t.Helper()
	meta := &metadb.BoltMetaDB{}
	defer meta.Close()
	w, err := wal.Open(filepath.Join(dir, "wal"), wal.WithMetaStore(meta), wal.WithSegmentSize(walSegmentSize))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	last, _ := w.LastIndex()
	var prev raft.Log
	if err := w.GetLog(last, &prev); err != nil {
		t.Fatal(err)
	}
	for i, d := range data {
		l := &raft.Log{Index: last + 1 + uint64(i), Term: prev.Term, Type: raft.LogCommand, Data: d}
		if err := w.StoreLogs([]*raft.Log{l}); err != nil {
			t.Fatal(err)
		}
	}
}

func record(t *testing.T, r metadata.Record) []byte {
	t.Helper()
	b, err := metadata.EncodeRecord(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantDamaged opens dir and wants an error that names the log directory and
// says what is wrong, not a panic and not a quorum that started.
func wantDamaged(t *testing.T, dir string, what string) {
	t.Helper()
	c, err := openReady(Config{Dir: dir, NodeID: 1})
	if err == nil {
		c.Close()
		t.Fatal("Open of a damaged metadata log succeeded")
	}
	t.Log(err)
	for _, want := range []string{filepath.Join(dir, "wal"), "damaged", what} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestOversizedEntryInLog is issue 9's brick as the disk holds it: a record
// over raft-wal's MaxEntrySize, followed by more log. Raft used to panic in
// NewRaft ("failed to get log") on every start.
func TestOversizedEntryInLog(t *testing.T) {
	dir := populated(t)
	appendEntries(t, dir,
		record(t, metadata.AlterBrokerConfigs{Set: map[string]string{"huge": strings.Repeat("x", segment.MaxEntrySize)}}),
		record(t, metadata.AlterBrokerConfigs{Set: map[string]string{"after": "1"}}))
	wantDamaged(t, dir, "larger than MaxEntrySize")
}

// TestOversizedLastEntry: the same with the oversized record last.
func TestOversizedLastEntry(t *testing.T) {
	dir := populated(t)
	appendEntries(t, dir, record(t, metadata.AlterBrokerConfigs{Set: map[string]string{"huge": strings.Repeat("x", segment.MaxEntrySize)}}))
	wantDamaged(t, dir, "larger than MaxEntrySize")
}

// TestUndecodableEntry: an entry whose bytes are no metadata record (a
// flipped byte in a sealed segment is read back without a checksum) must
// stop the start, not be skipped as if it had never been committed.
func TestUndecodableEntry(t *testing.T) {
	dir := populated(t)
	appendEntries(t, dir, []byte("\x03{not json"))
	wantDamaged(t, dir, "corrupt record")
}

// TestTruncatedSealedSegment cuts a sealed segment short.
func TestTruncatedSealedSegment(t *testing.T) {
	dir := populated(t)
	// Fill the first segment so that it is sealed and a second one starts.
	big := record(t, metadata.AlterBrokerConfigs{Set: map[string]string{"big": strings.Repeat("x", walSegmentSize)}})
	appendEntries(t, dir, big, record(t, metadata.AlterBrokerConfigs{Set: map[string]string{"after": "1"}}))
	segs, _ := filepath.Glob(filepath.Join(dir, "wal", "*.wal"))
	if len(segs) < 2 {
		t.Fatalf("segments %v, want a sealed one and a tail", segs)
	}
	if err := os.Truncate(segs[0], 1000); err != nil {
		t.Fatal(err)
	}
	wantDamaged(t, dir, "")
}

// TestGarbageMetaDB overwrites raft-wal's segment list (a bolt file) with
// garbage past its header pages.
func TestGarbageMetaDB(t *testing.T) {
	dir := populated(t)
	f, err := os.OpenFile(filepath.Join(dir, "wal", metadb.FileName), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(strings.Repeat("\xff", 4096*4)), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	wantDamaged(t, dir, "")
}

// BenchmarkCheckLog reads back a log of the most entries raft keeps
// (SnapshotThreshold + TrailingLogs = 2048) of one-partition topics.
func BenchmarkCheckLog(b *testing.B) {
	dir := b.TempDir()
	meta := &metadb.BoltMetaDB{}
	defer meta.Close()
	w, err := wal.Open(dir, wal.WithMetaStore(meta), wal.WithSegmentSize(walSegmentSize))
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	var logs []*raft.Log
	for i := range 2048 {
		id := metadata.NewTopicID()
		data, _ := metadata.EncodeRecord(metadata.CreateTopic{Name: fmt.Sprintf("topic-%d", i), ID: id, Partitions: place([]metadata.Broker{{ID: 1}}, id, 0, 1, 1)})
		logs = append(logs, &raft.Log{Index: uint64(i + 1), Term: 1, Type: raft.LogCommand, Data: data})
	}
	if err := w.StoreLogs(logs); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := checkLog(w); err != nil {
			b.Fatal(err)
		}
	}
}
