package storage

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

func activePath(l *Log) string { return l.segments[len(l.segments)-1].logPath }

func appendRaw(t *testing.T, fs vfs.FS, path string, data []byte, sync bool) {
	t.Helper()
	f, err := fs.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if data == nil {
		n, _ := f.Size()
		if err := f.Truncate(n - 10); err != nil {
			t.Fatal(err)
		}
	} else if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if sync {
		f.Sync()
	}
	f.Close()
}

// TestRecoverTail damages the end of the active segment after a clean and
// after an unclean shutdown: the log must come back as the valid prefix and
// appends continue at its end.
func TestRecoverTail(t *testing.T) {
	garbage := bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 40)
	torn := makeBatch(4, 0, "torn")[:70]
	for _, clean := range []bool{true, false} {
		for name, damage := range map[string][]byte{"garbage": garbage, "torn-batch": torn, "truncated": nil} {
			t.Run(fmt.Sprintf("%s/clean=%v", name, clean), func(t *testing.T) {
				e := newEnv(t)
				l := e.open(smallConfig())
				batches := fill(t, e, l, []int{3, 3, 3, 3, 3, 3, 3, 3, 3, 3})
				path := activePath(l)
				want := batches
				if damage == nil {
					want = batches[:len(batches)-1] // the last batch loses its tail
				}
				if clean {
					e.reopenManager()
				} else {
					l.Flush()
					e.abandonManager()
				}
				appendRaw(t, e.fs, path, damage, true)
				l = e.open(smallConfig())
				got := readAll(t, l)
				if len(got) != len(want) {
					t.Fatalf("recovered %d batches, want %d", len(got), len(want))
				}
				for i := range got {
					if !bytes.Equal(got[i], want[i]) {
						t.Fatalf("batch %d differs", i)
					}
				}
				leo := int64(3 * len(want))
				if r := mustAppend(t, l, makeBatch(2, 0, "after")); r.FirstOffset != leo {
					t.Fatalf("append after recovery at %d, want %d", r.FirstOffset, leo)
				}
				if got := readAll(t, l); len(got) != len(want)+1 {
					t.Fatalf("%d batches after append", len(got))
				}
			})
		}
	}
}

// TestRecoverMiddleSegment corrupts a byte in an inactive segment and loses the
// recovery point: recovery keeps what precedes the bad batch and drops the
// later segments.
func TestRecoverMiddleSegment(t *testing.T) {
	e := newEnv(t)
	cfg := smallConfig()
	cfg.SegmentBytes = 300
	l := e.open(cfg)
	batches := fill(t, e, l, []int{2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2})
	if len(l.segments) < 4 {
		t.Fatalf("%d segments", len(l.segments))
	}
	seg := l.segments[1]
	e.abandonManager()
	e.fs.Remove(filepath.Join(l.Dir(), recoveryPointFile))
	f, _ := e.fs.OpenFile(seg.logPath, os.O_RDWR, 0)
	size, _ := f.Size()
	// Flip a byte in the records of the second batch of the segment.
	buf := make([]byte, size)
	f.ReadAt(buf, 0)
	h, _ := parseHeader(buf)
	buf[h.Size()+batch.HeaderSize+2] ^= 0xff
	f.Truncate(0)
	f.Close()
	appendRaw(t, e.fs, seg.logPath, buf, true)

	l = e.open(cfg)
	want := int(seg.base)/2 + 1 // batches before the corrupt one
	if got := readAll(t, l); len(got) != want || !bytes.Equal(got[want-1], batches[want-1]) {
		t.Fatalf("recovered %d batches, want %d", len(got), want)
	}
	if len(l.segments) != 2 || l.LogEndOffset() != seg.base+2 {
		t.Fatalf("%d segments, LEO %d", len(l.segments), l.LogEndOffset())
	}
}

// TestIndexRebuilt removes or damages index files of inactive segments after a
// clean shutdown: reads still find every offset and the files are rewritten.
func TestIndexRebuilt(t *testing.T) {
	damages := map[string]func(t *testing.T, fs vfs.FS, s *segment){
		"deleted": func(t *testing.T, fs vfs.FS, s *segment) {
			fs.Remove(s.indexPath)
			fs.Remove(s.timePath)
		},
		"garbage": func(t *testing.T, fs vfs.FS, s *segment) {
			appendRaw(t, fs, s.indexPath, []byte{1, 2, 3}, true)
		},
		"wrong-positions": func(t *testing.T, fs vfs.FS, s *segment) {
			f, _ := fs.OpenFile(s.indexPath, os.O_RDWR|os.O_TRUNC, 0)
			f.Write(appendOffsetIndex(nil, []offsetEntry{{rel: 1, pos: 7}, {rel: 3, pos: 9}}))
			f.Close()
		},
		"emptied": func(t *testing.T, fs vfs.FS, s *segment) {
			for _, p := range []string{s.indexPath, s.timePath} {
				f, _ := fs.OpenFile(p, os.O_RDWR|os.O_TRUNC, 0)
				f.Close()
			}
		},
	}
	for name, damage := range damages {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			cfg := smallConfig()
			cfg.IndexIntervalBytes = 1
			l := e.open(cfg)
			var batches [][]byte
			for i := 0; i < 30; i++ {
				b := makeBatch(2, int64(1000+i*10), "i")
				mustAppend(t, l, b)
				batches = append(batches, b)
			}
			segs := append([]*segment(nil), l.segments...)
			e.reopenManager()
			for _, s := range segs[:len(segs)-1] {
				damage(t, e.fs, s)
			}
			l = e.open(cfg)
			for i, b := range batches {
				got, err := l.Read(int64(2*i+1), 1, math.MaxInt64)
				if err != nil || !bytes.Equal(got, b) {
					t.Fatalf("read %d: %v", 2*i+1, err)
				}
				got, found, err := l.FindBatchByTimestamp(int64(1000 + i*10 + 1))
				if err != nil || !found || !bytes.Equal(got, b) {
					t.Fatalf("timestamp lookup %d: %v %v", i, found, err)
				}
			}
			s := segs[0]
			ob, err1 := vfs.ReadFile(e.fs, s.indexPath)
			tb, err2 := vfs.ReadFile(e.fs, s.timePath)
			if name != "wrong-positions" && (err1 != nil || err2 != nil || len(ob) == 0 || len(tb) == 0) {
				t.Fatalf("index files not rebuilt: %d %d %v %v", len(ob), len(tb), err1, err2)
			}
		})
	}
}

// TestActiveIndexRebuilt deletes the active segment's index files after a
// clean shutdown.
func TestActiveIndexRebuilt(t *testing.T) {
	e := newEnv(t)
	cfg := DefaultConfig()
	cfg.IndexIntervalBytes = 1
	l := e.open(cfg)
	batches := fill(t, e, l, []int{1, 2, 3, 4})
	dir, path := l.Dir(), activePath(l)
	e.reopenManager()
	e.fs.Remove(path[:len(path)-len(logSuffix)] + indexSuffix)
	l = e.open(cfg)
	if got := readAll(t, l); len(got) != len(batches) || l.LogEndOffset() != 10 {
		t.Fatalf("%d batches, LEO %d", len(got), l.LogEndOffset())
	}
	if len(l.active.idx.offsets) != 3 {
		t.Fatalf("active index has %d entries", len(l.active.idx.offsets))
	}
	_ = dir
}
