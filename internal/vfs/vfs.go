package vfs

import (
	"io"
	"os"
)

// File is an open file. Methods of one File may be called concurrently.
type File interface {
	// ReadAt reads len(p) bytes at offset off; it returns io.EOF when fewer bytes
	// remain. It does not move the write position.
	io.ReaderAt
	// Write writes at the handle's position, or at the end of the file if the file
	// was opened with os.O_APPEND, and advances the position. A failed Write may
	// have written a prefix of p.
	io.Writer
	// Close releases the handle. It does not sync.
	io.Closer
	// Sync makes the content written so far durable: it survives a crash.
	Sync() error
	// Truncate changes the size of the file, dropping or zero-filling the tail. It
	// does not move the write position (use O_APPEND when appending after it).
	Truncate(size int64) error
	// Size returns the current size of the file, synced or not.
	Size() (int64, error)
	// Name returns the name the file was opened with.
	Name() string
}

// FS is a filesystem. Paths are slash-separated on every implementation Samsa
// runs on. All methods are safe for concurrent use.
type FS interface {
	// OpenFile opens name with os.O_* flags as os.OpenFile does. A file created
	// with os.O_CREATE survives a crash only after SyncDir of its directory.
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	// Remove removes a file or an empty directory. Durable after SyncDir of its
	// directory.
	Remove(name string) error
	// RemoveAll removes path and everything under it; a missing path is not an
	// error. Durable after SyncDir of its parent.
	RemoveAll(path string) error
	// Rename renames a file or directory atomically, replacing a file at newpath.
	// Durable after SyncDir of both parents.
	Rename(oldpath, newpath string) error
	// MkdirAll creates path and any missing parents. New directories are durable
	// after SyncDir of their parents.
	MkdirAll(path string, perm os.FileMode) error
	// ReadDir returns the names of the entries of the directory path, sorted.
	ReadDir(path string) ([]string, error)
	// Stat describes name; errors satisfy errors.Is(err, fs.ErrNotExist) when it
	// does not exist.
	Stat(name string) (os.FileInfo, error)
	// SyncDir makes the entries of the directory path durable: files created,
	// removed and renamed in it survive a crash.
	SyncDir(path string) error
}

// FSSyncer is implemented by filesystems that can make everything written so
// far durable in one call: on Linux syncfs(2), which gives the guarantees of
// an fsync of every file and directory of the filesystem holding path. Storage
// uses it to shut down thousands of logs with one sync instead of several
// fsyncs each.
type FSSyncer interface {
	SyncFS(path string) error
}

// ReadFile reads the whole file name from fsys.
func ReadFile(fsys FS, name string) ([]byte, error) {
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, size)
	n, err := f.ReadAt(buf, 0)
	if err == io.EOF && int64(n) == size {
		err = nil
	}
	return buf[:n], err
}

// WriteFileAtomic replaces name with data so that after a crash the file holds
// either its old content or data: it writes name+".tmp", syncs it, renames it
// over name and syncs the directory dir holding name.
func WriteFileAtomic(fsys FS, dir, name string, data []byte) error {
	if err := writeTmpRename(fsys, name, data, true); err != nil {
		return err
	}
	return fsys.SyncDir(dir)
}

// ReplaceFile is WriteFileAtomic without syncs: a later FSSyncer.SyncFS makes
// it durable. Until then a crash can leave the old content, data, or (as
// renames may become durable before the renamed file's content) an empty or
// partial file, so readers must check what they read.
func ReplaceFile(fsys FS, name string, data []byte) error {
	return writeTmpRename(fsys, name, data, false)
}

func writeTmpRename(fsys FS, name string, data []byte, sync bool) error {
	tmp := name + ".tmp"
	f, err := fsys.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if sync {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	return fsys.Rename(tmp, name)
}
