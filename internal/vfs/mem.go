package vfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// ErrCrashed is returned by a MemFS handle opened before the last Crash.
var ErrCrashed = errors.New("vfs: file handle lost in crash")

// MemFS is an in-memory FS that models durability; see the package comment. It is
// safe for concurrent use: one mutex guards the whole tree and every file.
type MemFS struct {
	mu        sync.Mutex
	root      *memDir
	gen       int // incremented by Crash; handles of older generations fail
	openFiles int
}

type memNode interface{ isNode() }

type memDir struct {
	cur     map[string]memNode
	durable map[string]memNode
	modTime time.Time
}

type memFile struct {
	data    []byte
	synced  []byte
	modTime time.Time
}

func (*memDir) isNode()  {}
func (*memFile) isNode() {}

// NewMem returns an empty in-memory filesystem whose root directory is durable.
func NewMem() *MemFS {
	return &MemFS{root: newMemDir()}
}

func newMemDir() *memDir {
	return &memDir{cur: map[string]memNode{}, durable: map[string]memNode{}, modTime: time.Now()}
}

// Crash simulates a power loss: every directory reverts to the entries it had at
// its last SyncDir and every file to its last synced content. Open handles stop
// working.
func (m *MemFS) Crash() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen++
	m.openFiles = 0
	m.settle(false)
}

// settle makes every directory's name table and every file's content, from
// the root, the durable one (sync) or the current one (crash).
func (m *MemFS) settle(sync bool) {
	var walk func(d *memDir)
	walk = func(d *memDir) {
		src := d.durable
		if sync {
			src = d.cur
		}
		dst := make(map[string]memNode, len(src))
		for name, n := range src {
			dst[name] = n
			switch n := n.(type) {
			case *memDir:
				walk(n)
			case *memFile:
				if sync {
					n.synced = append([]byte(nil), n.data...)
				} else {
					n.data = append([]byte(nil), n.synced...)
				}
			}
		}
		if sync {
			d.durable = dst
		} else {
			d.cur = dst
		}
	}
	walk(m.root)
}

// OpenFiles returns how many handles are open (not closed and not lost in a crash).
func (m *MemFS) OpenFiles() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.openFiles
}

func splitPath(name string) []string {
	p := path.Clean(filepath.ToSlash(name))
	p = strings.TrimPrefix(p, "/")
	if p == "." || p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// lookupDir walks to the directory holding the components. m.mu must be held.
func (m *MemFS) lookupDir(parts []string) (*memDir, bool) {
	d := m.root
	for _, p := range parts {
		n, ok := d.cur[p].(*memDir)
		if !ok {
			return nil, false
		}
		d = n
	}
	return d, true
}

// lookupParent returns the parent directory of name and name's base. m.mu must be held.
func (m *MemFS) lookupParent(op, name string) (*memDir, string, error) {
	parts := splitPath(name)
	if len(parts) == 0 {
		return nil, "", &os.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	d, ok := m.lookupDir(parts[:len(parts)-1])
	if !ok {
		return nil, "", &os.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return d, parts[len(parts)-1], nil
}

func (m *MemFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, base, err := m.lookupParent("open", name)
	if err != nil {
		return nil, err
	}
	var f *memFile
	switch n := d.cur[base].(type) {
	case *memDir:
		return nil, &os.PathError{Op: "open", Path: name, Err: errors.New("is a directory")}
	case *memFile:
		if flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0 {
			return nil, &os.PathError{Op: "open", Path: name, Err: fs.ErrExist}
		}
		f = n
	default:
		if flag&os.O_CREATE == 0 {
			return nil, &os.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
		f = &memFile{modTime: time.Now()}
		d.cur[base] = f
		d.modTime = time.Now()
	}
	writable := flag&(os.O_WRONLY|os.O_RDWR) != 0
	if flag&os.O_TRUNC != 0 && writable {
		f.data = nil
		f.modTime = time.Now()
	}
	m.openFiles++
	return &memHandle{
		fs: m, f: f, name: name, gen: m.gen,
		readable: flag&os.O_WRONLY == 0, writable: writable, append: flag&os.O_APPEND != 0,
	}, nil
}

func (m *MemFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, base, err := m.lookupParent("remove", name)
	if err != nil {
		return err
	}
	switch n := d.cur[base].(type) {
	case nil:
		return &os.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	case *memDir:
		if len(n.cur) > 0 {
			return &os.PathError{Op: "remove", Path: name, Err: errors.New("directory not empty")}
		}
	}
	delete(d.cur, base)
	return nil
}

func (m *MemFS) RemoveAll(p string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, base, err := m.lookupParent("removeall", p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	delete(d.cur, base)
	return nil
}

func (m *MemFS) Rename(oldpath, newpath string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	od, obase, err := m.lookupParent("rename", oldpath)
	if err != nil {
		return err
	}
	nd, nbase, err := m.lookupParent("rename", newpath)
	if err != nil {
		return err
	}
	n, ok := od.cur[obase]
	if !ok {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: fs.ErrNotExist}
	}
	if _, isDir := n.(*memDir); isDir {
		// Refuse to move a directory into itself.
		if strings.HasPrefix(path.Clean(newpath)+"/", path.Clean(oldpath)+"/") {
			return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: fs.ErrInvalid}
		}
		if t, ok := nd.cur[nbase].(*memDir); ok && len(t.cur) > 0 {
			return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: errors.New("directory not empty")}
		}
	} else if _, ok := nd.cur[nbase].(*memDir); ok {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: errors.New("is a directory")}
	}
	delete(od.cur, obase)
	nd.cur[nbase] = n
	return nil
}

func (m *MemFS) MkdirAll(p string, perm os.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.root
	for _, part := range splitPath(p) {
		switch n := d.cur[part].(type) {
		case *memDir:
			d = n
		case *memFile:
			return &os.PathError{Op: "mkdir", Path: p, Err: errors.New("not a directory")}
		default:
			nd := newMemDir()
			d.cur[part] = nd
			d = nd
		}
	}
	return nil
}

func (m *MemFS) ReadDir(p string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.lookupDir(splitPath(p))
	if !ok {
		return nil, &os.PathError{Op: "readdir", Path: p, Err: fs.ErrNotExist}
	}
	names := make([]string, 0, len(d.cur))
	for name := range d.cur {
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

func (m *MemFS) Stat(name string) (os.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	parts := splitPath(name)
	if len(parts) == 0 {
		return memInfo{name: "/", dir: true, modTime: m.root.modTime}, nil
	}
	d, base, err := m.lookupParent("stat", name)
	if err != nil {
		return nil, err
	}
	switch n := d.cur[base].(type) {
	case *memDir:
		return memInfo{name: base, dir: true, modTime: n.modTime}, nil
	case *memFile:
		return memInfo{name: base, size: int64(len(n.data)), modTime: n.modTime}, nil
	}
	return nil, &os.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
}

func (m *MemFS) SyncDir(p string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.lookupDir(splitPath(p))
	if !ok {
		return &os.PathError{Op: "sync", Path: p, Err: fs.ErrNotExist}
	}
	d.durable = make(map[string]memNode, len(d.cur))
	for name, n := range d.cur {
		d.durable[name] = n
	}
	return nil
}

// SyncFS implements FSSyncer: every directory and file becomes durable as it
// is now (path only has to exist).
func (m *MemFS) SyncFS(p string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.lookupDir(splitPath(p)); !ok {
		return &os.PathError{Op: "syncfs", Path: p, Err: fs.ErrNotExist}
	}
	m.settle(true)
	return nil
}

type memInfo struct {
	name    string
	size    int64
	dir     bool
	modTime time.Time
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) ModTime() time.Time { return i.modTime }
func (i memInfo) IsDir() bool        { return i.dir }
func (i memInfo) Sys() any           { return nil }
func (i memInfo) Mode() os.FileMode {
	if i.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}

type memHandle struct {
	fs       *MemFS
	f        *memFile
	name     string
	gen      int
	pos      int64 // guarded by fs.mu
	closed   bool  // guarded by fs.mu
	readable bool
	writable bool
	append   bool
}

// check returns why the handle cannot be used. h.fs.mu must be held.
func (h *memHandle) check(op string) error {
	switch {
	case h.closed:
		return &os.PathError{Op: op, Path: h.name, Err: os.ErrClosed}
	case h.gen != h.fs.gen:
		return &os.PathError{Op: op, Path: h.name, Err: ErrCrashed}
	}
	return nil
}

func (h *memHandle) Name() string { return h.name }

func (h *memHandle) ReadAt(p []byte, off int64) (int, error) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.check("read"); err != nil {
		return 0, err
	}
	if !h.readable {
		return 0, &os.PathError{Op: "read", Path: h.name, Err: fs.ErrPermission}
	}
	if off < 0 {
		return 0, &os.PathError{Op: "read", Path: h.name, Err: fs.ErrInvalid}
	}
	if off >= int64(len(h.f.data)) {
		return 0, io.EOF
	}
	n := copy(p, h.f.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (h *memHandle) Write(p []byte) (int, error) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.check("write"); err != nil {
		return 0, err
	}
	if !h.writable {
		return 0, &os.PathError{Op: "write", Path: h.name, Err: fs.ErrPermission}
	}
	if h.append {
		h.pos = int64(len(h.f.data))
	}
	end := h.pos + int64(len(p))
	if end > int64(len(h.f.data)) {
		if end > int64(cap(h.f.data)) {
			grown := make([]byte, len(h.f.data), max(end, 2*int64(cap(h.f.data))))
			copy(grown, h.f.data)
			h.f.data = grown
		}
		h.f.data = h.f.data[:end]
	}
	copy(h.f.data[h.pos:], p)
	h.pos = end
	h.f.modTime = time.Now()
	return len(p), nil
}

func (h *memHandle) Close() error {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if h.closed {
		return &os.PathError{Op: "close", Path: h.name, Err: os.ErrClosed}
	}
	h.closed = true
	if h.gen == h.fs.gen {
		h.fs.openFiles--
	}
	return nil
}

func (h *memHandle) Sync() error {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.check("sync"); err != nil {
		return err
	}
	h.f.synced = append(h.f.synced[:0:0], h.f.data...)
	return nil
}

func (h *memHandle) Truncate(size int64) error {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.check("truncate"); err != nil {
		return err
	}
	if !h.writable || size < 0 {
		return &os.PathError{Op: "truncate", Path: h.name, Err: fs.ErrInvalid}
	}
	if size <= int64(len(h.f.data)) {
		h.f.data = h.f.data[:size:size]
	} else {
		h.f.data = append(h.f.data, make([]byte, size-int64(len(h.f.data)))...)
	}
	h.f.modTime = time.Now()
	return nil
}

func (h *memHandle) Size() (int64, error) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.check("stat"); err != nil {
		return 0, err
	}
	return int64(len(h.f.data)), nil
}
