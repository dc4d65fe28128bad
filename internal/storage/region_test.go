package storage

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// TestReadRegionMatchesRead checks that the file range ReadRegion returns
// holds exactly the bytes Read returns, at every offset and for several
// limits, across segments and with a high-watermark bound.
func TestReadRegionMatchesRead(t *testing.T) {
	m, err := NewManager(t.TempDir(), Options{FS: vfs.OS()}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	cfg := DefaultConfig()
	cfg.SegmentBytes = 3000
	cfg.IndexIntervalBytes = 200
	l, err := m.OpenLog("region", 0, [16]byte{1}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 60 {
		if _, err := l.Append(makeBatch(1+i%5, int64(1000+i), "r")); err != nil {
			t.Fatal(err)
		}
	}
	leo := l.LogEndOffset()
	for _, maxOffset := range []int64{leo, leo - 7} {
		for _, maxBytes := range []int32{0, 100, 500, 1500, 1 << 20} {
			for off := int64(0); off <= leo; off++ {
				want, werr := l.Read(off, maxBytes, maxOffset)
				r, rerr := l.ReadRegion(off, maxBytes, maxOffset)
				if (werr == nil) != (rerr == nil) {
					t.Fatalf("offset %d: Read error %v, ReadRegion error %v", off, werr, rerr)
				}
				got, err := r.Bytes()
				if err != nil {
					t.Fatal(err)
				}
				r.Release()
				if rerr == nil && len(want) > 0 {
					if end := lastOffsetOf(t, want) + 1; r.End != end {
						t.Fatalf("offset %d max %d bound %d: region ends at %d, the read at %d", off, maxBytes, maxOffset, r.End, end)
					}
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("offset %d max %d bound %d: region of %d bytes differs from the %d bytes Read returns", off, maxBytes, maxOffset, len(got), len(want))
				}
			}
		}
	}
	if _, err := l.ReadRegion(leo+1, 100, leo); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("above the log end: %v", err)
	}
}

func TestReadRegionNeedsOSFiles(t *testing.T) {
	e := newEnv(t)
	l := e.open(DefaultConfig())
	if _, err := l.Append(makeBatch(3, 1, "m")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.ReadRegion(0, 100, l.LogEndOffset()); !errors.Is(err, ErrNoRegion) {
		t.Fatalf("in-memory files: %v, want ErrNoRegion", err)
	}
}

func lastOffsetOf(t *testing.T, records []byte) int64 {
	t.Helper()
	bs := splitBatches(t, records)
	h, err := parseHeader(bs[len(bs)-1])
	if err != nil {
		t.Fatal(err)
	}
	return h.LastOffset()
}

// TestReadSpansSegments: a read goes on across segment boundaries up to
// its byte limit (whole batches only after the first), and a region spans
// at most maxRegionParts segments, saying where it stopped.
func TestReadSpansSegments(t *testing.T) {
	m, err := NewManager(t.TempDir(), Options{FS: vfs.OS()}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	cfg := DefaultConfig()
	cfg.SegmentBytes = 400
	l, err := m.OpenLog("spans", 0, [16]byte{1}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for i := range 300 {
		b := makeBatch(2, int64(i), "s")
		sizes = append(sizes, len(b))
		if _, err := l.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	if n := segmentCount(l); n < maxRegionParts+10 {
		t.Fatalf("%d segments", n)
	}
	leo := l.LogEndOffset()
	all, err := l.Read(0, 1<<30, leo)
	if err != nil || len(splitBatches(t, all)) != 300 {
		t.Fatalf("read of everything: %d bytes, %v", len(all), err)
	}
	// A limit between batches: exactly the batches that fit.
	limit := int32(sizes[0]*7 + sizes[0]/2)
	part, err := l.Read(10, limit, leo)
	if err != nil || len(splitBatches(t, part)) != 7 || baseOf(part) != 10 {
		t.Fatalf("read of %d bytes from 10: %d batches, %v", limit, len(splitBatches(t, part)), err)
	}
	r, err := l.ReadRegion(0, 1<<30, leo)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	if len(r.Parts) != maxRegionParts || r.End >= leo {
		t.Fatalf("region of %d parts ending at %d", len(r.Parts), r.End)
	}
	got, err := r.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, all[:len(got)]) || lastOffsetOf(t, got)+1 != r.End {
		t.Fatalf("region of %d bytes ending at %d is not the start of the read", len(got), r.End)
	}
}
