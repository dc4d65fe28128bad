package quorum

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"

	"github.com/hashicorp/raft"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

var (
	// errDamaged marks a metadata log that cannot be started from.
	errDamaged = errors.New("damaged")
	// errPanicked marks a panic turned into an error by noPanic.
	errPanicked = errors.New("panicked")
)

// damaged returns the error Open gives for a metadata log it cannot start
// from: it names the directory and says what is wrong.
func damaged(walDir string, err error) error {
	return fmt.Errorf("quorum: the metadata log in %s is %w and the node cannot start from it "+
		"(restore the directory from a backup): %w", walDir, errDamaged, err)
}

// checkLog reads back every entry of the log before raft does. Raft panics
// when an entry it needs cannot be read (NewRaft, and the goroutine applying
// the log), where no recover of ours can reach, so a damaged log must be
// found here: an entry raft-wal cannot read (a record over its MaxEntrySize,
// a frame cut short), or a command whose bytes are no metadata record (the
// FSM would skip it and the image would silently miss a committed change).
// The log holds at most SnapshotThreshold + TrailingLogs (2048) entries:
// BenchmarkCheckLog reads that many in about 20 ms.
func checkLog(logs raft.LogStore) error {
	first, err := logs.FirstIndex()
	if err != nil {
		return err
	}
	last, err := logs.LastIndex()
	if err != nil {
		return err
	}
	if last == 0 {
		return nil
	}
	for i := first; i <= last; i++ {
		var l raft.Log
		if err := logs.GetLog(i, &l); err != nil {
			return fmt.Errorf("entry %d (of %d-%d): %w", i, first, last, err)
		}
		if l.Index != i {
			return fmt.Errorf("entry %d (of %d-%d) reads back as entry %d", i, first, last, l.Index)
		}
		if l.Type != raft.LogCommand {
			continue
		}
		if _, err := metadata.DecodeRecord(l.Data); err != nil {
			return fmt.Errorf("entry %d (of %d-%d): %w", i, first, last, err)
		}
	}
	return nil
}

// notDamage reports whether err, from opening the log, says nothing about
// its files (permissions, descriptors, memory); anything else (raft-wal's
// ErrCorrupt, bolt's "invalid database", a file cut short) is damage.
func notDamage(err error) bool {
	return errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EMFILE) ||
		errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.ENOMEM)
}

// noPanic runs fn, turning a panic into an error: raft and raft-wal panic on
// some states of the files they open, and a damaged directory must stop the
// start with an error, not bring the process down.
func noPanic(what string, fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s: %w: %v", what, errPanicked, p)
		}
	}()
	return fn()
}
