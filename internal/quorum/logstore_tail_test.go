package quorum

import (
	"log/slog"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	walfs "github.com/hashicorp/raft-wal/fs"
	"github.com/hashicorp/raft-wal/metadb"
)

// TestLogReopensAfterTailTruncation: a follower whose log has an entry the
// new leader lacks clears that suffix (raft's DeleteRange of the tail),
// which seals the segment in raft-wal; a clean restart must then open the
// log. raft-wal v0.4.0 marked the segment sealed without writing its index
// block, so every start after failed with "sealed segment has no index
// block" (hashicorp/raft-wal#31, fixed in v0.4.1): samsa chaos --seed
// 731260 hit it after a kill -9 of the controller and a rolling restart.
//
// Each life closes its meta store as Controller.Close does: a second bolt
// open of a file this process still holds waits for its lock for ever (as
// the test did on v0.4.0, whose WAL.Close left the store open). The whole
// test runs under a deadline so that any such wait fails it.
func TestLogReopensAfterTailTruncation(t *testing.T) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		reopenAfterTailTruncation(t)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the log did not reopen within 30 s")
	}
}

func reopenAfterTailTruncation(t *testing.T) {
	dir := t.TempDir()
	quiet := slog.New(slog.DiscardHandler)
	open := func() (*logStore, *metadb.BoltMetaDB, bool) {
		meta := &metadb.BoltMetaDB{}
		s, err := openLogStore(dir, walfs.New(), meta, newHCLogger(quiet), quiet)
		if err != nil {
			_ = meta.Close()
			t.Errorf("opening the log: %v", err)
			return nil, nil, false
		}
		return s, meta, true
	}
	closeAll := func(s *logStore, meta *metadb.BoltMetaDB) {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
		if err := meta.Close(); err != nil {
			t.Error(err)
		}
	}
	s, meta, ok := open()
	if !ok {
		return
	}
	var logs []*raft.Log
	for i := uint64(1); i <= 147; i++ {
		logs = append(logs, &raft.Log{Index: i, Term: 1, Type: raft.LogCommand, Data: []byte("entry")})
	}
	err := s.StoreLogs(logs)
	if err == nil {
		err = s.DeleteRange(147, 147)
	}
	if err == nil {
		err = s.StoreLogs([]*raft.Log{{Index: 147, Term: 2, Type: raft.LogCommand, Data: []byte("new leader's")}})
	}
	closeAll(s, meta)
	if err != nil {
		t.Error(err)
		return
	}
	s, meta, ok = open()
	if !ok {
		return
	}
	defer closeAll(s, meta)
	for _, want := range []struct {
		index uint64
		term  uint64
	}{{1, 1}, {146, 1}, {147, 2}} {
		var l raft.Log
		if err := s.GetLog(want.index, &l); err != nil || l.Term != want.term {
			t.Errorf("entry %d after the restart: term %d, %v; want term %d", want.index, l.Term, err, want.term)
			return
		}
	}
}
