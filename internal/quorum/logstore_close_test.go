package quorum

import (
	"log/slog"
	"testing"

	walfs "github.com/hashicorp/raft-wal/fs"
	"github.com/hashicorp/raft-wal/metadb"
)

// TestStableWriteAfterClose: a transport handler raft.Shutdown did not wait
// for may save a term after the controller closed the log; raft panics if
// that fails, so it is dropped: the term saved before the close is the one
// the next start reads.
func TestStableWriteAfterClose(t *testing.T) {
	dir := t.TempDir()
	quiet := slog.New(slog.DiscardHandler)
	key := []byte("CurrentTerm")
	for life := range 2 {
		meta := &metadb.BoltMetaDB{}
		s, err := openLogStore(dir, walfs.New(), meta, newHCLogger(quiet), quiet)
		if err != nil {
			t.Fatal(err)
		}
		if life == 0 {
			if err := s.SetUint64(key, 7); err != nil {
				t.Fatal(err)
			}
		} else if got, err := s.GetUint64(key); err != nil || got != 7 {
			t.Fatalf("term after the restart: %d, %v; want 7", got, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.SetUint64(key, 8); err != nil {
			t.Fatalf("SetUint64 after Close: %v, want it dropped", err)
		}
		if err := s.Set(key, []byte("x")); err != nil {
			t.Fatalf("Set after Close: %v, want it dropped", err)
		}
		if err := meta.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
