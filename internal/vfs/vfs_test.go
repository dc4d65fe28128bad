package vfs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func writeFile(t *testing.T, fsys FS, name, data string, sync bool) {
	t.Helper()
	f, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func content(t *testing.T, fsys FS, name string) (string, bool) {
	t.Helper()
	b, err := ReadFile(fsys, name)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b), true
}

// TestFSContract runs the same checks on OS and Mem.
func TestFSContract(t *testing.T) {
	for name, mk := range map[string]func(t *testing.T) (FS, string){
		"os":  func(t *testing.T) (FS, string) { return OS(), t.TempDir() },
		"mem": func(t *testing.T) (FS, string) { return NewMem(), "/root" },
	} {
		t.Run(name, func(t *testing.T) {
			fsys, dir := mk(t)
			if err := fsys.MkdirAll(filepath.Join(dir, "a", "b"), 0o755); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, "a", "f")
			writeFile(t, fsys, p, "hello", false)
			writeFile(t, fsys, p, " world", false)
			if got, _ := content(t, fsys, p); got != "hello world" {
				t.Fatalf("content %q", got)
			}
			f, err := fsys.OpenFile(p, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(5); err != nil {
				t.Fatal(err)
			}
			if n, _ := f.Size(); n != 5 {
				t.Fatalf("size %d", n)
			}
			buf := make([]byte, 10)
			n, err := f.ReadAt(buf, 2)
			if n != 3 || err != io.EOF || string(buf[:n]) != "llo" {
				t.Fatalf("ReadAt = %d %v %q", n, err, buf[:n])
			}
			f.Close()
			names, err := fsys.ReadDir(filepath.Join(dir, "a"))
			if err != nil || len(names) != 2 || names[0] != "b" || names[1] != "f" {
				t.Fatalf("ReadDir = %v %v", names, err)
			}
			q := filepath.Join(dir, "a", "b", "g")
			if err := fsys.Rename(p, q); err != nil {
				t.Fatal(err)
			}
			if _, err := fsys.Stat(p); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("Stat old = %v", err)
			}
			if fi, err := fsys.Stat(q); err != nil || fi.Size() != 5 {
				t.Fatalf("Stat new = %v %v", fi, err)
			}
			if err := fsys.Remove(filepath.Join(dir, "a", "b")); err == nil {
				t.Fatal("removed non-empty dir")
			}
			if err := fsys.RemoveAll(filepath.Join(dir, "a")); err != nil {
				t.Fatal(err)
			}
			if err := fsys.RemoveAll(filepath.Join(dir, "missing")); err != nil {
				t.Fatal(err)
			}
			if _, err := fsys.OpenFile(q, os.O_RDONLY, 0); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("open removed = %v", err)
			}
			if err := fsys.SyncDir(dir); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestMemCrash(t *testing.T) {
	m := NewMem()
	if err := m.MkdirAll("/d", 0o755); err != nil {
		t.Fatal(err)
	}
	m.SyncDir("/")
	writeFile(t, m, "/d/synced", "abc", true)
	writeFile(t, m, "/d/unsynced-data", "xyz", false)
	m.SyncDir("/d")
	writeFile(t, m, "/d/synced", "def", false) // appended, not synced
	if err := WriteFileAtomic(m, "/d", "/d/atomic", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, m, "/d/no-dirsync", "q", true) // synced, entry not durable
	m.Remove("/d/unsynced-data")                // removal not durable
	held, _ := m.OpenFile("/d/synced", os.O_RDONLY, 0)

	m.Crash()

	for name, want := range map[string]string{"/d/synced": "abc", "/d/unsynced-data": "", "/d/atomic": "v1"} {
		if got, ok := content(t, m, name); !ok || got != want {
			t.Errorf("%s = %q %v, want %q", name, got, ok, want)
		}
	}
	if _, ok := content(t, m, "/d/no-dirsync"); ok {
		t.Error("file whose directory was never synced survived")
	}
	if _, err := held.ReadAt(make([]byte, 1), 0); !errors.Is(err, ErrCrashed) {
		t.Errorf("old handle: %v", err)
	}
	if m.OpenFiles() != 0 {
		t.Errorf("open files %d", m.OpenFiles())
	}

	// A directory never synced into its parent vanishes with its content.
	m.MkdirAll("/e", 0o755)
	writeFile(t, m, "/e/f", "x", true)
	m.SyncDir("/e")
	m.Crash()
	if _, err := m.Stat("/e"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("unsynced dir survived: %v", err)
	}

	// A renamed directory keeps its content.
	m.MkdirAll("/g", 0o755)
	writeFile(t, m, "/g/f", "x", true)
	m.SyncDir("/g")
	m.SyncDir("/")
	m.Rename("/g", "/h")
	m.SyncDir("/")
	m.Crash()
	if got, ok := content(t, m, "/h/f"); !ok || got != "x" {
		t.Errorf("renamed dir content %q %v", got, ok)
	}
}

func TestMemConcurrent(t *testing.T) {
	m := NewMem()
	f, _ := m.OpenFile("/f", os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				f.Write([]byte("ab"))
				f.ReadAt(make([]byte, 2), 0)
				f.Sync()
			}
		}()
	}
	wg.Wait()
	if n, _ := f.Size(); n != 800 {
		t.Fatalf("size %d", n)
	}
}

func TestFaulty(t *testing.T) {
	m := NewMem()
	f := NewFaulty(m)
	h, _ := f.OpenFile("/f", os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	h.Write([]byte("1111"))
	f.TearAfterWrites(2)
	if _, err := h.Write([]byte("2222")); err != nil {
		t.Fatal(err)
	}
	if n, err := h.Write([]byte("3333")); n != 2 || !errors.Is(err, ErrInjected) {
		t.Fatalf("torn write = %d %v", n, err)
	}
	if _, err := h.Write([]byte("4")); !errors.Is(err, ErrInjected) {
		t.Fatal("write after sticky fault succeeded")
	}
	if err := h.Sync(); !errors.Is(err, ErrInjected) {
		t.Fatal("sync after sticky fault succeeded")
	}
	if err := f.Rename("/f", "/g"); !errors.Is(err, ErrInjected) {
		t.Fatal("rename after sticky fault succeeded")
	}
	if got, _ := content(t, f, "/f"); got != "1111222233" {
		t.Fatalf("content %q", got)
	}
	if f.Writes() != 3 || !f.Triggered() {
		t.Fatalf("writes %d triggered %v", f.Writes(), f.Triggered())
	}

	f.Heal()
	f.FailWriteOnce(1, false)
	if _, err := h.Write([]byte("x")); !errors.Is(err, ErrInjected) {
		t.Fatal("one-shot fault did not fire")
	}
	if _, err := h.Write([]byte("y")); err != nil {
		t.Fatalf("write after one-shot fault: %v", err)
	}
	if got, _ := content(t, m, "/f"); !bytes.Equal([]byte(got), []byte("1111222233y")) {
		t.Fatalf("content %q", got)
	}
}
