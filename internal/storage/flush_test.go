package storage

import (
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// gatedFS counts fsyncs of .log files and can hold them at a gate.
type gatedFS struct {
	vfs.FS
	syncs   atomic.Int32
	entered chan struct{} // receives when a .log sync starts, if non-nil
	gate    chan struct{} // a .log sync waits for it, if non-nil
}

type gatedFile struct {
	vfs.File
	fs *gatedFS
}

func (g *gatedFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	f, err := g.FS.OpenFile(name, flag, perm)
	if err != nil || !strings.HasSuffix(name, logSuffix) {
		return f, err
	}
	return &gatedFile{File: f, fs: g}, nil
}

func (f *gatedFile) Sync() error {
	f.fs.syncs.Add(1)
	if f.fs.entered != nil {
		f.fs.entered <- struct{}{}
	}
	if f.fs.gate != nil {
		<-f.fs.gate
	}
	return f.File.Sync()
}

// TestFlushSharesFsync holds one fsync while other callers append and flush:
// they must all be served by one more fsync, not one each.
func TestFlushSharesFsync(t *testing.T) {
	g := &gatedFS{FS: vfs.NewMem()}
	m, err := NewManager("/data", Options{FS: g}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	l, err := m.OpenLog("g", 0, [16]byte{1}, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, makeBatch(1, 0, "first"))
	g.syncs.Store(0)
	g.entered, g.gate = make(chan struct{}, 10), make(chan struct{})

	done := make(chan error, 10)
	go func() { done <- l.Flush() }()
	<-g.entered // the first fsync is running and held

	const callers = 6
	var appended sync.WaitGroup
	for i := 0; i < callers; i++ {
		appended.Add(1)
		go func() {
			_, err := l.Append(makeBatch(1, 0, "later"))
			appended.Done() // appends are not blocked by the running fsync
			if err != nil {
				done <- err
				return
			}
			done <- l.Flush()
		}()
	}
	appended.Wait()
	time.Sleep(20 * time.Millisecond) // let the callers reach Flush
	close(g.gate)
	for i := 0; i < callers+1; i++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n := g.syncs.Load(); n != 2 {
		t.Fatalf("%d fsyncs for %d concurrent flushes, want 2", n, callers+1)
	}
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	if l.flushedTo != callers+1 {
		t.Fatalf("flushed to %d", l.flushedTo)
	}
}
