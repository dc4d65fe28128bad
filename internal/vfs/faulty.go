package vfs

import (
	"errors"
	"fmt"
	"os"
	"sync"
)

// ErrInjected is the error returned by operations failed by a FaultyFS.
var ErrInjected = errors.New("vfs: injected fault")

// FaultyFS wraps an FS and fails writes on demand. Writes are counted across all
// files opened through it. Once a sticky fault has fired, every later mutating
// operation (Write, Sync, Truncate, Remove, RemoveAll, Rename, MkdirAll, SyncDir
// and OpenFile for writing) fails with ErrInjected, as if the process had died at
// that write: combined with (*MemFS).Crash it models a power loss there, and
// without Crash a process crash (what was written stays written). Reads always
// work.
type FaultyFS struct {
	fs FS

	mu        sync.Mutex
	writes    int  // Write calls seen
	failAt    int  // the write number that fails; 0 = none armed
	torn      bool // the failing write writes half its bytes first
	sticky    bool // after failing, everything mutating fails
	triggered bool // a sticky fault fired
}

// NewFaulty wraps fs. It injects nothing until armed.
func NewFaulty(fs FS) *FaultyFS { return &FaultyFS{fs: fs} }

// FailAfterWrites arms a sticky fault: the n-th Write from now (n = 1 is the next
// one) fails without writing anything, and so does every mutation after it.
func (f *FaultyFS) FailAfterWrites(n int) { f.arm(n, false, true) }

// TearAfterWrites is FailAfterWrites, except that the failing Write first writes
// the first half of its bytes (a torn write).
func (f *FaultyFS) TearAfterWrites(n int) { f.arm(n, true, true) }

// FailWriteOnce makes only the n-th Write from now fail (torn or not); later
// operations succeed, as after a transient error.
func (f *FaultyFS) FailWriteOnce(n int, torn bool) { f.arm(n, torn, false) }

func (f *FaultyFS) arm(n int, torn, sticky bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failAt = f.writes + max(n, 1)
	f.torn = torn
	f.sticky = sticky
	f.triggered = false
}

// Heal disarms any fault and clears a fired sticky fault.
func (f *FaultyFS) Heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failAt, f.triggered = 0, false
}

// Writes returns how many Write calls were made through f.
func (f *FaultyFS) Writes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes
}

// Triggered reports whether a fault has fired since it was last armed.
func (f *FaultyFS) Triggered() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.triggered || (f.failAt != 0 && f.writes >= f.failAt)
}

// mutation returns ErrInjected if a sticky fault has fired.
func (f *FaultyFS) mutation() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.triggered {
		return ErrInjected
	}
	return nil
}

// write decides the fate of a Write of n bytes: how many bytes to write and
// whether to fail.
func (f *FaultyFS) write(n int) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.triggered {
		return 0, ErrInjected
	}
	f.writes++
	if f.failAt == 0 || f.writes != f.failAt {
		return n, nil
	}
	if f.sticky {
		f.triggered = true
	}
	if f.torn {
		return n / 2, ErrInjected
	}
	return 0, ErrInjected
}

func (f *FaultyFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	if flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE|os.O_TRUNC) != 0 {
		if err := f.mutation(); err != nil {
			return nil, err
		}
	}
	file, err := f.fs.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultyFile{File: file, fs: f}, nil
}

func (f *FaultyFS) Remove(name string) error {
	if err := f.mutation(); err != nil {
		return err
	}
	return f.fs.Remove(name)
}

func (f *FaultyFS) RemoveAll(path string) error {
	if err := f.mutation(); err != nil {
		return err
	}
	return f.fs.RemoveAll(path)
}

func (f *FaultyFS) Rename(oldpath, newpath string) error {
	if err := f.mutation(); err != nil {
		return err
	}
	return f.fs.Rename(oldpath, newpath)
}

func (f *FaultyFS) MkdirAll(path string, perm os.FileMode) error {
	if err := f.mutation(); err != nil {
		return err
	}
	return f.fs.MkdirAll(path, perm)
}

func (f *FaultyFS) SyncDir(path string) error {
	if err := f.mutation(); err != nil {
		return err
	}
	return f.fs.SyncDir(path)
}

// SyncFS implements FSSyncer when the wrapped FS does; it is a mutation.
func (f *FaultyFS) SyncFS(path string) error {
	s, ok := f.fs.(FSSyncer)
	if !ok {
		return fmt.Errorf("vfs: %T cannot sync a whole filesystem", f.fs)
	}
	if err := f.mutation(); err != nil {
		return err
	}
	return s.SyncFS(path)
}

func (f *FaultyFS) ReadDir(path string) ([]string, error) { return f.fs.ReadDir(path) }
func (f *FaultyFS) Stat(name string) (os.FileInfo, error) { return f.fs.Stat(name) }

type faultyFile struct {
	File
	fs *FaultyFS
}

func (f *faultyFile) Write(p []byte) (int, error) {
	n, injected := f.fs.write(len(p))
	if n > 0 {
		written, err := f.File.Write(p[:n])
		if err != nil {
			return written, err
		}
	}
	if injected != nil {
		return n, injected
	}
	return n, nil
}

func (f *faultyFile) Sync() error {
	if err := f.fs.mutation(); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *faultyFile) Truncate(size int64) error {
	if err := f.fs.mutation(); err != nil {
		return err
	}
	return f.File.Truncate(size)
}
