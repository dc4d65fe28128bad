package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// makeBatch encodes a valid v2 batch of n records with values "<tag>-<i>", base
// offset 0, timestamps ts..ts+n-1.
func makeBatch(n int, ts int64, tag string) []byte {
	var records []byte
	for i := 0; i < n; i++ {
		var rec []byte
		rec = append(rec, 0) // attributes
		rec = binary.AppendVarint(rec, int64(i))
		rec = binary.AppendVarint(rec, int64(i))
		rec = binary.AppendVarint(rec, -1) // key
		val := []byte(tag + "-" + string(rune('a'+i%26)))
		rec = binary.AppendVarint(rec, int64(len(val)))
		rec = append(rec, val...)
		rec = binary.AppendVarint(rec, 0) // headers
		records = binary.AppendVarint(records, int64(len(rec)))
		records = append(records, rec...)
	}
	b := make([]byte, batch.HeaderSize, batch.HeaderSize+len(records))
	binary.BigEndian.PutUint32(b[8:], uint32(batch.HeaderSize-12+len(records)))
	b[16] = 2
	binary.BigEndian.PutUint32(b[23:], uint32(n-1))
	binary.BigEndian.PutUint64(b[27:], uint64(ts))
	binary.BigEndian.PutUint64(b[35:], uint64(ts+int64(n)-1))
	binary.BigEndian.PutUint64(b[43:], ^uint64(0))
	binary.BigEndian.PutUint16(b[51:], 0xffff)
	binary.BigEndian.PutUint32(b[53:], ^uint32(0))
	binary.BigEndian.PutUint32(b[57:], uint32(n))
	b = append(b, records...)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// splitBatches splits concatenated batches.
func splitBatches(t testing.TB, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for len(b) > 0 {
		h, err := parseHeader(b)
		if err != nil || h.Size() > len(b) {
			t.Fatalf("bad batch in read result: %v", err)
		}
		if !batch.ValidCRC(b[:h.Size()]) {
			t.Fatal("read batch with bad CRC")
		}
		out = append(out, b[:h.Size()])
		b = b[h.Size():]
	}
	return out
}

func baseOf(b []byte) int64 { return int64(binary.BigEndian.Uint64(b)) }

// withOffset returns a copy of batch with its base offset set.
func withOffset(batch []byte, off int64) []byte {
	c := bytes.Clone(batch)
	binary.BigEndian.PutUint64(c, uint64(off))
	return c
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.UnixMilli(1_700_000_000_000)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func (c *clock) Ms() int64 { return c.Now().UnixMilli() }

type env struct {
	t     testing.TB
	dir   string // "/data" if empty
	fs    vfs.FS
	mem   *vfs.MemFS
	clock *clock
	m     *Manager
}

func newEnv(t testing.TB) *env {
	mem := vfs.NewMem()
	e := &env{t: t, fs: mem, mem: mem, clock: newClock()}
	e.reopenManager()
	return e
}

func (e *env) opts() Options {
	return Options{FS: e.fs, Now: e.clock.Now, MaxOpenSegments: 8}
}

func (e *env) reopenManager() {
	e.t.Helper()
	if e.m != nil {
		if err := e.m.Close(); err != nil {
			e.t.Fatal(err)
		}
	}
	dir := e.dir
	if dir == "" {
		dir = "/data"
	}
	m, err := NewManager(dir, e.opts(), 0)
	if err != nil {
		e.t.Fatal(err)
	}
	e.m = m
	e.t.Cleanup(func() { m.Close() })
}

// crashManager drops the manager without closing it (its goroutine-free logs
// are abandoned) and opens a new one on the same filesystem.
func (e *env) abandonManager() {
	e.t.Helper()
	old := e.m
	m, err := NewManager("/data", e.opts(), 0)
	if err != nil {
		e.t.Fatal(err)
	}
	// Release the old logs' handles without writing anything.
	old.mu.Lock()
	for _, l := range old.logs {
		l.close(false)
	}
	old.logs = map[string]*Log{}
	old.mu.Unlock()
	old.Close()
	e.m = m
	e.t.Cleanup(func() { m.Close() })
}

func (e *env) open(cfg Config) *Log {
	e.t.Helper()
	l, err := e.m.OpenLog("t", 0, [16]byte{1}, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return l
}

func smallConfig() Config {
	c := DefaultConfig()
	c.SegmentBytes = 1024
	c.IndexIntervalBytes = 128
	c.RetentionMs = -1
	return c
}

func mustAppend(t testing.TB, l *Log, b []byte) AppendResult {
	t.Helper()
	r, err := l.Append(b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// readAll reads every batch from the log start offset to the LEO.
func readAll(t testing.TB, l *Log) [][]byte {
	t.Helper()
	return readBatches(t, l, false)
}

// readTo is readAll for a log that may end in a gap: offsets of a batch
// truncated away below the log end offset, as Kafka leaves them, where a
// read returns nothing.
func readTo(t testing.TB, l *Log) [][]byte {
	t.Helper()
	return readBatches(t, l, true)
}

func readBatches(t testing.TB, l *Log, gapAtEnd bool) [][]byte {
	t.Helper()
	var out [][]byte
	off := l.LogStartOffset()
	for off < l.LogEndOffset() {
		b, err := l.Read(off, 1<<20, l.LogEndOffset())
		if err != nil {
			t.Fatalf("read at %d: %v", off, err)
		}
		bs := splitBatches(t, b)
		if len(bs) == 0 {
			if gapAtEnd {
				break
			}
			t.Fatalf("read at %d returned nothing below LEO %d", off, l.LogEndOffset())
		}
		for _, x := range bs {
			h, _ := parseHeader(x)
			if h.LastOffset() >= off {
				out = append(out, x)
			}
			off = h.LastOffset() + 1
		}
	}
	return out
}

func isOutOfRange(err error) bool { return errors.Is(err, ErrOffsetOutOfRange) }

// writeCleanMark leaves the mark of a clean shutdown in dataDir, so that the
// clean recovery points written by a test are trusted.
func writeCleanMark(fs vfs.FS, dataDir string) {
	writeWhole(fs, filepath.Join(dataDir, cleanShutdownFile), []byte("version: 0\n"), true)
}
