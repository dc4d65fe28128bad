package storage

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestOnRealFiles runs the log on package os: layout, reopen, recovery of a
// garbage tail.
func TestOnRealFiles(t *testing.T) {
	dir := t.TempDir()
	m, err := NewManager(dir, Options{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := smallConfig()
	id := [16]byte{0xfb, 0xff, 1}
	l, err := m.OpenLog("real-topic", 2, id, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var batches [][]byte
	for i := 0; i < 20; i++ {
		b := makeBatch(3, int64(i), "os")
		mustAppend(t, l, b)
		batches = append(batches, b)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	pdir := filepath.Join(dir, "real-topic-2")
	for _, name := range []string{"00000000000000000000.log", "00000000000000000000.index", "00000000000000000000.timeindex", "../" + cleanShutdownFile} {
		if _, err := os.Stat(filepath.Join(pdir, name)); err != nil {
			t.Fatal(err)
		}
	}
	meta, _ := os.ReadFile(filepath.Join(pdir, partitionMetaFile))
	if string(meta) != "version: 0\ntopic_id: -_8BAAAAAAAAAAAAAAAAAA\n" {
		t.Fatalf("partition.metadata %q", meta)
	}
	names, _ := os.ReadDir(pdir)
	var active string
	for _, n := range names {
		if filepath.Ext(n.Name()) == logSuffix {
			active = filepath.Join(pdir, n.Name())
		}
	}
	f, _ := os.OpenFile(active, os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte("garbage garbage garbage garbage garbage garbage garbage garbage"))
	f.Close()

	m, err = NewManager(dir, Options{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	l, err = m.OpenLog("real-topic", 2, id, cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, l)
	if len(got) != len(batches) {
		t.Fatalf("%d batches", len(got))
	}
	for i := range got {
		if !bytes.Equal(got[i], batches[i]) {
			t.Fatalf("batch %d differs", i)
		}
	}
	if b, err := l.Read(30, 1, math.MaxInt64); err != nil || baseOf(b) != 30 {
		t.Fatalf("read: %v", err)
	}
	dirs, err := m.LogDirs()
	if err != nil || len(dirs) != 1 || dirs[0].Topic != "real-topic" || dirs[0].Partition != 2 {
		t.Fatalf("LogDirs %+v %v", dirs, err)
	}
	if err := m.DeleteLog("real-topic", 2); err != nil {
		t.Fatal(err)
	}
	if rest, _ := os.ReadDir(dir); len(rest) != 0 {
		t.Fatalf("left after delete: %v", rest)
	}
}
