package clustertest

import (
	"os"
	"strings"
	"syscall"
	"time"
)

// DiskFault is a fault a running node's partition-log disk can be given
// (Node.SetDiskFault), the disk faults of issue 11 that vfs can inject.
type DiskFault int

const (
	// DiskOK clears the fault.
	DiskOK DiskFault = iota
	// DiskSyncFails fails every fsync (File.Sync, SyncDir, SyncFS) with
	// EIO, as a disk whose writeback failed: what was written stays in
	// the page cache and reads back, but is not durable.
	DiskSyncFails
	// DiskFull fails every Write with ENOSPC, writing nothing, as a full
	// filesystem; truncating, syncing, renaming and removing still work,
	// since they need no new blocks.
	DiskFull
)

func (f DiskFault) String() string {
	switch f {
	case DiskSyncFails:
		return "fsync-eio"
	case DiskFull:
		return "disk-full"
	}
	return "ok"
}

// diskFault is a fault on the paths under a directory.
type diskFault struct {
	kind  DiskFault
	under string // a path prefix; "" is the whole disk
}

// fault returns the error kind's fault gives an operation on name, or
// nil, and notes the first time it fails one.
func (f *crashFS) fault(kind DiskFault, op, name string) error {
	d := f.faulty.Load()
	if d == nil || d.kind != kind || !strings.HasPrefix(name, d.under) {
		return nil
	}
	f.firstFault.CompareAndSwap(0, time.Now().UnixNano())
	f.injected.Add(1)
	errno := syscall.EIO
	if kind == DiskFull {
		errno = syscall.ENOSPC
	}
	return &os.PathError{Op: op, Path: name, Err: errno}
}

// SetDiskFault gives the running node's partition-log disk (its data
// directory, the metadata log aside) fault f on the paths under the
// directory under (a path inside the data directory, "" for all of it),
// from now until it is cleared with DiskOK or the node restarts: each
// start is a new disk, "fixed". A node that is down ignores it.
func (n *Node) SetDiskFault(f DiskFault, under string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.b == nil {
		return
	}
	if f == DiskOK {
		n.disk.faulty.Store(nil)
		return
	}
	n.disk.firstFault.Store(0)
	n.disk.faulty.Store(&diskFault{kind: f, under: under})
}

// DiskFaultFired returns when the fault SetDiskFault set last first
// failed an operation, and how many it failed; the zero time if none yet.
func (n *Node) DiskFaultFired() (time.Time, int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	first := n.disk.firstFault.Load()
	if first == 0 {
		return time.Time{}, n.disk.injected.Load()
	}
	return time.Unix(0, first), n.disk.injected.Load()
}
