package storage

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

func validSegmentBytes() []byte {
	var b []byte
	for i := 0; i < 4; i++ {
		batch := makeBatch(i+1, int64(100*i), "f")
		b = append(b, withOffset(batch, int64(i*(i+1)/2))...)
	}
	return b
}

// FuzzRecover opens a log whose only segment holds arbitrary bytes, after a
// clean or an unclean shutdown: it must not panic, and what it serves must be
// a prefix of the file made of valid batches.
func FuzzRecover(f *testing.F) {
	valid := validSegmentBytes()
	f.Add(valid, false)
	f.Add(valid, true)
	f.Add(valid[:len(valid)-3], false)
	f.Add(append(bytes.Clone(valid), 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff), true)
	f.Add([]byte{}, false)
	f.Add(bytes.Repeat([]byte{0}, 200), true)
	f.Fuzz(func(t *testing.T, data []byte, clean bool) {
		l := openCrafted(t, map[string][]byte{segmentName(0) + logSuffix: data}, clean, 0)
		var served []byte
		for _, b := range readAll(t, l) {
			served = append(served, b...)
		}
		if !bytes.HasPrefix(data, served) {
			t.Fatal("served bytes are not a prefix of the segment")
		}
		if l.Size() != int64(len(served)) {
			t.Fatalf("size %d, served %d", l.Size(), len(served))
		}
		if _, err := l.Append(makeBatch(1, 0, "x")); err != nil {
			t.Fatal(err)
		}
	})
}

// openCrafted opens log f-0 of a new filesystem whose directory holds
// files (name: content), after a clean shutdown with the recovery point
// rp if clean, else as after a crash.
func openCrafted(t *testing.T, files map[string][]byte, clean bool, rp int64) *Log {
	t.Helper()
	mem := vfs.NewMem()
	dir := "/data/f-0"
	mem.MkdirAll(dir, 0o755)
	for name, data := range files {
		writeWhole(mem, filepath.Join(dir, name), data, true)
	}
	if clean {
		writeWhole(mem, filepath.Join(dir, recoveryPointFile), fmt.Appendf(nil, "version: 0\nrecovery_point: %d\nclean_shutdown: true\n", rp), true)
		writeCleanMark(mem, "/data")
	}
	m, err := NewManager("/data", Options{FS: mem}, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	l, err := m.OpenLog("f", 0, [16]byte{}, DefaultConfig())
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return l
}

// FuzzIndexFiles gives an inactive segment arbitrary index files: offset
// lookups must still return the right batches (reads check each index entry
// they use), and timestamp lookups valid batches that qualify (the time index is
// trusted beyond its last entry, as in Kafka).
func FuzzIndexFiles(f *testing.F) {
	f.Add(appendOffsetIndex(nil, []offsetEntry{{1, 60}}), appendTimeIndex(nil, []timeEntry{{100, 2}}))
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 9}, []byte{})
	f.Add(appendOffsetIndex(nil, []offsetEntry{{2, 5}, {8, 10}}), appendTimeIndex(nil, []timeEntry{{1, 0}, {-5, 3}}))
	f.Fuzz(func(t *testing.T, index, timeIndex []byte) {
		mem := vfs.NewMem()
		dir := "/data/f-0"
		mem.MkdirAll(dir, 0o755)
		seg := validSegmentBytes()
		writeWhole(mem, filepath.Join(dir, segmentName(0)+logSuffix), seg, true)
		writeWhole(mem, filepath.Join(dir, segmentName(0)+indexSuffix), index, true)
		writeWhole(mem, filepath.Join(dir, segmentName(0)+timeIndexSuffix), timeIndex, true)
		writeWhole(mem, filepath.Join(dir, segmentName(10)+logSuffix), nil, true)
		writeWhole(mem, filepath.Join(dir, recoveryPointFile), []byte("version: 0\nrecovery_point: 10\nclean_shutdown: true\n"), true)
		writeCleanMark(mem, "/data")
		m, err := NewManager("/data", Options{FS: mem}, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		l, err := m.OpenLog("f", 0, [16]byte{}, DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		want := splitBatches(t, seg)
		for i, b := range want {
			h, _ := parseHeader(b)
			got, err := l.Read(h.LastOffset(), 1, math.MaxInt64)
			if err != nil || !bytes.Equal(got, b) {
				t.Fatalf("read %d: %v", h.LastOffset(), err)
			}
			got, found, err := l.FindBatchByTimestamp(int64(100 * i))
			if err != nil {
				t.Fatalf("timestamp %d: %v", 100*i, err)
			}
			if found {
				if gh, err := parseHeader(got); err != nil || !batch.ValidCRC(got) || gh.MaxTimestamp < int64(100*i) {
					t.Fatalf("timestamp %d: bad batch", 100*i)
				}
			}
		}
		got, found, err := l.MaxTimestampBatch()
		if err != nil || !found || !batch.ValidCRC(got) {
			t.Fatalf("max timestamp batch: %v %v", found, err)
		}
	})
}

// FuzzCheckpoints feeds arbitrary bytes to the decoders of the small files.
func FuzzCheckpoints(f *testing.F) {
	f.Add([]byte("version: 0\nrecovery_point: 12\nclean_shutdown: true\n"))
	f.Add([]byte("version: 0\nlog_start_offset: 7\n"))
	f.Add(encodePartitionMetadata([16]byte{1, 2, 3}))
	f.Add([]byte("version: 1\n"))
	f.Add(encodeCleanMark([]string{"t-0", "u-12"}))
	f.Add(encodeTruncation(truncation{offset: 5, full: true}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := parseTruncation(b); err == nil {
			if again, err := parseTruncation(encodeTruncation(m)); err != nil || again != m || m.offset < 0 {
				t.Fatalf("truncating does not round-trip: %+v, %v", m, err)
			}
		}
		if rp, err := parseRecoveryPoint(b); err == nil {
			if rp.offset < 0 {
				t.Fatal("negative recovery point")
			}
			if again, err := parseRecoveryPoint(encodeRecoveryPoint(rp)); err != nil || again != rp {
				t.Fatal("recovery-point does not round-trip")
			}
		}
		if recover, err := parseCleanMark(b); err == nil {
			names := slices.Sorted(maps.Keys(recover))
			again, err := parseCleanMark(encodeCleanMark(names))
			if err != nil || !maps.Equal(again, recover) {
				t.Fatalf("clean-shutdown mark does not round-trip: %v", err)
			}
		}
		if off, err := parseLogStartOffset(b); err == nil && off < 0 {
			t.Fatal("negative log start offset")
		}
		if id, err := parsePartitionMetadata(b); err == nil {
			if again, err := parsePartitionMetadata(encodePartitionMetadata(id)); err != nil || again != id {
				t.Fatal("partition.metadata does not round-trip")
			}
		}
		// The same bytes as a checkpoint file must not stop a log from opening.
		mem := vfs.NewMem()
		mem.MkdirAll("/data/f-0", 0o755)
		for _, name := range []string{recoveryPointFile, logStartOffsetFile, truncateFile} {
			writeWhole(mem, filepath.Join("/data/f-0", name), b, true)
		}
		writeCleanMark(mem, "/data")
		m, err := NewManager("/data", Options{FS: mem}, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if _, err := m.OpenLog("f", 0, [16]byte{}, DefaultConfig()); err != nil {
			t.Fatal(err)
		}
	})
}

var _ = os.O_RDONLY
