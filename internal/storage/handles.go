package storage

import (
	"container/list"
	"os"
	"strings"
	"sync"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// handleCache keeps at most max read handles of segment files open, least
// recently used first out. A handle in use when evicted is closed by its last
// release, so the bound can be exceeded briefly by handles that readers hold.
type handleCache struct {
	fs  vfs.FS
	max int

	mu     sync.Mutex
	lru    list.List // of *cachedHandle, most recently used at the front
	byPath map[string]*cachedHandle
	gen    uint64 // incremented by invalidate: a handle opened across it is not cached
	open   int    // handles open, cached or evicted-but-held
}

type cachedHandle struct {
	path    string
	f       vfs.File
	refs    int
	elem    *list.Element
	evicted bool
}

func newHandleCache(fs vfs.FS, max int) *handleCache {
	return &handleCache{fs: fs, max: max, byPath: map[string]*cachedHandle{}}
}

// acquire returns a read handle for path; the caller must release it.
func (c *handleCache) acquire(path string) (*cachedHandle, error) {
	c.mu.Lock()
	if h, ok := c.byPath[path]; ok {
		h.refs++
		c.lru.MoveToFront(h.elem)
		c.mu.Unlock()
		return h, nil
	}
	gen := c.gen
	c.mu.Unlock()

	f, err := c.fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	c.open++
	h := &cachedHandle{path: path, f: f, refs: 1}
	if c.gen != gen {
		h.evicted = true // the file may have been deleted meanwhile: do not cache
		return h, nil
	}
	if other, ok := c.byPath[path]; ok {
		c.closeLocked(h)
		other.refs++
		c.lru.MoveToFront(other.elem)
		return other, nil
	}
	h.elem = c.lru.PushFront(h)
	c.byPath[path] = h
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
	delete(c.byPath, h.path)
	h.evicted = true
	if h.refs == 0 {
		c.closeLocked(h)
	}
}

func (c *handleCache) closeLocked(h *cachedHandle) {
	h.f.Close()
	c.open--
}

// invalidate drops the handles of paths under prefix (a file or a directory).
func (c *handleCache) invalidate(prefix string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for path, h := range c.byPath {
		if path == prefix || strings.HasPrefix(path, prefix+"/") {
			c.evictLocked(h)
		}
	}
}

// openHandles returns how many handles are open.
func (c *handleCache) openHandles() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open
}
