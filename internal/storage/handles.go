package storage

import (
	"container/list"
	"os"
	"path/filepath"
	"sync"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// handleCache keeps at most max handles of segment files open across a
// Manager, least recently used first out: read handles, and the write handles
// of active segments, so that the descriptors a broker holds do not grow with
// its partitions. A handle in use when evicted is closed by its last release,
// so the bound can be exceeded briefly by handles that readers and appenders
// hold.
//
// Closing a write handle loses nothing: written bytes are in the page cache
// until written back, and a later fsync through another handle of the file
// flushes them (Linux reports a write-back error to the next fsync of any
// handle that has not seen it).
type handleCache struct {
	fs  vfs.FS
	max int

	mu     sync.Mutex
	lru    list.List // of *cachedHandle, most recently used at the front
	byPath map[handleKey]*cachedHandle
	byDir  map[string]map[*cachedHandle]struct{} // the cached handles of each directory
	gen    uint64                                // incremented by invalidate: a handle opened across it is not cached
	open   int                                   // handles open, cached or evicted-but-held
}

type handleKey struct {
	path  string
	write bool // opened O_RDWR|O_APPEND for appends, else O_RDONLY
}

type cachedHandle struct {
	key     handleKey
	f       vfs.File
	refs    int
	elem    *list.Element
	evicted bool
}

func newHandleCache(fs vfs.FS, max int) *handleCache {
	return &handleCache{fs: fs, max: max, byPath: map[handleKey]*cachedHandle{}, byDir: map[string]map[*cachedHandle]struct{}{}}
}

// acquire returns a read handle for path; the caller must release it.
func (c *handleCache) acquire(path string) (*cachedHandle, error) {
	return c.get(handleKey{path: path})
}

// acquireWrite returns a handle of path for appending; the caller must
// release it. The file must exist.
func (c *handleCache) acquireWrite(path string) (*cachedHandle, error) {
	return c.get(handleKey{path: path, write: true})
}

func (c *handleCache) get(key handleKey) (*cachedHandle, error) {
	c.mu.Lock()
	if h, ok := c.byPath[key]; ok {
		h.refs++
		c.lru.MoveToFront(h.elem)
		c.mu.Unlock()
		return h, nil
	}
	gen := c.gen
	c.mu.Unlock()

	flag := os.O_RDONLY
	if key.write {
		flag = os.O_RDWR | os.O_APPEND
	}
	f, err := c.fs.OpenFile(key.path, flag, 0)
	if err != nil {
		return nil, err
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	c.open++
	h := &cachedHandle{key: key, f: f, refs: 1}
	if c.gen != gen {
		h.evicted = true // the file may have been deleted meanwhile: do not cache
		return h, nil
	}
	if other, ok := c.byPath[key]; ok {
		c.closeLocked(h)
		other.refs++
		c.lru.MoveToFront(other.elem)
		return other, nil
	}
	h.elem = c.lru.PushFront(h)
	c.byPath[key] = h
	dir := filepath.Dir(key.path)
	if c.byDir[dir] == nil {
		c.byDir[dir] = map[*cachedHandle]struct{}{}
	}
	c.byDir[dir][h] = struct{}{}
	for c.lru.Len() > c.max {
		c.evictLocked(c.lru.Back().Value.(*cachedHandle))
	}
	return h, nil
}

func (c *handleCache) release(h *cachedHandle) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h.refs--
	if h.evicted && h.refs == 0 {
		c.closeLocked(h)
	}
}

func (c *handleCache) evictLocked(h *cachedHandle) {
	c.lru.Remove(h.elem)
	delete(c.byPath, h.key)
	dir := filepath.Dir(h.key.path)
	delete(c.byDir[dir], h)
	if len(c.byDir[dir]) == 0 {
		delete(c.byDir, dir)
	}
	h.evicted = true
	if h.refs == 0 {
		c.closeLocked(h)
	}
}

func (c *handleCache) closeLocked(h *cachedHandle) {
	h.f.Close()
	c.open--
}

// invalidate drops the handles of path: a file, or a log directory (the files
// in it). It looks only at the handles of that directory, so closing
// thousands of logs does not scan the whole cache each time.
func (c *handleCache) invalidate(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for h := range c.byDir[path] {
		c.evictLocked(h) // path is a directory
	}
	for h := range c.byDir[filepath.Dir(path)] {
		if h.key.path == path {
			c.evictLocked(h)
		}
	}
}

// dropWrite closes the write handle of path once released (a segment that is
// no longer active). Callers serialise it with acquireWrite of path.
func (c *handleCache) dropWrite(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h, ok := c.byPath[handleKey{path: path, write: true}]; ok {
		c.evictLocked(h)
	}
}

// openHandles returns how many handles are open.
func (c *handleCache) openHandles() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open
}
