package clustertest

import (
	"errors"
	"os"
	"sync/atomic"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// errKilled is what every write fails with once a node is killed.
var errKilled = errors.New("clustertest: node killed")

// crashFS is the operating system's filesystem until kill; from then on
// every mutation fails with errKilled while reads work, as if the process
// had died at that instant: what it wrote stays written (a process crash
// loses nothing the kernel already has), and nothing more gets written —
// no flush, index, checkpoint or clean-shutdown mark of a Close that runs
// after it. Files keep exposing their *os.File (vfs.OSFile) so that the
// zero-copy read path stays the one production uses; only reads use it.
type crashFS struct {
	os      vfs.FS
	killed  atomic.Bool
	refused atomic.Int64 // mutations failed since kill

	// A disk fault (diskfault.go) set at run time.
	faulty     atomic.Pointer[diskFault]
	firstFault atomic.Int64 // Unix ns of the first operation it failed; 0: none
	injected   atomic.Int64 // operations it failed
}

func newCrashFS() *crashFS { return &crashFS{os: vfs.OS()} }

func (f *crashFS) kill() { f.killed.Store(true) }

func (f *crashFS) mutation() error {
	if f.killed.Load() {
		f.refused.Add(1)
		return errKilled
	}
	return nil
}

func (f *crashFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	if flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND) != 0 {
		if err := f.mutation(); err != nil {
			return nil, &os.PathError{Op: "open", Path: name, Err: err}
		}
	}
	file, err := f.os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	osf, ok := file.(vfs.OSFile)
	if !ok {
		file.Close()
		return nil, errors.New("clustertest: vfs.OS returned a file without its *os.File")
	}
	return &crashFile{f: osf, fs: f}, nil
}

func (f *crashFS) Remove(name string) error {
	if err := f.mutation(); err != nil {
		return err
	}
	return f.os.Remove(name)
}

func (f *crashFS) RemoveAll(path string) error {
	if err := f.mutation(); err != nil {
		return err
	}
	return f.os.RemoveAll(path)
}

func (f *crashFS) Rename(oldpath, newpath string) error {
	if err := f.mutation(); err != nil {
		return err
	}
	return f.os.Rename(oldpath, newpath)
}

func (f *crashFS) MkdirAll(path string, perm os.FileMode) error {
	if err := f.mutation(); err != nil {
		return err
	}
	return f.os.MkdirAll(path, perm)
}

func (f *crashFS) SyncDir(path string) error {
	if err := f.mutation(); err != nil {
		return err
	}
	if err := f.fault(DiskSyncFails, "fsync", path); err != nil {
		return err
	}
	return f.os.SyncDir(path)
}

// SyncFS keeps storage's one-sync shutdown (vfs.FSSyncer) as it is on the
// operating system's filesystem.
func (f *crashFS) SyncFS(path string) error {
	if err := f.mutation(); err != nil {
		return err
	}
	if err := f.fault(DiskSyncFails, "syncfs", path); err != nil {
		return err
	}
	return f.os.(vfs.FSSyncer).SyncFS(path)
}

func (f *crashFS) ReadDir(path string) ([]string, error) { return f.os.ReadDir(path) }
func (f *crashFS) Stat(name string) (os.FileInfo, error) { return f.os.Stat(name) }

type crashFile struct {
	f  vfs.OSFile
	fs *crashFS
}

func (f *crashFile) ReadAt(p []byte, off int64) (int, error) { return f.f.ReadAt(p, off) }
func (f *crashFile) Close() error                            { return f.f.Close() }
func (f *crashFile) Size() (int64, error)                    { return f.f.Size() }
func (f *crashFile) Name() string                            { return f.f.Name() }
func (f *crashFile) OSFile() *os.File                        { return f.f.OSFile() }

func (f *crashFile) Write(p []byte) (int, error) {
	if err := f.fs.mutation(); err != nil {
		return 0, err
	}
	if err := f.fs.fault(DiskFull, "write", f.f.Name()); err != nil {
		return 0, err
	}
	return f.f.Write(p)
}

func (f *crashFile) Sync() error {
	if err := f.fs.mutation(); err != nil {
		return err
	}
	if err := f.fs.fault(DiskSyncFails, "fsync", f.f.Name()); err != nil {
		return err
	}
	return f.f.Sync()
}

func (f *crashFile) Truncate(size int64) error {
	if err := f.fs.mutation(); err != nil {
		return err
	}
	return f.f.Truncate(size)
}

var (
	_ vfs.FS       = (*crashFS)(nil)
	_ vfs.FSSyncer = (*crashFS)(nil)
	_ vfs.OSFile   = (*crashFile)(nil)
)
