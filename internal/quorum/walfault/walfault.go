// Package walfault injects a full disk into raft-wal, the metadata quorum's
// log, for tests: a types.VFS for its segment files and a wrapper of its
// types.MetaStore (the segment list) that fail with ENOSPC on demand.
//
// The package owns no goroutines.
package walfault

import (
	"io/fs"
	"sync/atomic"
	"syscall"

	walfs "github.com/hashicorp/raft-wal/fs"
	"github.com/hashicorp/raft-wal/types"
)

// Disk is raft-wal's filesystem with faults. With Full set every write,
// sync, new segment and segment-list commit fails; NoCreate fails only new
// segments (their preallocation is what needs free space, while the
// preallocated tail still takes writes); NoCommit fails only commits of the
// segment list (a bolt transaction). Reads always work.
type Disk struct {
	types.VFS
	Full, NoCreate, NoCommit atomic.Bool
	failures                 atomic.Int64
}

// New returns a Disk on the operating system's files, injecting nothing yet.
func New() *Disk { return &Disk{VFS: walfs.New()} }

// Failures returns how many operations have failed so far.
func (d *Disk) Failures() int64 { return d.failures.Load() }

func (d *Disk) fail(op, name string) error {
	d.failures.Add(1)
	return &fs.PathError{Op: op, Path: name, Err: syscall.ENOSPC}
}

// Create implements types.VFS.
func (d *Disk) Create(dir, name string, size uint64) (types.WritableFile, error) {
	if d.Full.Load() || d.NoCreate.Load() {
		return nil, d.fail("fallocate", name)
	}
	f, err := d.VFS.Create(dir, name, size)
	if err != nil {
		return nil, err
	}
	return &file{f, d, name}, nil
}

// OpenWriter implements types.VFS.
func (d *Disk) OpenWriter(dir, name string) (types.WritableFile, error) {
	f, err := d.VFS.OpenWriter(dir, name)
	if err != nil {
		return nil, err
	}
	return &file{f, d, name}, nil
}

type file struct {
	types.WritableFile
	d    *Disk
	name string
}

func (f *file) WriteAt(p []byte, off int64) (int, error) {
	if f.d.Full.Load() {
		return 0, f.d.fail("write", f.name)
	}
	return f.WritableFile.WriteAt(p, off)
}

func (f *file) Sync() error {
	if f.d.Full.Load() {
		return f.d.fail("fsync", f.name)
	}
	return f.WritableFile.Sync()
}

// Meta wraps raft-wal's segment list so that its commits fail with Full or
// NoCommit. The stable store (raft's term and vote) is passed through.
func (d *Disk) Meta(m types.MetaStore) types.MetaStore { return meta{m, d} }

type meta struct {
	types.MetaStore
	d *Disk
}

func (m meta) CommitState(st types.PersistentState) error {
	if m.d.Full.Load() || m.d.NoCommit.Load() {
		return m.d.fail("commit", "wal-meta.db")
	}
	return m.MetaStore.CommitState(st)
}
